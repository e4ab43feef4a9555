"""Deadlines, refresh debouncing, cancel, retry and archive retries, against the real simulator."""

from __future__ import annotations

import pytest
from django.utils import timezone

from soraweb.videos import services
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel
from soraweb.videos.pipeline import download, loop, poll, recover
from tests.factories import service_job
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_job_past_its_deadline_fails_with_the_last_status_seen(sim_provider, member):
    job = service_job(member, "never finishes [sim:stuck]")
    job.refresh_from_db()
    VideoJob.objects.filter(pk=job.pk).update(
        deadline_at=timezone.now() - timezone.timedelta(seconds=1), next_poll_at=timezone.now()
    )
    loop.poll_pass()
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "Timed out at the provider" in job.error_message
    assert "last status seen: " in job.error_message and job.raw_status in job.error_message


def test_a_watched_card_asks_for_a_refresh_at_most_every_two_seconds(sim_provider, member):
    job = service_job(member, "watched closely [sim:stuck]")
    job.refresh_from_db()
    later = timezone.now() + timezone.timedelta(seconds=30)
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=later)
    assert poll.job_request_refresh(job=job) is True
    assert poll.job_request_refresh(job=job) is False  # debounced in the database
    job.refresh_from_db()
    assert job.next_poll_at <= timezone.now()
    VideoJob.objects.filter(pk=job.pk).update(
        refresh_requested_at=timezone.now() - timezone.timedelta(seconds=3)
    )
    assert poll.job_request_refresh(job=job) is True


def test_cancel_stops_the_remote_job_where_the_format_can(simulator, member):
    seed = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    provider = Provider.objects.create(
        name="OpenAI-style", base_url=simulator.base_url, wire_format="openai"
    )
    model = VideoModel.objects.create(
        name="sora-2",
        display_name="Sora 2 (openai)",
        provider=provider,
        orientations=seed.orientations,
        sizes=["small"],
        durations=[10],
    )
    job = services.job_create(
        owner=member,
        video_model=model,
        prompt_text="cancel me [sim:stuck]",
        orientation="portrait",
        size="small",
        duration=8,  # openai seconds: "4", "8" or "12"
    )
    job.refresh_from_db()
    assert services.job_cancel(job=job, by=member) is True
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert simulator.job(job.remote_id)["state"] == "deleted"
    assert services.job_cancel(job=job, by=member) is False  # nothing left to cancel


def test_cancel_without_remote_cancel_just_stops_tracking(sim_provider, simulator, member):
    job = service_job(member, "unified cannot cancel remotely [sim:stuck]")
    job.refresh_from_db()
    assert services.job_cancel(job=job, by=member)
    polls_before = simulator.requests_to("GET", "/v1/video/query")
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    loop.poll_pass()
    assert simulator.requests_to("GET", "/v1/video/query") == polls_before  # no longer tracked


def test_retry_makes_a_new_linked_job_and_leaves_the_original_alone(
    sim_provider, simulator, member
):
    failed = drive(service_job(member, "first try fails [sim:moderation] retry-link"))
    assert failed.state == JobState.FAILED
    again = services.job_retry(job=failed, by=member, idempotency_key="retry-once")
    same = services.job_retry(job=failed, by=member, idempotency_key="retry-once")
    assert again.pk == same.pk != failed.pk
    assert again.retry_of_id == failed.pk
    failed.refresh_from_db()
    assert failed.state == JobState.FAILED
    assert simulator.creates_for_prompt("retry-link") == 2  # the original and exactly one retry


def test_archive_is_retried_after_a_transient_failure(sim_provider, simulator, member, monkeypatch):
    real = download.fetch_and_verify
    calls = {"n": 0}

    def flaky(client, job, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise download.ArchiveError("the download stopped after 10 of 900 bytes")
        return real(client, job, **kwargs)

    monkeypatch.setattr(download, "fetch_and_verify", flaky)
    job = service_job(member, "flaky download archive-retry")
    job.refresh_from_db()
    simulator.complete_now(job.remote_id)
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    loop.poll_pass()
    job.refresh_from_db()
    assert job.state == JobState.ARCHIVING and job.archive_attempts == 1
    assert job.events.filter(message__startswith="Saving failed, will try again").exists()
    VideoJob.objects.filter(pk=job.pk).update(
        lease_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    recover.jobs_recover()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.archive_attempts == 2
    with job.video.open("rb") as fh:
        assert fh.read() == simulator.video_bytes(job.remote_id)


def test_a_video_over_the_size_cap_fails_at_once_with_a_clear_reason(
    sim_provider, simulator, member, settings
):
    settings.SORAWEB_MAX_VIDEO_BYTES = 10_000
    job = drive(service_job(member, "too big to keep"))
    assert job.state == JobState.FAILED
    assert "limit" in job.error_message
    assert job.archive_attempts == 1  # not retried: a larger file will not get smaller
