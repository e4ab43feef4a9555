"""Disk full while saving a video: a failure with a name and a limit, not an endless loop.

Real parts: the media directory is a real tmpfs far too small for the video (mounted for this
test; it needs root), the simulator serves the video over HTTP. Saving fails with "storage
full" a limited number of times, then the job fails with a plain sentence; after space is
freed (the tmpfs grown), "Save the video again" fetches it anew and stores it byte for byte.
Staff get one notice about the full storage, and /ops/ (reading the real tmpfs) warns that the
video being saved will not fit.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from soraweb.ops.models import Notice
from soraweb.videos import services
from soraweb.videos.models import JobEvent, JobState, VideoJob, VideoModel
from soraweb.videos.pipeline import archive, common, loop

pytestmark = [pytest.mark.scale, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(
            f"this test mounts a small tmpfs and needs root: mount {' '.join(args)} failed: "
            f"{proc.stderr.strip()}",
            pytrace=False,
        )


@pytest.fixture
def small_media(settings) -> Iterator[Path]:
    root = Path(f"/tmp/soraweb-faults-tmpfs-{uuid.uuid4().hex[:8]}")
    root.mkdir()
    _mount("-t", "tmpfs", "-o", "size=32k", "tmpfs", str(root))
    settings.MEDIA_ROOT = str(root)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
        root.rmdir()


def test_disk_full_while_saving_is_named_limited_and_recoverable(
    small_media, sim_provider, simulator, member, staff, client
):
    model = VideoModel.objects.get(name="sora-2")
    job = services.job_create(
        owner=member,
        video_model=model,
        prompt_text="disk full while saving",
        orientation="portrait",
        size=model.sizes[0],
        duration=model.durations[0],
    )
    # Poll until the provider has finished; the archive then runs (inline in sync mode).
    for _ in range(100):
        job.refresh_from_db()
        if job.state not in (JobState.QUEUED, JobState.RUNNING):
            break
        VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
        loop.poll_pass()
        time.sleep(0.2)
    # While it is being saved, /ops/ measures the real tmpfs: the video will not fit.
    job.refresh_from_db()
    assert job.state == JobState.ARCHIVING, (job.state, job.error_message)
    client.force_login(staff)
    page = client.get(reverse("ops:dashboard")).content.decode()
    assert 'id="storage-warning"' in page, page
    assert "Space is running out where videos are saved" in page
    for _ in range(common.MAX_ARCHIVE_ATTEMPTS + 3):
        job.refresh_from_db()
        if job.state != JobState.ARCHIVING:
            break
        VideoJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        archive.job_archive(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED, (job.state, job.error_message)
    assert job.archive_attempts == common.MAX_ARCHIVE_ATTEMPTS
    assert "storage full" in job.error_message, job.error_message
    assert "Errno" not in job.error_message and str(small_media) not in job.error_message
    retries = JobEvent.objects.filter(job=job, message__startswith="Saving failed")
    assert retries.count() == common.MAX_ARCHIVE_ATTEMPTS - 1
    assert all("storage full" in e.message for e in retries)
    assert not list(small_media.rglob("*.part")), "a partial download was left behind"
    # Staff heard of it once, not once per try; the owner has the failure's own notice.
    told = Notice.objects.filter(kind="storage_full")
    assert list(told.values_list("user", "job")) == [(staff.pk, job.pk)]
    assert Notice.objects.filter(user=member, job=job, kind=JobState.FAILED).exists()

    # Space is freed; staff save the video again: fetched anew from the provider, stored whole.
    _mount("-o", "remount,size=64m", str(small_media))
    assert archive.job_rearchive(job=job, by=staff)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, (job.state, job.error_message)
    stored = (small_media / job.video.name).read_bytes()
    assert stored == simulator.video_bytes(job.remote_id)
