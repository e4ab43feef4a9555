"""Staff settle a job that needs attention: they find it in the provider's task list (or ask
the provider about its id) and soraweb follows it to a saved video, with no second create."""

from __future__ import annotations

import pytest
from django.urls import reverse

from soraweb.videos import services
from soraweb.videos.causes import Cause
from soraweb.videos.models import JobState, VideoJob
from tests.videos.test_formats import catalogue, submit  # noqa: F401 - the fixture
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def lost_answer(job: VideoJob) -> VideoJob:
    """The create reached the provider but its answer never reached soraweb."""
    VideoJob.objects.filter(pk=job.pk).update(
        state=JobState.NEEDS_ATTENTION, remote_id="", remote_id_sha256=""
    )
    return VideoJob.objects.get(pk=job.pk)


def test_staff_find_the_job_in_the_providers_list_and_it_finishes(
    admin_client,
    member,
    catalogue,  # noqa: F811
    simulator,
):
    made = submit(member, catalogue["openai"], "a tide pool at noon adopt-1")
    task_id = made.remote_id
    job = lost_answer(made)
    page = admin_client.get(reverse("admin:videos_videojob_change", args=[job.pk]))
    html = page.content.decode()
    assert "a tide pool at noon adopt-1" in html and html.count(">This is the job</button>") >= 1
    candidates = services.tasks_for_adoption(job=job)
    assert candidates[0].task.remote_id == task_id and candidates[0].same_prompt
    assert candidates[0].taken_by is None and candidates[0].minutes_apart == 0
    answer = admin_client.post(
        reverse("admin:videos_videojob_fix", args=[job.pk, "adopt"]),
        {"remote_id": task_id},
        follow=True,
    )
    assert "follows the provider&#x27;s task" in answer.content.decode()
    job.refresh_from_db()
    assert (job.state, job.remote_id, job.cause) == (JobState.QUEUED, task_id, "")
    assert job.events.filter(cause=Cause.ADOPTED).count() == 1
    job = drive(job)
    assert job.state == JobState.SUCCEEDED, job.error_message
    with job.video.open("rb") as fh:
        assert fh.read() == simulator.video_bytes(task_id)
    assert simulator.creates_for_prompt("adopt-1") == 1  # found, never sent again


def test_one_task_cannot_become_two_jobs(admin_client, member, catalogue, simulator):  # noqa: F811
    first = lost_answer(submit(member, catalogue["openai"], "twin lanterns adopt-2"))
    task_id = simulator.jobs()[-1]["id"]
    assert services.job_adopt(job=first, by=member, remote_id=task_id)
    second = lost_answer(submit(member, catalogue["openai"], "twin lanterns adopt-2"))
    offered = {c.task.remote_id: c.taken_by for c in services.tasks_for_adoption(job=second)}
    assert offered[task_id] == first.pk
    ok, text = services.fix_run(name="adopt", job=second, by=member, choice=task_id)
    assert not ok and f"already job {first.pk}" in text
    assert VideoJob.objects.get(pk=second.pk).state == JobState.NEEDS_ATTENTION


def test_asking_the_provider_about_the_jobs_id(member, catalogue, simulator):  # noqa: F811
    made = submit(member, catalogue["openai"], "a kite in fog adopt-3")
    VideoJob.objects.filter(pk=made.pk).update(state=JobState.NEEDS_ATTENTION)
    known = VideoJob.objects.get(pk=made.pk)
    ok, text = services.job_check_provider(job=known, by=member)
    assert ok and "soraweb follows it again" in text
    assert VideoJob.objects.get(pk=made.pk).state == JobState.QUEUED

    VideoJob.objects.filter(pk=made.pk).update(
        state=JobState.NEEDS_ATTENTION, remote_id="video_never_made"
    )
    unknown = VideoJob.objects.get(pk=made.pk)
    ok, text = services.job_check_provider(job=unknown, by=member)
    assert not ok and "does not know this job, so it was not made" in text
    assert VideoJob.objects.get(pk=made.pk).state == JobState.NEEDS_ATTENTION


def test_formats_without_a_task_list_offer_no_search(admin_client, member, catalogue):  # noqa: F811
    job = lost_answer(submit(member, catalogue["unified"], "no list here adopt-4"))
    assert [f.name for f in services.fixes_available(job) if f.needs_choice] == []
    html = admin_client.get(reverse("admin:videos_videojob_change", args=[job.pk])).content
    assert b"This is the job" not in html
