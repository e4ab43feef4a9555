"""A provider that refuses connections: creates wait for it, cards say so, its return is noticed.

The provider is pointed at a port where nothing listens (connection refused, nothing sent), then
back at the real simulator.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from soraweb.videos import services
from soraweb.videos.models import JobEvent, JobState, Provider, VideoJob, VideoModel
from soraweb.videos.pipeline import common, loop, outage, submit
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _job(owner, prompt: str) -> VideoJob:
    model = VideoModel.objects.get(name="sora-2")
    return services.job_create(
        owner=owner,
        video_model=model,
        prompt_text=prompt,
        orientation="portrait",
        size=model.sizes[0],
        duration=model.durations[0],
    )


@pytest.fixture
def down(settings, sim_provider):
    """The provider's address refuses connections."""
    up = settings.SORAWEB_SIMULATOR_URL
    settings.SORAWEB_SIMULATOR_URL = f"http://127.0.0.1:{free_port()}/v1"
    yield sim_provider
    settings.SORAWEB_SIMULATOR_URL = up


def test_a_create_that_cannot_connect_waits_for_the_provider(down, member, client):
    job = _job(member, "outage unit wait")
    for _ in range(common.MAX_SUBMIT_ATTEMPTS + 2):  # more tries than a job normally gets
        VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
        submit.job_submit(job_id=job.pk)
        job.refresh_from_db()
        assert job.state == JobState.PENDING, job.error_message
    assert job.submit_attempts == 0  # tries that sent nothing do not count
    assert Provider.objects.get(pk=down.pk).unreachable_since is not None
    waits = JobEvent.objects.filter(job=job, message__startswith="Waiting for the provider")
    assert waits.count() >= common.MAX_SUBMIT_ATTEMPTS + 2  # (sync mode also submits on create)
    client.force_login(member)
    card = client.get(f"/jobs/{job.pk}/card/").content.decode()
    assert "Waiting for the provider (unreachable since" in card, card


def test_it_fails_with_the_reason_when_the_wait_is_over(down, member, settings):
    settings.SORAWEB_PROVIDER_OUTAGE_MINUTES = 1
    job = _job(member, "outage unit give up")
    submit.job_submit(job_id=job.pk)
    JobEvent.objects.filter(job=job).update(at=timezone.now() - timedelta(minutes=2))
    submit.job_submit(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "could not be reached for 1 minutes" in job.error_message
    assert "nothing was sent" in job.error_message


def test_the_first_answer_after_an_outage_makes_every_waiting_job_due(
    sim_provider, member, settings
):
    jobs = [_job(member, f"outage unit at provider {i}") for i in range(3)]
    for job in jobs:
        submit.job_submit(job_id=job.pk)
    far = timezone.now() + timedelta(seconds=110)  # backed off, as after failed checks
    VideoJob.objects.filter(pk__in=[j.pk for j in jobs]).update(next_poll_at=far)
    pending = _job(member, "outage unit pending")  # a create waiting for the provider
    VideoJob.objects.filter(pk=pending.pk).update(
        state=JobState.PENDING, remote_id="", next_poll_at=far
    )
    Provider.objects.filter(pk=sim_provider.pk).update(unreachable_since=timezone.now())

    assert outage.providers_probe_unreachable(every=0) == 1  # one job is checked early
    assert loop.poll_pass() == 1  # it answers: the provider is back
    assert Provider.objects.get(pk=sim_provider.pk).unreachable_since is None
    now = timezone.now()
    for job in [*jobs[1:], pending]:
        job.refresh_from_db()
        assert job.next_poll_at <= now, job
