"""Fixing jobs from the admin: each action, the buttons on a job's page, and test connection."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from soraweb.ops.models import LedgerEntry
from soraweb.videos import services
from soraweb.videos.models import JobEvent, JobState, Provider, VideoJob, VideoModel
from soraweb.videos.pipeline import poll
from tests.factories import ago, job_row, seeded_row

pipeline = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def admin_client(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    return client


def fix(client, job, name, **data):
    return client.post(
        reverse("admin:videos_videojob_fix", args=[job.pk, name]), data, follow=True
    ).content.decode()


def submit(owner, prompt: str) -> VideoJob:
    job = services.job_create(
        owner=owner,
        video_model=VideoModel.objects.get(name="sora-2"),
        prompt_text=prompt,
        orientation="landscape",
        size="small",
        duration=10,
    )
    job.refresh_from_db()
    return job


@pipeline
def test_refresh_now_on_the_job_page_moves_a_job_on_in_two_clicks(
    admin_client, sim_provider, member
):
    job = submit(member, "a heron fishing at dawn, refresh case")
    assert job.state in (JobState.QUEUED, JobState.RUNNING)
    page = admin_client.get(reverse("admin:videos_videojob_change", args=[job.pk])).content.decode()
    assert "Fix this job" in page and ">Refresh now</button>" in page  # click one: the job page
    time.sleep(2.5)  # the simulator finishes the video meanwhile
    html = fix(admin_client, job, "refresh")  # click two
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert f"Job {job.pk}: refreshed; it is now “Ready” (100%)." in html


@pipeline
def test_refresh_now_hands_a_job_waiting_to_start_to_the_worker(admin_client, sim_provider, member):
    job = job_row(
        member,
        state=JobState.PENDING,
        text="waiting, refresh case",
        created_at=ago(minutes=5),
        cost="1.00",
        events=True,
    )
    fix(admin_client, job, "refresh")
    job.refresh_from_db()
    assert job.state in (JobState.QUEUED, JobState.RUNNING) and job.remote_id


@pytest.mark.django_db
def test_cancel_from_the_list_cancels_every_selected_job(admin_client, member):
    jobs = [
        seeded_row(
            member,
            state=JobState.PENDING,
            created_at=ago(minutes=5),
        )
        for _ in range(2)
    ]
    done = seeded_row(
        member,
        state=JobState.SUCCEEDED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    response = admin_client.post(
        reverse("admin:videos_videojob_changelist"),
        {"action": "cancel_jobs", "_selected_action": [j.pk for j in [*jobs, done]]},
        follow=True,
    )
    html = response.content.decode()
    assert [VideoJob.objects.get(pk=j.pk).state for j in jobs] == [JobState.CANCELLED] * 2
    assert f"Job {done.pk} has already finished, so it cannot be cancelled." in html
    assert JobEvent.objects.filter(job=jobs[0], message="Cancelled by sam").exists()


@pytest.mark.django_db
def test_retry_as_a_new_job_starts_one_for_the_same_person(admin_client, member):
    failed = job_row(
        member,
        state=JobState.NEEDS_ATTENTION,
        text="retry me",
        created_at=ago(minutes=5),
        seconds=60,
        cost="1.00",
        events=True,
    )
    html = fix(admin_client, failed, "retry")
    new = VideoJob.objects.exclude(pk=failed.pk).get()
    assert (new.owner, new.retry_of, new.prompt.text) == (member, failed, "retry me")
    assert LedgerEntry.objects.get(job=new).user == member  # counts against her budget
    assert f"Job {failed.pk}: started again as job {new.pk} for mia." in html


@pipeline
def test_save_again_recovers_a_video_that_could_not_be_stored(
    admin_client, sim_provider, member, settings
):
    settings.SORAWEB_MAX_VIDEO_BYTES = 1000  # the "disk" refuses the file
    job = submit(member, "a glacier calving, rearchive case")
    time.sleep(2.5)
    poll.job_poll_now(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "could not be saved" in job.error_message
    page = admin_client.get(reverse("admin:videos_videojob_change", args=[job.pk])).content.decode()
    assert ">Save the video again</button>" in page
    settings.SORAWEB_MAX_VIDEO_BYTES = 1024 * 1024 * 1024  # space again
    html = fix(admin_client, job, "rearchive")
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.video and job.error_message == ""
    assert "saving the video again; it is now “Ready”." in html
    assert list(job.events.values_list("to_state", flat=True))[-2:] == [
        JobState.ARCHIVING,
        JobState.SUCCEEDED,
    ]


@pytest.mark.django_db
def test_save_again_is_refused_for_a_job_the_provider_never_finished(admin_client, member):
    job = seeded_row(
        member,
        state=JobState.FAILED,
        error_message="moderation",
        created_at=ago(minutes=5),
        seconds=60,
    )
    html = fix(admin_client, job, "rearchive")
    assert "can be saved again" in html
    assert VideoJob.objects.get(pk=job.pk).state == JobState.FAILED


@pytest.mark.django_db
def test_mark_failed_needs_a_reason_and_shows_it_to_the_owner(admin_client, member):
    job = seeded_row(
        member,
        state=JobState.NEEDS_ATTENTION,
        created_at=ago(minutes=5),
        seconds=60,
    )
    html = fix(admin_client, job, "mark_failed", reason="   ")
    assert "Say why, so the person who made it knows what happened." in html
    assert VideoJob.objects.get(pk=job.pk).state == JobState.NEEDS_ATTENTION
    fix(admin_client, job, "mark_failed", reason="The relay lost this job; it was not billed.")
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.error_message == "The relay lost this job; it was not billed."
    assert job.events.last().message == (
        "Marked failed by sam: The relay lost this job; it was not billed."
    )


@pytest.mark.django_db
def test_mark_failed_from_the_list_asks_for_the_reason_first(admin_client, member):
    jobs = [
        seeded_row(
            member,
            state=JobState.RUNNING,
            created_at=ago(minutes=5),
        )
        for _ in range(2)
    ]
    url = reverse("admin:videos_videojob_changelist")
    selection = {"action": "mark_failed", "_selected_action": [j.pk for j in jobs]}
    page = admin_client.post(url, selection).content.decode()
    assert "Mark jobs failed" in page and 'name="reason"' in page
    assert VideoJob.objects.filter(state=JobState.FAILED).count() == 0
    admin_client.post(url, {**selection, "reason": "Provider outage"}, follow=True)
    assert set(VideoJob.objects.values_list("state", "error_message")) == {
        (JobState.FAILED, "Provider outage")
    }


@pytest.mark.django_db
def test_delete_files_removes_the_video_and_poster_but_keeps_the_job(
    admin_client, member, django_capture_on_commit_callbacks
):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    job = seeded_row(
        member,
        state=JobState.SUCCEEDED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    video = default_storage.save(f"videos/test/job-{job.pk}.mp4", ContentFile(b"mp4"))
    poster = default_storage.save(f"videos/test/job-{job.pk}.jpg", ContentFile(b"jpg"))
    VideoJob.objects.filter(pk=job.pk).update(video=video, poster=poster)
    with django_capture_on_commit_callbacks(execute=True):
        html = fix(admin_client, job, "delete_files")
    job.refresh_from_db()
    assert not job.video and not job.poster and job.state == JobState.SUCCEEDED
    assert not default_storage.exists(video) and not default_storage.exists(poster)
    assert f"Job {job.pk}: deleted the video and poster." in html
    assert job.events.last().message == "Video files deleted by sam"


@pytest.mark.django_db
def test_a_stuck_job_page_says_why_and_offers_only_the_fixes_that_apply(admin_client, member):
    job = seeded_row(
        member,
        state=JobState.NEEDS_ATTENTION,
        error_message="Create outcome unknown",
        created_at=ago(minutes=5),
        seconds=60,
    )
    html = admin_client.get(reverse("admin:videos_videojob_change", args=[job.pk])).content.decode()
    assert "soraweb cannot tell whether the provider started it." in html
    for label in ["Cancel", "Retry as a new job", "Mark failed"]:
        assert f">{label}</button>" in html
    for label in ["Refresh now", "Save the video again", "Delete files"]:
        assert f">{label}</button>" not in html
    listing = admin_client.get(reverse("admin:videos_videojob_changelist"), {"stuck": "yes"})
    assert f"/admin/videos/videojob/{job.pk}/change/" in listing.content.decode()


@pytest.mark.django_db
def test_fixes_need_the_change_permission(client, staff, member):
    job = seeded_row(
        member,
        state=JobState.PENDING,
        created_at=ago(minutes=5),
    )
    client.force_login(staff)  # staff, but without any admin permission
    url = reverse("admin:videos_videojob_fix", args=[job.pk, "cancel"])
    assert client.post(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="change_videojob"))
    client.post(url)
    assert VideoJob.objects.get(pk=job.pk).state == JobState.CANCELLED
    client.force_login(member)
    assert client.post(url).status_code == 302  # to the admin's login page


# --- Test connection -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_test_connection_reports_latency_and_the_result_in_plain_words(
    admin_client, simulator, monkeypatch
):
    provider = Provider.objects.create(
        name="Relay", base_url=simulator.base_url, api_key="sk-right-key-123456"
    )
    monkeypatch.setattr(simulator, "api_key", "sk-right-key-123456")
    page = admin_client.get(reverse("admin:videos_provider_change", args=[provider.pk]))
    assert ">Test connection</button>" in page.content.decode()
    url = reverse("admin:videos_provider_test_connection", args=[provider.pk])
    html = admin_client.post(url, follow=True).content.decode()
    assert "Relay: Connected in " in html
    assert "ms. The provider accepted the API key and offers" in html

    Provider.objects.filter(pk=provider.pk).update(api_key="sk-wrong-key-654321")
    html = admin_client.post(url, follow=True).content.decode()
    assert "but it refused the API key" in html and "Invalid API key" in html
    assert "sk-wrong-key-654321" not in html and "sk-right-key-123456" not in html


@pytest.mark.django_db
def test_test_connection_says_when_the_provider_cannot_be_reached(admin_client):
    from tests.conftest import free_port

    provider = Provider.objects.create(
        name="Gone", base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-secret-999999"
    )
    response = admin_client.post(
        reverse("admin:videos_provider_changelist"),
        {"action": "test_connection", "_selected_action": [provider.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Gone: Could not reach the provider (after " in html
    assert "Could not connect to the provider at 127.0.0.1" in html
    assert "sk-secret-999999" not in html
