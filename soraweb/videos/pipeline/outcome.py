"""What a provider's answer means for a job: the transition it causes."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.ops.redaction import provider_secrets, redact
from soraweb.providers.base import JobStatus, RemoteState
from soraweb.videos.models import JobState, VideoJob
from soraweb.videos.pipeline import queue

logger = logging.getLogger(__name__)


def expired_message() -> str:
    return _("The provider's link to this video expired before soraweb could save a copy.")


def provider_said(job: VideoJob, status: JobStatus) -> dict:
    """The provider's raw answer for the job's history, with every secret in it masked."""
    if not status.raw:
        return {}
    return {"provider_response": redact(status.raw, secrets=provider_secrets(job.provider))}


def to_archiving(job: VideoJob, status: JobStatus, **fields) -> None:
    moved = job.transition(
        JobState.ARCHIVING,
        message="Provider finished; saving the video",
        data=provider_said(job, status),
        **{
            **fields,
            "progress": 100,
            "remote_video_url": (status.video_url or "")[:2000],
            "remote_thumbnail_url": (status.thumbnail_url or "")[:2000],
            "provider_completed_at": timezone.now(),
            "lease_until": None,
            "next_poll_at": None,
        },
    )
    if moved:
        transaction.on_commit(lambda: queue.hand_over("archive_job", job.pk))


def job_apply_status(*, job: VideoJob, status: JobStatus, polled: bool = False) -> None:
    """Record what the provider said and move the job on accordingly (one UPDATE)."""
    now = timezone.now()
    seen = {"raw_status": status.raw_status[:100], "poll_errors": 0}
    if polled:
        seen["poll_count"] = F("poll_count") + 1
    if status.state == RemoteState.SUCCEEDED:
        to_archiving(job, status, **seen)
        return
    if status.state == RemoteState.FAILED:
        job.transition(
            JobState.FAILED,
            message="Provider reports failure",
            data=provider_said(job, status),
            error_message=status.error
            or _("The provider could not make this video (no reason given)."),
            **seen,
        )
        return
    if status.state == RemoteState.EXPIRED:
        job.transition(
            JobState.EXPIRED,
            message="Provider reports expired",
            data=provider_said(job, status),
            error_message=expired_message(),
            **seen,
        )
        return
    if job.deadline_at and now >= job.deadline_at:
        job.transition(
            JobState.FAILED,
            message="Deadline passed",
            data=provider_said(job, status),
            error_message=_(
                "Timed out at the provider: no result after %(minutes)d minutes (last status seen: %(status)s)."
            )
            % {"minutes": job.video_model.deadline_minutes, "status": status.raw_status or "none"},
            **seen,
        )
        return
    interval = max(status.poll_after or 0.0, job.provider.effective_poll_interval)
    fields = {**seen, "next_poll_at": now + timedelta(seconds=interval)}
    if status.progress is not None:
        fields["progress"] = max(0, min(99, status.progress))
    if status.state == RemoteState.RUNNING and job.state == JobState.QUEUED:
        job.transition(
            JobState.RUNNING,
            message="Generating",
            data=provider_said(job, status),
            started_at=now,
            **fields,
        )
    else:
        # Same state: no transition, just the latest facts (still only while the job is at the
        # provider, so a concurrent cancel wins).
        VideoJob.objects.filter(pk=job.pk, state=job.state).update(**fields)
