"""Which jobs need a look, and why, in plain words: the rules the admin's "stuck" filter, the job
page and the operations dashboard share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.videos.models import ACTIVE_STATES, AT_PROVIDER_STATES, JobState, VideoJob

# How long a job may sit without progress before it counts as stuck.
STALE_AFTER = timedelta(minutes=3)


def stuck_q(now: datetime | None = None) -> Q:
    """Jobs that wait for a person or have stopped moving (see ``stuck_reason``)."""
    now = now or timezone.now()
    stale = now - STALE_AFTER
    return (
        Q(state=JobState.NEEDS_ATTENTION)
        | Q(state__in=ACTIVE_STATES, deadline_at__lt=now)
        | Q(state=JobState.PENDING, next_poll_at__lt=stale)
        | Q(state=JobState.SUBMITTING, lease_until__lt=now)
        | Q(state__in=AT_PROVIDER_STATES, next_poll_at__lt=stale)
        | Q(state__in=AT_PROVIDER_STATES, poll_errors__gte=3)
        | Q(state=JobState.ARCHIVING, archive_attempts__gte=2)
        | Q(state=JobState.ARCHIVING, lease_until__lt=stale)
        | Q(state=JobState.ARCHIVING, lease_until__isnull=True, provider_completed_at__lt=stale)
    )


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() // 60))


def stuck_reason(job: VideoJob, now: datetime | None = None) -> str:
    """Why a job needs a look, in plain words; empty when it is moving normally."""
    now = now or timezone.now()
    stale = now - STALE_AFTER
    if job.state == JobState.NEEDS_ATTENTION:
        return _(
            "soraweb cannot tell whether the provider started it. Check the provider, then "
            "retry it as a new job, or mark it failed."
        )
    if job.state in ACTIVE_STATES and job.deadline_at and job.deadline_at < now:
        return _("Past its deadline (%(minutes)d minutes ago) and still not finished.") % {
            "minutes": _minutes(now - job.deadline_at)
        }
    if job.state == JobState.PENDING and job.next_poll_at and job.next_poll_at < stale:
        return _("Waiting to start for %(minutes)d minutes: is the background worker running?") % {
            "minutes": _minutes(now - job.next_poll_at)
        }
    if job.state == JobState.SUBMITTING and job.lease_until and job.lease_until < now:
        return _("Starting was interrupted; it will be moved to “Needs attention”.")
    if job.state in AT_PROVIDER_STATES and job.poll_errors >= 3:
        return _("The last %(n)d status checks at the provider failed.") % {"n": job.poll_errors}
    if job.state in AT_PROVIDER_STATES and job.next_poll_at and job.next_poll_at < stale:
        return _("Not checked for %(minutes)d minutes: is the background worker running?") % {
            "minutes": _minutes(now - job.next_poll_at)
        }
    if job.state == JobState.ARCHIVING:
        if job.archive_attempts >= 2:
            return _("Saving the video has been tried %(n)d times.") % {"n": job.archive_attempts}
        since = job.lease_until or job.provider_completed_at
        if since and since < stale:
            return _("Saving the video has not moved for %(minutes)d minutes.") % {
                "minutes": _minutes(now - since)
            }
    return ""


def jobs_stuck_count(*, now: datetime | None = None) -> int:
    return VideoJob.objects.filter(stuck_q(now)).count()


@dataclass
class StuckJob:
    job: VideoJob
    reason: str


def jobs_stuck(*, now: datetime | None = None, limit: int = 50) -> list[StuckJob]:
    now = now or timezone.now()
    jobs = (
        VideoJob.objects.filter(stuck_q(now))
        .select_related("owner", "prompt", "video_model", "provider")
        .order_by("created_at")[:limit]
    )
    return [StuckJob(job, stuck_reason(job, now)) for job in jobs]
