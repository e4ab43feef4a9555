"""Asking providers about jobs: one status check, claiming due polls, refresh requests, webhooks."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from soraweb.providers.base import JobStatus, ProviderError, VideoProvider
from soraweb.videos.causes import Cause
from soraweb.videos.models import (
    AT_PROVIDER_STATES,
    JobState,
    Provider,
    VideoJob,
    WebhookDelivery,
)
from soraweb.videos.pipeline import archive, outage, queue
from soraweb.videos.pipeline.common import (
    provider_client,
)
from soraweb.videos.pipeline.outcome import Step, job_apply_answer

logger = logging.getLogger(__name__)

# How long a status query's claim lasts: past any query's timeouts, so that no second query of
# the job starts while one is in flight. While a job is at the provider, ``lease_until`` in the
# future means "a status query is in flight"; the answer (or the error) clears it. The claim also
# pushes ``next_poll_at`` so the loop does not count the job as due meanwhile.
POLL_CLAIM_SECONDS = 60


def _not_in_flight(now) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def job_fetch_status(
    *, job: VideoJob, client: VideoProvider | None = None
) -> JobStatus | ProviderError:
    """Network only, no database: safe to run for many jobs in parallel threads."""
    try:
        return (client or provider_client(job.provider)).status(job.remote_id)
    except ProviderError as exc:
        return exc


def job_apply_poll(*, job: VideoJob, outcome: JobStatus | ProviderError) -> None:
    if isinstance(outcome, ProviderError):
        if outcome.unreachable:
            outage.provider_mark_unreachable(provider_id=job.provider_id)
    elif job.provider.unreachable_since is not None:
        outage.provider_mark_reachable(provider_id=job.provider_id)
    job_apply_answer(job=job, answer=outcome, step=Step.POLL)


def job_poll(*, job: VideoJob, client: VideoProvider | None = None) -> None:
    """Ask the provider about one job (already claimed) and apply the answer."""
    job_apply_poll(job=job, outcome=job_fetch_status(job=job, client=client))


def job_poll_now(*, job_id: int, then_save: bool = False) -> bool:
    """Poll one job at once (a webhook said it changed), unless a poller holds it already.

    When a query of the job is in flight, it is not doubled: the refresh is noted instead, and
    that query's answer makes the job due again at once (its answer may predate the change).
    ``then_save`` (a worker's task, never a web request): when the answer says the video is
    done, save it right here instead of queueing the archive step, one trip through the queue
    fewer. The archive step's claim keeps the queued copy from doing it twice.
    """
    now = timezone.now()
    until = now + timedelta(seconds=POLL_CLAIM_SECONDS)
    at_provider = VideoJob.objects.filter(pk=job_id, state__in=AT_PROVIDER_STATES)
    if not at_provider.filter(_not_in_flight(now)).update(next_poll_at=until, lease_until=until):
        at_provider.update(refresh_requested_at=now)
        return False
    job = VideoJob.objects.select_related("provider", "video_model").get(pk=job_id)
    job.poll_claimed_at = now
    job_poll(job=job)
    if then_save and VideoJob.objects.filter(pk=job_id, state=JobState.ARCHIVING).exists():
        archive.job_archive(job_id=job_id)
    return True


def jobs_claim_due_polls(*, now=None, limit: int = 2000) -> list[VideoJob]:
    """Jobs at the provider whose next check is due, claimed by pushing ``next_poll_at`` on.

    The claim pushes the time well ahead so that a second poller (or a refresh click) skips
    them; ``job_apply_answer`` then sets the real next time.

    Read and push happen in one transaction holding the rows: on PostgreSQL ``FOR UPDATE SKIP
    LOCKED`` makes a concurrent poller skip the rows being claimed (and, once this commits, see
    them as not due), so no job is returned to two pollers. Reading first and returning every
    row read would hand the same batch to each poller that read before the other's UPDATE.
    SQLite has no row locks; there the IMMEDIATE transaction serialises claimers whole.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            VideoJob.objects.filter(state__in=AT_PROVIDER_STATES, next_poll_at__lte=now)
            .filter(_not_in_flight(now))
            .select_related("provider", "video_model")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_poll_at")[:limit]
        )
        if not due:
            return []
        claimed_until = now + timedelta(seconds=POLL_CLAIM_SECONDS)
        VideoJob.objects.filter(pk__in=[job.pk for job in due]).update(
            next_poll_at=claimed_until, lease_until=claimed_until
        )
    for job in due:
        job.poll_claimed_at = now
    return due


def job_request_refresh(*, job: VideoJob, min_interval: float = 2.0) -> bool:
    """A watched card asks for a fresh status; at most one request per ``min_interval``."""
    now = timezone.now()
    changed = (
        VideoJob.objects.filter(pk=job.pk, state__in=AT_PROVIDER_STATES)
        .filter(
            Q(refresh_requested_at__isnull=True)
            | Q(refresh_requested_at__lt=now - timedelta(seconds=min_interval))
        )
        .update(refresh_requested_at=now, next_poll_at=now)
    )
    return bool(changed)


def webhook_receive(*, provider: Provider, webhook_id: str, event_type: str, remote_id: str) -> str:
    """Act once per delivery id: refresh the job the event names, at once."""
    try:
        with transaction.atomic():
            WebhookDelivery.objects.create(
                provider=provider,
                webhook_id=webhook_id[:200],
                event_type=event_type[:100],
                remote_id=remote_id,
            )
    except IntegrityError:
        return "duplicate"
    job = (
        VideoJob.objects.with_remote_id(remote_id)
        .filter(provider=provider, state__in=AT_PROVIDER_STATES)
        .first()
    )
    if job is None:
        return "ignored"
    job.note(Cause.WEBHOOK, {"event_type": event_type})
    transaction.on_commit(lambda: queue.enqueue("poll_job", job.pk))
    return "accepted"
