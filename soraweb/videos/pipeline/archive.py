"""Saving a finished video into our storage (and saving it again on request)."""

from __future__ import annotations

import errno
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.providers.base import ProviderError
from soraweb.videos.causes import Cause
from soraweb.videos.models import SETTLED_STATES, TRANSITIONS, JobState, VideoJob
from soraweb.videos.pipeline import download, queue
from soraweb.videos.pipeline.common import MAX_ARCHIVE_ATTEMPTS, backoff_seconds, provider_client
from soraweb.videos.signals import storage_failed

logger = logging.getLogger(__name__)


def job_archive(*, job_id: int) -> None:
    """Copy a finished video into our storage, verify it, make a poster, mark the job ready."""
    now = timezone.now()
    claimed = (
        VideoJob.objects.filter(pk=job_id, state=JobState.ARCHIVING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_until=now + timedelta(seconds=settings.SORAWEB_ARCHIVE_LEASE_SECONDS),
            archive_attempts=F("archive_attempts") + 1,
            next_poll_at=None,  # the sweep's "handed over again" mark (recover.py) is spent
        )
    )
    if not claimed:
        return
    job = VideoJob.objects.select_related("provider").get(pk=job_id)
    client = provider_client(job.provider)

    def keep_lease() -> None:
        until = timezone.now() + timedelta(seconds=settings.SORAWEB_ARCHIVE_LEASE_SECONDS)
        VideoJob.objects.filter(pk=job_id, state=JobState.ARCHIVING).update(lease_until=until)

    try:
        result = download.fetch_and_verify(client, job, heartbeat=keep_lease)
    except ProviderError as exc:
        _archive_failed(
            job,
            exc.message,
            permanent=exc.permanent,
            expired=getattr(exc, "expired", False),
            retry_after=exc.retry_after,
        )
        return
    except download.ArchiveError as exc:
        _archive_failed(job, str(exc), permanent=exc.permanent, expired=False, retry_after=None)
        return
    except OSError as exc:
        # Our own storage failed (disk full, read-only, gone): a cause with a name, tried a few
        # times with room to free space in between, then failed; "Save the video again" fetches
        # it anew while the provider's link lives.
        logger.warning("job %s: storage error while saving the video", job.pk, exc_info=True)
        _archive_failed(
            job,
            storage_problem(exc),
            permanent=False,
            expired=False,
            retry_after=None,
            base_delay=STORAGE_RETRY_BASE_SECONDS,
            storage=True,
        )
        storage_failed.send(sender=VideoJob, job=job, cause=storage_cause(exc))
        return
    try:
        saved = job.transition(
            JobState.SUCCEEDED,
            cause=Cause.SAVED,
            facts={"size": result.size, "sha256": result.sha256[:12]},
            video=result.video_name,
            poster=result.poster_name,
            video_sha256=result.sha256,
            video_bytes=result.size,
            video_width=result.width,
            video_height=result.height,
            video_seconds=result.seconds,
            lease_until=None,
            error_message="",
        )
    except Exception:
        download.discard(result)
        raise
    if not saved:
        download.discard(result)


STORAGE_RETRY_BASE_SECONDS = 30.0


STORAGE_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def storage_cause(exc: OSError) -> str:
    """The typed cause of a storage error: "storage_full" or "storage_unavailable"."""
    return "storage_full" if exc.errno in STORAGE_FULL_ERRNOS else "storage_unavailable"


def storage_problem(exc: OSError) -> str:
    """A plain sentence for a storage error (no paths, no raw output)."""
    if storage_cause(exc) == "storage_full":
        return _("storage full: there is no free space left where soraweb keeps videos")
    return _("storage unavailable: %(error)s") % {"error": exc.strerror or type(exc).__name__}


def _archive_failed(
    job: VideoJob,
    message: str,
    *,
    permanent: bool,
    expired: bool,
    retry_after: float | None,
    base_delay: float = 2.0,
    storage: bool = False,
) -> None:
    if expired:
        job.transition(
            JobState.EXPIRED, cause=Cause.RESULT_GONE, facts={"reason": message}, lease_until=None
        )
    elif permanent or job.archive_attempts >= MAX_ARCHIVE_ATTEMPTS:
        job.transition(
            JobState.FAILED,
            cause=Cause.STORAGE if storage else Cause.SAVE_FAILED,
            facts={"reason": message},
            lease_until=None,
        )
    else:
        delay = backoff_seconds(job.archive_attempts, base=base_delay, retry_after=retry_after)
        VideoJob.objects.filter(pk=job.pk, state=JobState.ARCHIVING).update(
            lease_until=timezone.now() + timedelta(seconds=delay)
        )
        job.note(Cause.SAVE_RETRY, {"delay": f"{delay:.0f}", "reason": message})


def job_can_rearchive(job: VideoJob) -> bool:
    """Saving can be tried again when the provider finished the video and the state machine
    allows going back to saving (a job stuck in saving is simply handed over again)."""
    if job.state == JobState.ARCHIVING:
        return True
    return (
        JobState.ARCHIVING in TRANSITIONS[job.state]
        and job.state in SETTLED_STATES
        and job.provider_completed_at is not None
        and bool(job.remote_id or job.remote_video_url)
    )


def job_rearchive(*, job: VideoJob, by) -> bool:
    """Copy the finished video into storage again, e.g. after the disk was full."""
    if not job_can_rearchive(job):
        raise ValidationError(
            _(
                "Only a job whose video the provider finished, and that is saving or failed while saving, can be saved again."
            )
        )
    if job.state == JobState.ARCHIVING:
        with transaction.atomic():
            VideoJob.objects.filter(pk=job.pk, state=JobState.ARCHIVING).update(
                lease_until=None, archive_attempts=0
            )
            job.note(Cause.SAVE_RESTARTED, {"by": str(by)})
            transaction.on_commit(lambda: queue.hand_over("archive_job", job.pk))
        return True
    moved = job.transition(
        JobState.ARCHIVING,
        cause=Cause.SAVE_AGAIN,
        facts={"by": str(by)},
        lease_until=None,
        next_poll_at=None,
        archive_attempts=0,
        finished_at=None,
        error_message="",
    )
    if moved:
        transaction.on_commit(lambda: queue.hand_over("archive_job", job.pk))
    return moved
