"""What a provider's answer means for a job: the one place an answer becomes a transition.

Whether the answer came back from the create call (``Step.SUBMIT``) or from a status query
(``Step.POLL``), and whether it is a status or an error, ``job_apply_answer`` decides the job's
next state, the words of its history entry and the message its owner reads, so the same answer
always reads the same.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import StrEnum

from django.db import transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.ops.redaction import provider_secrets, redact
from soraweb.providers.base import JobStatus, ProviderError, RemoteState
from soraweb.providers.normalise import is_moderation, is_picture_size_refusal
from soraweb.videos import live
from soraweb.videos.causes import Cause
from soraweb.videos.models import JobState, VideoJob
from soraweb.videos.pipeline import outage, queue
from soraweb.videos.pipeline.common import (
    MAX_PERMANENT_POLL_ERRORS,
    MAX_SUBMIT_ATTEMPTS,
    backoff_seconds,
    plan_next_poll,
)

logger = logging.getLogger(__name__)


class Step(StrEnum):
    """Which call the provider answered."""

    SUBMIT = "submit"  # the create (or remix) call; the job is "submitting"
    POLL = "poll"  # a status query; the job is at the provider


def provider_said(job: VideoJob, status: JobStatus) -> dict:
    """The provider's raw answer for the job's history, with every secret in it masked."""
    if not status.raw:
        return {}
    return {"provider_response": redact(status.raw, secrets=provider_secrets(job.provider))}


def to_archiving(job: VideoJob, status: JobStatus, **fields) -> None:
    moved = job.transition(
        JobState.ARCHIVING,
        cause=Cause.PROVIDER_FINISHED,
        # Which field the result's link came from, or the content endpoint when there was none.
        data={"video_source": status.video_source, **provider_said(job, status)},
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


def job_apply_answer(
    *,
    job: VideoJob,
    answer: JobStatus | ProviderError,
    step: Step,
    remote_id: str = "",
    polled: bool = True,
) -> None:
    """Record what the provider answered and move the job on accordingly.

    ``remote_id`` is the id the create call returned (``Step.SUBMIT``); it is stored in the same
    UPDATE that leaves "submitting", so nothing happens between the provider accepting a job and
    us recording its id. ``polled`` counts a status query (a webhook's refresh counts too).
    """
    if isinstance(answer, ProviderError):
        if step == Step.SUBMIT:
            _create_refused(job, answer)
        else:
            _status_query_failed(job, answer)
        return
    status, now = answer, timezone.now()
    if step == Step.SUBMIT:
        fields: dict = {
            "remote_id": remote_id,
            "submitted_at": now,
            "lease_until": None,
            "error_message": "",
        }
    else:
        # The answer ends the query's claim (lease_until: a status query is in flight).
        fields = {"poll_errors": 0, "lease_until": None}
        if polled:
            fields["poll_count"] = F("poll_count") + 1
    fields["raw_status"] = status.raw_status[:100]
    if status.state == RemoteState.SUCCEEDED:
        to_archiving(job, status, **fields)
        return
    if status.state == RemoteState.FAILED:
        reason = status.error or _("The provider could not make this video (no reason given).")
        job.transition(
            JobState.FAILED,
            cause=Cause.MODERATION if status.moderation else Cause.PROVIDER_FAILED,
            facts={"reason": reason},
            data=provider_said(job, status),
            **fields,
        )
        return
    if status.state == RemoteState.EXPIRED:
        job.transition(
            JobState.EXPIRED, cause=Cause.EXPIRED, data=provider_said(job, status), **fields
        )
        return
    # A job just accepted is never failed for its deadline: it was created (and billed) now.
    if step == Step.POLL and job.deadline_at and now >= job.deadline_at:
        job.transition(
            JobState.FAILED,
            cause=Cause.TIMEOUT,
            facts={
                "minutes": job.video_model.deadline_minutes,
                "status": status.raw_status or "none",
            },
            data=provider_said(job, status),
            **fields,
        )
        return
    delay, fields["progress_seen"] = plan_next_poll(
        job, progress=status.progress, poll_after=status.poll_after, now=now
    )
    fields["next_poll_at"] = _unless_refresh_asked(job, now + timedelta(seconds=delay), now)
    if status.progress is not None:
        fields["progress"] = max(0, min(99, status.progress))
    elif step == Step.SUBMIT:
        fields["progress"] = 0
    running = status.state == RemoteState.RUNNING
    if step == Step.SUBMIT:
        job.transition(
            JobState.RUNNING if running else JobState.QUEUED,
            cause=Cause.ACCEPTED,
            # The whole id, however long: the provider's raw answer below is cut for size.
            facts={"remote_id": remote_id},
            data=provider_said(job, status),
            started_at=now if running else None,
            **fields,
        )
        transaction.on_commit(queue.kick_poll_loop)
    elif running and job.state == JobState.QUEUED:
        job.transition(
            JobState.RUNNING,
            cause=Cause.GENERATING,
            data=provider_said(job, status),
            started_at=now,
            **fields,
        )
    else:
        # Same state: no transition, just the latest facts (still only while the job is at the
        # provider, so a concurrent cancel wins).
        moved = VideoJob.objects.filter(pk=job.pk, state=job.state).update(**fields)
        if moved and fields.get("progress", job.progress) != job.progress:
            live.job_changed(job.pk)  # the card's progress bar moves at once


def refusal_cause(exc: ProviderError) -> Cause:
    """Why a provider refused a create, from its own words (the one place they are read)."""
    if is_moderation(exc.message):
        return Cause.MODERATION
    if is_picture_size_refusal(exc.message):
        return Cause.PICTURE_SIZE
    return Cause.PROVIDER_REFUSED


def _unless_refresh_asked(job: VideoJob, planned, now):
    """``planned``, or now if a refresh was asked for while this job's query was in flight (the
    claim made it wait; the answer may predate what the refresh was about, e.g. a webhook)."""
    claimed_at = job.poll_claimed_at
    if claimed_at is None:
        return planned
    return Case(
        When(refresh_requested_at__gte=claimed_at, then=Value(now)),
        default=Value(planned),
        output_field=DateTimeField(),
    )


def _create_refused(job: VideoJob, exc: ProviderError) -> None:
    if exc.outcome_unknown:
        job.transition(
            JobState.NEEDS_ATTENTION,
            cause=Cause.OUTCOME_UNKNOWN,
            facts={"reason": exc.message},
            lease_until=None,
        )
    elif exc.permanent:
        job.transition(
            JobState.FAILED,
            cause=refusal_cause(exc),
            facts={"reason": exc.message},
            lease_until=None,
        )
    elif exc.unreachable:
        outage.submit_unreachable(job, exc)
    elif job.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
        job.transition(
            JobState.FAILED,
            cause=Cause.UNREACHABLE,
            facts={"n": job.submit_attempts, "reason": exc.message},
            lease_until=None,
        )
    else:
        # The provider answered "not now" (or never got the request): it did not create the
        # job, so trying again later cannot bill twice.
        delay = backoff_seconds(job.submit_attempts, retry_after=exc.retry_after)
        job.transition(
            JobState.PENDING,
            cause=Cause.RETRY_LATER,
            facts={"delay": f"{delay:.0f}", "reason": exc.message},
            error_message="",
            lease_until=None,
            next_poll_at=timezone.now() + timedelta(seconds=delay),
        )


def _status_query_failed(job: VideoJob, exc: ProviderError) -> None:
    errors = job.poll_errors + 1
    now = timezone.now()
    if job.deadline_at and now >= job.deadline_at:
        job.transition(
            JobState.FAILED,
            cause=Cause.TIMEOUT,
            facts={
                "minutes": job.video_model.deadline_minutes,
                "status": job.raw_status or "none",
                "reason": exc.message,
            },
        )
        return
    if exc.permanent and errors >= MAX_PERMANENT_POLL_ERRORS:
        job.transition(JobState.FAILED, cause=Cause.POLL_REFUSED, facts={"reason": exc.message})
        return
    delay = backoff_seconds(
        errors, base=job.provider.effective_poll_interval, cap=120, retry_after=exc.retry_after
    )
    VideoJob.objects.filter(pk=job.pk, state=job.state).update(
        poll_errors=errors,
        next_poll_at=_unless_refresh_asked(job, now + timedelta(seconds=delay), now),
        lease_until=None,
    )
    logger.info("job %s: status check failed (%s), next try in %.0f s", job.pk, exc.message, delay)
