"""Every wire format through the whole pipeline against the real simulator, faults included."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django.utils import timezone

from soraweb.videos import services
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel
from soraweb.videos.pipeline import loop, recover
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
FORMATS = ["unified", "chat", "openai", "newapi"]


@pytest.fixture
def catalogue(simulator):
    """One provider per wire format, all pointing at the simulator, each serving sora-2."""
    seed = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    models = {}
    for fmt in FORMATS:
        provider = Provider.objects.create(
            name=f"Relay {fmt}",
            base_url=simulator.base_url,
            wire_format=fmt,
            poll_interval_seconds=1,
        )
        models[fmt] = VideoModel.objects.create(
            name="sora-2",
            display_name=f"Sora 2 ({fmt})",
            provider=provider,
            orientations=seed.orientations,
            sizes=["small"],
            durations=[10],
            price_per_second=seed.price_per_second,
        )
    return models


def submit(member, model: VideoModel, prompt: str) -> VideoJob:
    job = services.job_create(
        owner=member,
        video_model=model,
        prompt_text=prompt,
        orientation="portrait",
        size="small",
        # The openai format takes seconds "4", "8" or "12" (spec section 3); 10 is refused.
        duration=8 if model.provider.wire_format == "openai" else 10,
    )
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_takes_a_job_from_submit_to_an_archived_video(
    fmt, catalogue, simulator, member
):
    job = drive(submit(member, catalogue[fmt], f"a kite over the dunes via {fmt} format-happy"))
    assert job.state == JobState.SUCCEEDED, job.error_message
    with job.video.open("rb") as fh:
        assert fh.read() == simulator.video_bytes(job.remote_id)
    assert job.video_height > job.video_width
    assert job.poster
    assert simulator.creates_for_prompt(f"via {fmt} format-happy") == 1
    assert simulator.job(job.remote_id)["format"] == fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_moderation_refusal_fails_with_the_reason_in_every_format(fmt, catalogue, member):
    job = drive(submit(member, catalogue[fmt], f"a real person {fmt} [sim:moderation]"))
    assert job.state == JobState.FAILED
    assert "content moderation" in job.error_message


def test_a_dropped_chat_stream_parks_the_job_and_never_resends_it(catalogue, simulator, member):
    job = drive(submit(member, catalogue["chat"], "a stream that drops [sim:drop] chat-drop"))
    assert job.state == JobState.NEEDS_ATTENTION
    assert "may" in job.error_message.lower()
    recover.jobs_recover()
    assert simulator.creates_for_prompt("chat-drop") == 1


def test_chat_progress_is_recorded_while_the_stream_runs(catalogue, simulator, member):
    job = drive(submit(member, catalogue["chat"], "progress through the chat stream [sim:slow=3]"))
    assert job.state == JobState.SUCCEEDED
    # The submit step streamed the whole generation and went straight to archiving.
    assert list(job.events.values_list("to_state", flat=True))[:3] == [
        JobState.PENDING,
        JobState.SUBMITTING,
        JobState.ARCHIVING,
    ]
    assert job.raw_status


@pytest.mark.parametrize("fmt", ["unified", "openai", "newapi"])
def test_a_result_that_expired_before_we_saved_it_ends_expired(fmt, catalogue, simulator, member):
    job = submit(member, catalogue[fmt], f"expiring result {fmt} [sim:expire=1]")
    # Stop polling until the provider's link has expired, as if soraweb had been offline.
    VideoJob.objects.filter(pk=job.pk).update(
        next_poll_at=timezone.now() + timezone.timedelta(hours=1)
    )
    simulator.complete_now(job.remote_id)
    time.sleep(2.5)
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    job = drive(job)
    assert job.state == JobState.EXPIRED
    assert "expired" in job.error_message


@pytest.mark.parametrize(
    ("fmt", "marker"),
    [
        ("unified", "[sim:pollgarbage=2]"),
        ("openai", "[sim:502]"),
        ("openai", "[sim:pollhang]"),
        ("newapi", "[sim:poll429=2]"),
        ("newapi", "[sim:poll502]"),
        ("unified", "[sim:oddstatus]"),
    ],
)
def test_transient_faults_are_ridden_out(fmt, marker, catalogue, simulator, member, settings):
    settings.SORAWEB_PROVIDER_READ_TIMEOUT = 1.0
    job = submit(member, catalogue[fmt], f"rides out {fmt} {marker}")
    job = drive(job, timeout=60)
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.creates_for_prompt(f"rides out {fmt} {marker}") == 1


def test_a_create_answered_with_garbage_is_parked_not_resent(catalogue, simulator, member):
    job = submit(member, catalogue["unified"], "garbage answer [sim:garbage] garbage-create")
    assert job.state == JobState.NEEDS_ATTENTION
    assert "not JSON" in job.error_message or "may" in job.error_message
    loop.poll_pass()
    recover.jobs_recover()
    assert simulator.attempts_for_prompt("garbage-create") == 1


def test_switching_a_provider_to_another_format_is_an_admin_edit(
    client, catalogue, simulator, staff, member
):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    provider = catalogue["unified"].provider
    data = {
        "name": provider.name,
        "base_url": provider.base_url,
        "wire_format": "openai",
        "api_key": "",
        "extra_headers": "{}",
        "concurrency_limit": 8,
        "poll_interval_seconds": 1,
        "webhook_secret": "",
        "enabled": "on",
    }
    response = client.post(reverse("admin:videos_provider_change", args=[provider.pk]), data)
    assert response.status_code == 302
    job = drive(submit(member, catalogue["unified"], "after the switch admin-switch"))
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.job(job.remote_id)["format"] == "openai"
