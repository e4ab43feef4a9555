"""The job pipeline against the real simulator over HTTP: submit, poll, archive, faults."""

from __future__ import annotations

import hashlib
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from soraweb.videos import services, tasks
from soraweb.videos.models import InvalidTransition, JobState, VideoJob, VideoModel

# Real transactions (work is handed over on commit); the seeded catalogue is restored after each test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def make_job(owner, prompt: str, model: str = "sora-2", **kwargs) -> VideoJob:
    video_model = VideoModel.objects.get(name=model)
    params = {
        "orientation": "portrait",
        "size": video_model.sizes[0],
        "duration": video_model.durations[0],
    }
    params.update(kwargs)
    return services.job_create(owner=owner, video_model=video_model, prompt_text=prompt, **params)


def drive(job: VideoJob, timeout: float = 40.0) -> VideoJob:
    """Run poll passes (as the worker's loop would) until the job settles."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not job.is_active:
            return job
        VideoJob.objects.filter(pk=job.pk, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
            next_poll_at=timezone.now()
        )
        tasks.poll_pass()
        services.jobs_recover()
        time.sleep(0.3)
    job.refresh_from_db()
    raise AssertionError(f"job still {job.state} after {timeout} s: {job.error_message}")


def test_it_takes_a_job_from_submit_to_an_archived_video(sim_provider, simulator, member):
    job = make_job(member, "a lighthouse in a storm, pipeline happy path")
    job.refresh_from_db()
    assert job.remote_id.startswith("sora-2:task_")  # the colon survives the round trip
    job = drive(job)
    assert job.state == JobState.SUCCEEDED, job.error_message
    served = simulator.video_bytes(job.remote_id)
    with job.video.open("rb") as fh:
        stored = fh.read()
    assert stored == served
    assert job.video_sha256 == hashlib.sha256(served).hexdigest()
    assert job.video_bytes == len(served)
    assert job.video_height > job.video_width  # portrait
    assert job.video_seconds == pytest.approx(10, abs=0.6)
    with job.poster.open("rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff"  # a JPEG
    states = list(job.events.values_list("to_state", flat=True))
    assert states[0] == JobState.PENDING and states[-1] == JobState.SUCCEEDED
    assert JobState.ARCHIVING in states
    assert simulator.creates_for_prompt("pipeline happy path") == 1


def test_it_shows_the_moderation_reason_in_plain_words(sim_provider, member):
    job = drive(make_job(member, "a famous actor waving [sim:moderation]"))
    assert job.state == JobState.FAILED
    assert "moderation" in job.error_message.lower()


def test_it_parks_a_create_with_unknown_outcome_and_never_sends_it_again(
    sim_provider, simulator, member, settings
):
    settings.SORAWEB_PROVIDER_READ_TIMEOUT = 1.0
    job = make_job(member, "a slow relay swallows the answer [sim:hang] unknown-outcome")
    job.refresh_from_db()
    assert job.state == JobState.NEEDS_ATTENTION
    assert "may or may not" in job.error_message
    services.jobs_recover()
    tasks.poll_pass()
    job.refresh_from_db()
    assert job.state == JobState.NEEDS_ATTENTION
    assert simulator.creates_for_prompt("unknown-outcome") == 1


def test_it_retries_a_create_the_provider_turned_away_with_429(sim_provider, simulator, member):
    job = make_job(member, "a rate limited relay [sim:429] retry-after-case")
    job.refresh_from_db()
    assert job.state == JobState.PENDING  # turned away: nothing was created, so it may go again
    assert job.next_poll_at > timezone.now()
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    job = drive(job)
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.creates_for_prompt("retry-after-case") == 1


def test_it_enforces_the_catalogue_rules_in_the_service(sim_provider, member):
    with pytest.raises(ValidationError) as exc:
        make_job(member, "pro cannot be small", model="sora-2-pro", size="small", duration=15)
    assert "size" in exc.value.message_dict
    assert VideoJob.objects.count() == 0


def test_a_repeated_idempotency_key_creates_exactly_one_job(sim_provider, simulator, member):
    first = make_job(member, "double click idempotent-case", idempotency_key="key-123")
    second = make_job(member, "double click idempotent-case", idempotency_key="key-123")
    assert first.pk == second.pk
    assert VideoJob.objects.count() == 1
    assert simulator.creates_for_prompt("idempotent-case") == 1


def test_the_state_machine_refuses_an_unlisted_transition_and_a_lost_race(sim_provider, member):
    job = make_job(member, "state machine [sim:slow]")
    job.refresh_from_db()
    with pytest.raises(InvalidTransition):
        job.transition(JobState.SUCCEEDED)
    stale = VideoJob.objects.get(pk=job.pk)
    assert job.transition(JobState.CANCELLED)
    # The stale copy still believes the old state: its claim must change nothing.
    assert stale.transition(JobState.ARCHIVING) is False
    assert VideoJob.objects.get(pk=job.pk).state == JobState.CANCELLED


def test_recovery_parks_an_interrupted_create_and_resumes_an_interrupted_archive(
    sim_provider, simulator, member
):
    done = drive(make_job(member, "archive twice recovery-case"))
    assert done.state == JobState.SUCCEEDED
    interrupted = make_job(member, "interrupted create [sim:slow]")
    stale = timezone.now() - timezone.timedelta(seconds=1)
    # A worker died mid-create on one job, and mid-archive on the other.
    VideoJob.objects.filter(pk=interrupted.pk).update(
        state=JobState.SUBMITTING, remote_id="", lease_until=stale
    )
    VideoJob.objects.filter(pk=done.pk).update(state=JobState.ARCHIVING, lease_until=stale)
    result = services.jobs_recover()
    assert result["interrupted"] == [interrupted.pk]
    assert result["rearchived"] == [done.pk]
    interrupted.refresh_from_db()
    done.refresh_from_db()
    assert interrupted.state == JobState.NEEDS_ATTENTION
    assert "may or may not have been started" in interrupted.error_message
    assert done.state == JobState.SUCCEEDED
    assert simulator.creates_for_prompt("recovery-case") == 1
