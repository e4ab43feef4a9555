"""Staff settle a job whose create answer was lost, in the admin, in a real browser: the
provider's task list offers the job's task, one click follows it, and the video is saved."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import login, manage, screenshot

pytestmark = pytest.mark.browser

SETUP = """
from django.contrib.auth.models import User
from soraweb.providers import CreateRequest, make_client
from soraweb.videos.causes import Cause
from soraweb.videos.models import Prompt, Provider, VideoJob, VideoModel
provider = Provider.objects.create(
    name="OpenAI relay", base_url="http://127.0.0.1:{port}/v1", wire_format="openai"
)
model = VideoModel.objects.create(
    name="sora-2", display_name="Sora 2 (OpenAI relay)", provider=provider,
    orientations=["portrait", "landscape"], sizes=["small"], durations=[8],
    price_per_second={{"small": "0.10"}},
)
prompt = "a harbour crane at dawn, adopt-e2e"
made = make_client(provider.config()).create(CreateRequest(
    model="sora-2", prompt=prompt, orientation="portrait", size="small", duration=8,
))
admin = User.objects.get(username="admin")
job = VideoJob.objects.create(
    owner=admin, prompt=Prompt.objects.create(text=prompt, author=admin), provider=provider,
    video_model=model, model_name="sora-2", orientation="portrait", size="small", duration=8,
    state="needs_attention", cause=Cause.OUTCOME_UNKNOWN,
    cause_facts={{"reason": "The connection dropped before the provider answered."}},
    error_message="The connection dropped before the provider answered.",
)
print(job.pk, made.remote_id)
"""


def test_staff_adopt_the_providers_task_and_the_video_is_saved(page, stack):
    out = manage(stack, "shell", "-c", SETUP.format(port=stack.ports[1])).split()
    job_id, task_id = out[-2], out[-1]
    login(page, stack)
    page.goto(stack.url(f"/admin/videos/videojob/{job_id}/change/"))
    row = page.locator("table.fix-tasks tr", has_text="adopt-e2e")
    row.wait_for()
    assert "Same prompt" in row.inner_text() and task_id[:20] in row.inner_text()
    screenshot(page, "admin-needs-attention-tasks-desktop")
    row.get_by_role("button", name="This is the job").click()
    page.locator(".messagelist", has_text="follows the provider").wait_for()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the worker polls it, then saves it
        if "<video" in page.request.get(stack.url(f"/jobs/{job_id}/")).text():
            break
        time.sleep(1)
    page.goto(stack.url(f"/jobs/{job_id}/"))
    assert page.locator("video").count() == 1, page.content()[:2000]
    history = " ".join(page.locator(".event-message").all_inner_texts())
    assert "found it at the provider as" in history
    screenshot(page, "needs-attention-adopted-ready-desktop")
