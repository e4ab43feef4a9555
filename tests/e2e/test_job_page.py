"""A job that did not make a video, on its own page and on a phone: its error once, one Delete,
and the risky retry's confirmation and button whole, not clipped by the card."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, manage, screenshot

pytestmark = pytest.mark.browser

SETUP = """
from django.contrib.auth.models import User
from soraweb.videos.causes import Cause
from soraweb.videos.models import Prompt, Provider, VideoJob, VideoModel
admin = User.objects.get(username="admin")
model = VideoModel.objects.filter(enabled=True).select_related("provider").first()
made = []
for state, cause, reason, text in [
    ("failed", Cause.PROVIDER_FAILED, "the upstream render worker crashed", "a glass city"),
    ("needs_attention", Cause.OUTCOME_UNKNOWN, "The connection dropped.", "a quiet canal"),
]:
    job = VideoJob.objects.create(
        owner=admin, prompt=Prompt.objects.create(text=text, author=admin), provider=model.provider,
        video_model=model, model_name=model.name, orientation="landscape", size="small",
        duration=model.durations[0], state=state, cause=cause, cause_facts={"reason": reason},
        error_message=reason,
    )
    made.append(str(job.pk))
print(" ".join(made))
"""


def _seed(stack) -> tuple[str, str]:
    failed, unknown = manage(stack, "shell", "-c", SETUP).split()[-2:]
    return failed, unknown


def test_a_failed_job_page_shows_its_error_once_and_one_delete(page, stack):
    failed, _ = _seed(stack)
    login(page, stack)
    page.goto(stack.url(f"/jobs/{failed}/"))
    main = page.locator("main")
    main.get_by_text("the upstream render worker crashed").first.wait_for()
    assert main.get_by_text("The provider could not make this video.").count() == 1
    assert main.get_by_text("the upstream render worker crashed").count() == 1
    assert main.get_by_role("button", name="Delete").count() == 1
    assert main.get_by_role("button", name="Try again").count() == 1
    # The explanation comes straight after the card, before the page's own buttons.
    order = page.evaluate(
        """() => [...document.querySelectorAll('.detail-main > *')].map(el => el.className)"""
    )
    assert order.index("error-box") < order.index("detail-actions"), order
    screenshot(page, "job-page-failed-desktop")


def test_the_risky_retry_is_whole_on_a_phone(phone, stack):
    _, unknown = _seed(stack)
    page = phone
    login(page, stack)
    for where in (f"/jobs/{unknown}/", "/"):
        page.goto(stack.url(where))
        card = page.locator(f"#job-{unknown}")
        button = card.get_by_role("button", name="Try again anyway")
        button.scroll_into_view_if_needed()
        box, frame = button.bounding_box(), card.locator(".job-actions").bounding_box()
        assert box and frame and box["width"] > 40, box
        # Inside the actions' own box (which clips what overflows it), not cut off at its edge.
        assert box["x"] >= frame["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        # A button that looks like one: its border is drawn, not transparent text.
        border = button.evaluate("el => getComputedStyle(el).borderTopColor")
        assert border not in ("transparent", "rgba(0, 0, 0, 0)"), border
        label = card.get_by_text("I understand it may be billed twice")
        assert label.is_visible()
        # Unticked, the browser refuses the form; ticked, it goes.
        assert card.locator("input[name=accept_double_billing]").evaluate("el => el.required")
    screenshot(page, "needs-attention-card-phone")
