"""With a known API key configured, drive real jobs (some failing) and look for the key everywhere."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from soraweb.simulator.server import Simulator
from soraweb.videos import services
from soraweb.videos.models import JobEvent, Provider, VideoJob, VideoModel
from tests.security.urls import project_routes
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
KEY = "sk-live-KNOWNSECRET-4242"
STORED_KEY = "sk-stored-OTHERSECRET-7777"


@pytest.fixture
def keyed_sim():
    sim = Simulator(api_key=KEY, job_seconds=1.5).start()
    yield sim
    sim.stop()


def test_the_api_key_appears_in_no_page_log_or_stored_message(
    keyed_sim, settings, staff, member, caplog
):
    caplog.set_level(logging.DEBUG)
    settings.SORAWEB_PROVIDER_BASE_URL = keyed_sim.base_url
    settings.SORAWEB_PROVIDER_API_KEY = KEY
    settings.SORAWEB_PROVIDER_READ_TIMEOUT = 1.0
    env_model = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    # A second provider whose stored key is wrong: the relay answers 401 and the job fails.
    wrong = Provider.objects.create(
        name="Wrong key relay", base_url=keyed_sim.base_url, api_key=STORED_KEY
    )
    wrong_model = VideoModel.objects.create(
        name="sora-2",
        display_name="Sora 2 (wrong key)",
        provider=wrong,
        orientations=["portrait"],
        sizes=["small"],
        durations=[10],
    )
    prompts = [
        (env_model, "a calm lake at dawn"),
        (env_model, f"please echo {KEY} back [sim:moderation]"),  # even a prompt that names the key
        (env_model, "a hanging relay [sim:hang]"),
        (env_model, "broken answers [sim:pollgarbage] [sim:poll502]"),
        (wrong_model, "refused for a bad key"),
    ]
    jobs = [
        drive(
            services.job_create(
                owner=member,
                video_model=m,
                prompt_text=p,
                orientation="portrait",
                size="small",
                duration=10,
            ),
            timeout=40,
        )
        for m, p in prompts
    ]
    states = [j.state for j in jobs]
    assert states[0] == "succeeded" and states[1] == "failed" and states[4] == "failed", states
    assert "401" in jobs[4].error_message or "key" in jobs[4].error_message.lower()

    staff.is_superuser = True
    staff.save()
    pages = []
    for user in (staff, member):
        client = Client()
        client.force_login(user)
        for job in jobs:
            for route in project_routes(number=job.pk):
                if route.name in ("logout",):
                    continue
                response = client.get(route.path)
                if response.status_code == 200 and not response.streaming:
                    pages.append((route.path, response.content.decode(errors="replace")))
        for path in (
            f"/admin/videos/provider/{wrong.pk}/change/",
            "/admin/videos/provider/",
            "/admin/videos/jobevent/",
        ):
            response = client.get(path)
            if response.status_code == 200:
                pages.append((path, response.content.decode(errors="replace")))
    assert len(pages) > 30
    for path, html in pages:
        # The prompt that names the key is the person's own text; everything else must not carry it.
        html = html.replace(f"please echo {KEY} back", "")
        assert KEY not in html, path
        assert STORED_KEY not in html, path
    stored = [j.error_message for j in VideoJob.objects.all()] + [
        f"{e.message} {e.data}" for e in JobEvent.objects.all()
    ]
    for text in stored:
        assert KEY not in text.replace(f"please echo {KEY} back", "") and STORED_KEY not in text
    logged = caplog.text.replace(f"please echo {KEY} back", "")
    assert logged  # logging was captured at all
    assert KEY not in logged and STORED_KEY not in logged
