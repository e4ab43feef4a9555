"""Writes: every change to jobs goes through a function here.

Each background step claims its job with a conditional UPDATE (see ``VideoJob.transition``)
before doing anything, so overlapping schedules or several workers never repeat a step. The
remote id is stored in the same UPDATE that leaves ``submitting``: nothing happens between the
provider accepting a job and us recording its id.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.ops import services as ops_services
from soraweb.ops.redaction import provider_secrets, redact
from soraweb.providers import make_client
from soraweb.providers.base import (
    CreateRequest,
    ImageInput,
    JobStatus,
    ProviderError,
    RemoteState,
    VideoProvider,
)
from soraweb.providers.http import full_jitter_delay
from soraweb.videos import archive
from soraweb.videos.images import fit_image
from soraweb.videos.labels import orientation_label, size_label
from soraweb.videos.models import (
    AT_PROVIDER_STATES,
    SETTLED_STATES,
    TRANSITIONS,
    Favourite,
    ImageFit,
    JobEvent,
    JobState,
    Prompt,
    Provider,
    ReferenceImage,
    Review,
    ReviewDecision,
    VideoJob,
    VideoModel,
    WebhookDelivery,
)

logger = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 4
MAX_ARCHIVE_ATTEMPTS = 5
MAX_PERMANENT_POLL_ERRORS = 3
# How far a poll claim pushes a job's next check: past any pass, so no second poller takes it.
POLL_CLAIM_SECONDS = 60
# While a provider refuses connections: a waiting create tries again at most this far apart, and
# one job of the provider is checked this often, so its return is noticed within seconds.
OUTAGE_RETRY_CAP_SECONDS = 15.0
OUTAGE_PROBE_SECONDS = 5.0
WAITING_FOR_PROVIDER = "Waiting for the provider"  # the history entry of such a wait
# After the provider accepted a create, how long to keep trying to record its answer while the
# database is unreachable (inside the task's time limit): the job was billed; its id must stay.
RECORD_CREATE_SECONDS = 300.0


def provider_client(provider: Provider) -> VideoProvider:
    return make_client(provider.config())


def backoff_seconds(
    attempt: int, *, base: float = 2.0, cap: float = 300.0, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter; never sooner than the provider asked, nor under 1 s."""
    return max(full_jitter_delay(attempt, base=base, cap=cap), retry_after or 0.0, 1.0)


# --- Creating jobs -----------------------------------------------------------------------------


def job_validate_settings(
    *, video_model: VideoModel, orientation: str, size: str, duration: int, image_count: int
) -> None:
    """The catalogue's rules, checked once more here so no caller can skip them."""
    errors: dict[str, str] = {}
    if not video_model.enabled or not video_model.provider.enabled:
        errors["video_model"] = _("%(model)s is switched off by an administrator.") % {
            "model": video_model.display_name
        }
    if orientation not in video_model.orientations:
        errors["orientation"] = _("%(model)s cannot make %(value)s videos.") % {
            "model": video_model.display_name,
            "value": orientation_label(orientation).lower(),
        }
    if size not in video_model.sizes:
        errors["size"] = _("%(model)s only offers the sizes: %(allowed)s.") % {
            "model": video_model.display_name,
            "allowed": ", ".join(size_label(s) for s in video_model.sizes),
        }
    if duration not in [int(d) for d in video_model.durations]:
        errors["duration"] = _("%(model)s only makes videos of %(allowed)s seconds.") % {
            "model": video_model.display_name,
            "allowed": ", ".join(str(d) for d in video_model.durations),
        }
    if image_count > video_model.max_images:
        errors["images"] = (
            _("%(model)s does not take reference images.") % {"model": video_model.display_name}
            if video_model.max_images == 0
            else _("%(model)s takes at most %(n)d reference image(s).")
            % {"model": video_model.display_name, "n": video_model.max_images}
        )
    if errors:
        raise ValidationError(errors)


def job_create(
    *,
    owner,
    video_model: VideoModel,
    prompt_text: str,
    orientation: str,
    size: str,
    duration: int,
    images: Sequence[ReferenceImage] = (),
    idempotency_key: str | None = None,
    retry_of: VideoJob | None = None,
    image_fit: str = "",
    remix_of: VideoJob | None = None,
) -> VideoJob:
    """Record a new job and hand it to the background worker once the transaction commits.

    A repeated idempotency key returns the job the first request made, so a double click or a
    resent form creates exactly one job.
    """
    if idempotency_key:
        existing = VideoJob.objects.filter(idempotency_key=idempotency_key, owner=owner).first()
        if existing:
            return existing
    prompt_text = prompt_text.strip()
    if not prompt_text:
        raise ValidationError({"prompt": _("Describe the video you want.")})
    job_validate_settings(
        video_model=video_model,
        orientation=orientation,
        size=size,
        duration=duration,
        image_count=len(images),
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            # Locks the team budget until commit, so racing submissions are checked one by one.
            ops_services.budget_check(
                owner=owner,
                amount=video_model.estimate_cost(size, duration),
                idempotency_key=idempotency_key,
            )
            prompt = Prompt.objects.create(text=prompt_text, author=owner)
            job = VideoJob.objects.create(
                owner=owner,
                prompt=prompt,
                provider=video_model.provider,
                video_model=video_model,
                model_name=video_model.name,
                orientation=orientation,
                size=size,
                duration=duration,
                estimated_cost=video_model.estimate_cost(size, duration),
                idempotency_key=idempotency_key or None,
                retry_of=retry_of,
                image_fit=image_fit,
                remix_of=remix_of,
                remix_remote_id=remix_of.remote_id if remix_of else "",
                created_at=now,
                deadline_at=now + timedelta(minutes=video_model.deadline_minutes),
                # If the hand-over below is lost (a crash right after commit), the sweeper
                # submits the job after this moment.
                next_poll_at=now + timedelta(seconds=30),
            )
            if images:
                job.images.set(images)
            JobEvent.objects.create(job=job, to_state=JobState.PENDING, message="Created")
            ops_services.ledger_record(job=job)
            transaction.on_commit(lambda: _enqueue("submit_job", job.pk))
    except IntegrityError:
        # Two identical requests raced past the check above: the other one won.
        existing = VideoJob.objects.filter(idempotency_key=idempotency_key, owner=owner).first()
        if existing is None:
            raise
        return existing
    return job


def _enqueue(task: str, *args) -> None:
    from soraweb.videos import tasks

    tasks.enqueue(task, *args)


def _kick_poll_loop() -> None:
    from soraweb.videos import tasks

    tasks.kick_poll_loop()


# --- Submitting --------------------------------------------------------------------------------


def _create_request(job: VideoJob) -> CreateRequest:
    images = []
    fit, frame = reference_fit_for(job)
    for image in job.images.all().order_by("id"):
        with image.file.open("rb") as fh:
            data = fh.read()
        content_type = image.content_type
        # Sent inline (a data: URL, or a file for multipart formats): nothing of ours has to be
        # reachable from the provider, and no public address can leak a team's pictures.
        url = None
        if fit and frame and (image.width, image.height) != frame:
            # The stored original stays as uploaded; the provider gets a copy cut to the frame.
            data, content_type = fit_image(data, size=frame, mode=fit)
        images.append(
            ImageInput(
                filename=image.original_name or f"{image.sha256}.png",
                content_type=content_type,
                data=data,
                url=url,
            )
        )
    return CreateRequest(
        model=job.model_name,
        prompt=job.prompt.text,
        orientation=job.orientation,
        size=job.size,
        duration=job.duration,
        images=tuple(images),
    )


def job_submit(*, job_id: int) -> None:
    """Send a pending job to its provider, exactly once."""
    job = VideoJob.objects.select_related("provider", "prompt").filter(pk=job_id).first()
    if job is None or job.state != JobState.PENDING:
        return
    now = timezone.now()
    claimed = job.transition(
        JobState.SUBMITTING,
        message="Sending to the provider",
        lease_until=now + timedelta(seconds=settings.SORAWEB_SUBMIT_LEASE_SECONDS),
        submit_attempts=F("submit_attempts") + 1,
        next_poll_at=None,
    )
    if not claimed:
        return
    job.refresh_from_db(fields=["submit_attempts"])
    client = provider_client(job.provider)

    def on_progress(status: JobStatus) -> None:
        # Long streams report progress as they go; keep the card moving and the lease fresh.
        VideoJob.objects.filter(pk=job.pk, state=JobState.SUBMITTING).update(
            progress=status.progress or 0,
            raw_status=status.raw_status[:100],
            lease_until=timezone.now() + timedelta(seconds=settings.SORAWEB_SUBMIT_LEASE_SECONDS),
        )

    try:
        if job.remix_remote_id:
            result = client.remix(job.remix_remote_id, job.prompt.text)
        else:
            result = client.create(_create_request(job), on_progress=on_progress)
    except ProviderError as exc:
        _submit_failed(job, exc)
        return
    except Exception as exc:  # a bug must not leave the job spinning forever
        logger.exception("job %s: unexpected error while submitting", job.pk)
        job.transition(
            JobState.NEEDS_ATTENTION,
            message=f"Unexpected error while starting: {type(exc).__name__}",
            error_message=_(
                "Something went wrong while starting this video. An administrator can check the job's history."
            ),
        )
        return
    _record_created_with_retry(job, result)


def _record_created_with_retry(job: VideoJob, result) -> None:
    """Record the provider's answer to a create, retrying while the database is unreachable.

    The provider has created (and billed) the job: losing its id to a database blip would park a
    paid video in "Needs attention". So the write is retried with backoff until the database
    answers again (within ``RECORD_CREATE_SECONDS``); the id is in the log meanwhile.
    """
    deadline = time.monotonic() + RECORD_CREATE_SECONDS
    attempt = 0
    while True:
        if attempt and job.state != JobState.SUBMITTING:
            return  # the answer was recorded; what failed came after it
        try:
            _record_created(job, result, late=bool(attempt))
            return
        except (OperationalError, InterfaceError):
            attempt += 1
            if time.monotonic() > deadline or connection.in_atomic_block:
                logger.error(
                    "job %s: created at the provider as %s, but the database could not record it",
                    job.pk,
                    result.remote_id,
                )
                raise
            logger.warning(
                "job %s: created at the provider as %s; the database is unreachable, recording "
                "it again (try %d)",
                job.pk,
                result.remote_id,
                attempt,
                exc_info=attempt == 1,
            )
            connection.close()  # a broken connection is not reused; the next query reconnects
            time.sleep(min(5.0, 0.25 * 2**attempt))


def _record_created(job: VideoJob, result, *, late: bool = False) -> None:
    if late:
        current = VideoJob.objects.filter(pk=job.pk).values_list("state", "remote_id").first()
        if current and current[0] == JobState.NEEDS_ATTENTION and not current[1]:
            # The sweep gave up on this create while the database was away (its lease ran out):
            # keep the id the provider gave, so a person can find the video there.
            VideoJob.objects.filter(pk=job.pk, remote_id="").update(
                remote_id=result.remote_id[:255]
            )
            JobEvent.objects.create(
                job_id=job.pk,
                from_state=current[0],
                to_state=current[0],
                message=f"The provider had accepted it as {result.remote_id} (recorded late)",
            )
            return
    if job.provider.unreachable_since is not None:
        provider_mark_reachable(provider_id=job.provider_id)
    status = result.status
    now = timezone.now()
    fields = {
        "remote_id": result.remote_id[:255],
        "submitted_at": now,
        "lease_until": None,
        "raw_status": status.raw_status[:100],
        "error_message": "",
    }
    if status.state == RemoteState.SUCCEEDED:
        _to_archiving(job, status, **fields)
    elif status.state == RemoteState.FAILED:
        job.transition(
            JobState.FAILED,
            message="Provider refused the job",
            data=_provider_said(job, status),
            **{
                **fields,
                "error_message": status.error or _("The provider could not make this video."),
            },
        )
    elif status.state == RemoteState.EXPIRED:
        job.transition(
            JobState.EXPIRED,
            message="Provider says expired",
            data=_provider_said(job, status),
            **{**fields, "error_message": _expired_message()},
        )
    else:
        to = JobState.RUNNING if status.state == RemoteState.RUNNING else JobState.QUEUED
        poll_in = max(status.poll_after or 0.0, job.provider.effective_poll_interval)
        job.transition(
            to,
            message=f"Accepted by the provider as {result.remote_id}",
            data=_provider_said(job, status),
            progress=status.progress or 0,
            started_at=now if to == JobState.RUNNING else None,
            next_poll_at=now + timedelta(seconds=poll_in),
            **fields,
        )
        transaction.on_commit(_kick_poll_loop)


def _submit_failed(job: VideoJob, exc: ProviderError) -> None:
    if exc.outcome_unknown:
        job.transition(
            JobState.NEEDS_ATTENTION,
            message="Create outcome unknown",
            error_message=exc.message,
            lease_until=None,
        )
    elif exc.permanent:
        job.transition(
            JobState.FAILED,
            message="Provider refused the job",
            error_message=exc.message,
            lease_until=None,
        )
    elif exc.unreachable:
        _submit_unreachable(job, exc)
    elif job.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
        job.transition(
            JobState.FAILED,
            message="Gave up starting",
            error_message=_("The provider could not be reached after %(n)d tries: %(reason)s")
            % {"n": job.submit_attempts, "reason": exc.message},
            lease_until=None,
        )
    else:
        # The provider answered "not now" (or never got the request): it did not create the
        # job, so trying again later cannot bill twice.
        delay = backoff_seconds(job.submit_attempts, retry_after=exc.retry_after)
        job.transition(
            JobState.PENDING,
            message=f"Will try again in {delay:.0f} s: {exc.message}",
            error_message="",
            lease_until=None,
            next_poll_at=timezone.now() + timedelta(seconds=delay),
        )


def _submit_unreachable(job: VideoJob, exc: ProviderError) -> None:
    """Not one byte reached the provider: wait out its outage (up to the configured minutes)."""
    provider_mark_unreachable(provider_id=job.provider_id)
    now = timezone.now()
    since = (
        JobEvent.objects.filter(job_id=job.pk, message__startswith=WAITING_FOR_PROVIDER)
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    ) or now
    minutes = settings.SORAWEB_PROVIDER_OUTAGE_MINUTES
    if now - since >= timedelta(minutes=minutes):
        job.transition(
            JobState.FAILED,
            message="Gave up waiting for the provider",
            error_message=_("The provider could not be reached for %(minutes)s minutes: %(reason)s")
            % {"minutes": f"{minutes:g}", "reason": exc.message},
            lease_until=None,
        )
        return
    # Tries while the provider is away do not count against the job's tries to start; they
    # spread out as the wait grows (about 2, 4, 8, then every 15 s at most).
    waited = (now - since).total_seconds()
    delay = backoff_seconds(1 + int(waited // 5), cap=OUTAGE_RETRY_CAP_SECONDS)
    job.transition(
        JobState.PENDING,
        message=f"{WAITING_FOR_PROVIDER} (next try in {delay:.0f} s): {exc.message}",
        error_message="",
        lease_until=None,
        next_poll_at=now + timedelta(seconds=delay),
        submit_attempts=F("submit_attempts") - 1,
    )


def provider_mark_unreachable(*, provider_id: int) -> None:
    Provider.objects.filter(pk=provider_id, unreachable_since__isnull=True).update(
        unreachable_since=timezone.now()
    )


def provider_mark_reachable(*, provider_id: int) -> int:
    """The provider answered after an outage: every job waiting on it is due now.

    Returns how many jobs were made due (0 when the provider was not marked unreachable, or
    another worker noticed first).
    """
    if not Provider.objects.filter(pk=provider_id, unreachable_since__isnull=False).update(
        unreachable_since=None
    ):
        return 0
    now = timezone.now()
    waiting = VideoJob.objects.filter(provider_id=provider_id, next_poll_at__gt=now)
    pulled = waiting.filter(state__in=AT_PROVIDER_STATES).update(next_poll_at=now)
    pulled += waiting.filter(state=JobState.PENDING).update(next_poll_at=now)
    logger.info("provider %s answers again; %d waiting jobs are due now", provider_id, pulled)
    return pulled


_last_probe: dict[int, float] = {}


def providers_probe_unreachable(*, every: float = OUTAGE_PROBE_SECONDS) -> int:
    """While a provider is unreachable, make one of its jobs due every ``every`` seconds.

    Its jobs back off further with each failed check; this one check (and the first answer it
    gets, see ``provider_mark_reachable``) notices the provider's return within seconds.
    """
    probed = 0
    now = timezone.now()
    for provider_id in Provider.objects.filter(unreachable_since__isnull=False).values_list(
        "pk", flat=True
    ):
        if time.monotonic() - _last_probe.get(provider_id, float("-inf")) < every:
            continue
        _last_probe[provider_id] = time.monotonic()
        jobs = VideoJob.objects.filter(provider_id=provider_id, state__in=AT_PROVIDER_STATES)
        if jobs.filter(next_poll_at__lte=now).exists():
            continue  # one is due anyway
        first = jobs.filter(next_poll_at__gt=now).order_by("next_poll_at").first()
        if first is not None:
            probed += VideoJob.objects.filter(pk=first.pk, next_poll_at=first.next_poll_at).update(
                next_poll_at=now
            )
    return probed


# --- Polling -------------------------------------------------------------------------------------


def _expired_message() -> str:
    return _("The provider's link to this video expired before soraweb could save a copy.")


def _provider_said(job: VideoJob, status: JobStatus) -> dict:
    """The provider's raw answer for the job's history, with every secret in it masked."""
    if not status.raw:
        return {}
    return {"provider_response": redact(status.raw, secrets=provider_secrets(job.provider))}


def _to_archiving(job: VideoJob, status: JobStatus, **fields) -> None:
    moved = job.transition(
        JobState.ARCHIVING,
        message="Provider finished; saving the video",
        data=_provider_said(job, status),
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
        transaction.on_commit(lambda: _enqueue("archive_job", job.pk))


def job_apply_status(*, job: VideoJob, status: JobStatus, polled: bool = False) -> None:
    """Record what the provider said and move the job on accordingly (one UPDATE)."""
    now = timezone.now()
    seen = {"raw_status": status.raw_status[:100], "poll_errors": 0}
    if polled:
        seen["poll_count"] = F("poll_count") + 1
    if status.state == RemoteState.SUCCEEDED:
        _to_archiving(job, status, **seen)
        return
    if status.state == RemoteState.FAILED:
        job.transition(
            JobState.FAILED,
            message="Provider reports failure",
            data=_provider_said(job, status),
            error_message=status.error
            or _("The provider could not make this video (no reason given)."),
            **seen,
        )
        return
    if status.state == RemoteState.EXPIRED:
        job.transition(
            JobState.EXPIRED,
            message="Provider reports expired",
            data=_provider_said(job, status),
            error_message=_expired_message(),
            **seen,
        )
        return
    if job.deadline_at and now >= job.deadline_at:
        job.transition(
            JobState.FAILED,
            message="Deadline passed",
            data=_provider_said(job, status),
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
            data=_provider_said(job, status),
            started_at=now,
            **fields,
        )
    else:
        # Same state: no transition, just the latest facts (still only while the job is at the
        # provider, so a concurrent cancel wins).
        VideoJob.objects.filter(pk=job.pk, state=job.state).update(**fields)


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
            provider_mark_unreachable(provider_id=job.provider_id)
        _poll_failed(job, outcome)
    else:
        if job.provider.unreachable_since is not None:
            provider_mark_reachable(provider_id=job.provider_id)
        job_apply_status(job=job, status=outcome, polled=True)


def job_poll(*, job: VideoJob, client: VideoProvider | None = None) -> None:
    """Ask the provider about one job (already claimed) and apply the answer."""
    job_apply_poll(job=job, outcome=job_fetch_status(job=job, client=client))


def _poll_failed(job: VideoJob, exc: ProviderError) -> None:
    errors = job.poll_errors + 1
    now = timezone.now()
    if job.deadline_at and now >= job.deadline_at:
        job.transition(
            JobState.FAILED,
            message="Deadline passed while the provider was unreachable",
            error_message=_(
                "Timed out at the provider (last status seen: %(status)s; last error: %(error)s)."
            )
            % {"status": job.raw_status or "none", "error": exc.message},
        )
        return
    if exc.permanent and errors >= MAX_PERMANENT_POLL_ERRORS:
        job.transition(
            JobState.FAILED, message="Provider refuses status queries", error_message=exc.message
        )
        return
    delay = backoff_seconds(
        errors, base=job.provider.effective_poll_interval, cap=120, retry_after=exc.retry_after
    )
    VideoJob.objects.filter(pk=job.pk, state=job.state).update(
        poll_errors=errors, next_poll_at=now + timedelta(seconds=delay)
    )
    logger.info("job %s: status check failed (%s), next try in %.0f s", job.pk, exc.message, delay)


def job_poll_now(*, job_id: int) -> bool:
    """Poll one job at once (a webhook said it changed), unless a poller holds it already."""
    now = timezone.now()
    claimed = VideoJob.objects.filter(pk=job_id, state__in=AT_PROVIDER_STATES).update(
        next_poll_at=now + timedelta(seconds=60)
    )
    if not claimed:
        return False
    job = VideoJob.objects.select_related("provider", "video_model").get(pk=job_id)
    job_poll(job=job)
    return True


def jobs_claim_due_polls(*, now=None, limit: int = 2000) -> list[VideoJob]:
    """Jobs at the provider whose next check is due, claimed by pushing ``next_poll_at`` on.

    The claim pushes the time well ahead so that a second poller (or a refresh click) skips
    them; ``job_apply_status`` then sets the real next time.

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
            .select_related("provider", "video_model")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_poll_at")[:limit]
        )
        if not due:
            return []
        claimed_until = now + timedelta(seconds=POLL_CLAIM_SECONDS)
        VideoJob.objects.filter(pk__in=[job.pk for job in due]).update(next_poll_at=claimed_until)
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
                remote_id=remote_id[:255],
            )
    except IntegrityError:
        return "duplicate"
    job = VideoJob.objects.filter(
        provider=provider, remote_id=remote_id, state__in=AT_PROVIDER_STATES
    ).first()
    if job is None:
        return "ignored"
    JobEvent.objects.create(
        job=job, from_state=job.state, to_state=job.state, message=f"Webhook {event_type} received"
    )
    transaction.on_commit(lambda: _enqueue("poll_job", job.pk))
    return "accepted"


# --- Archiving -----------------------------------------------------------------------------------


def job_archive(*, job_id: int) -> None:
    """Copy a finished video into our storage, verify it, make a poster, mark the job ready."""
    now = timezone.now()
    claimed = (
        VideoJob.objects.filter(pk=job_id, state=JobState.ARCHIVING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_until=now + timedelta(seconds=settings.SORAWEB_ARCHIVE_LEASE_SECONDS),
            archive_attempts=F("archive_attempts") + 1,
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
        result = archive.fetch_and_verify(client, job, heartbeat=keep_lease)
    except ProviderError as exc:
        _archive_failed(
            job,
            exc.message,
            permanent=exc.permanent,
            expired=getattr(exc, "expired", False),
            retry_after=exc.retry_after,
        )
        return
    except archive.ArchiveError as exc:
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
        )
        return
    try:
        saved = job.transition(
            JobState.SUCCEEDED,
            message=f"Saved {result.size} bytes, sha256 {result.sha256[:12]}",
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
        archive.discard(result)
        raise
    if not saved:
        archive.discard(result)


STORAGE_RETRY_BASE_SECONDS = 30.0


def storage_problem(exc: OSError) -> str:
    """A plain sentence for a storage error (no paths, no raw output)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
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
) -> None:
    if expired:
        job.transition(
            JobState.EXPIRED,
            message=f"Result gone: {message}",
            error_message=_expired_message(),
            lease_until=None,
        )
    elif permanent or job.archive_attempts >= MAX_ARCHIVE_ATTEMPTS:
        job.transition(
            JobState.FAILED,
            message="Could not save the video",
            error_message=_("The video was made but could not be saved: %(reason)s")
            % {"reason": message},
            lease_until=None,
        )
    else:
        delay = backoff_seconds(job.archive_attempts, base=base_delay, retry_after=retry_after)
        VideoJob.objects.filter(pk=job.pk, state=JobState.ARCHIVING).update(
            lease_until=timezone.now() + timedelta(seconds=delay)
        )
        JobEvent.objects.create(
            job=job,
            from_state=job.state,
            to_state=job.state,
            message=f"Saving failed, will try again in {delay:.0f} s: {message}",
        )


# --- Recovery after a crash -----------------------------------------------------------------------


def jobs_recover(*, now=None) -> dict[str, list[int]]:
    """Find jobs whose background step was lost (worker killed) and hand them on again."""
    now = now or timezone.now()
    resubmit = list(
        VideoJob.objects.filter(state=JobState.PENDING, next_poll_at__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    rearchive = list(
        VideoJob.objects.filter(state=JobState.ARCHIVING)
        .filter(
            Q(lease_until__lt=now)
            | Q(lease_until__isnull=True, provider_completed_at__lt=now - timedelta(seconds=15))
        )
        .values_list("pk", flat=True)[:500]
    )
    # A create that was under way when its worker died may or may not have reached the provider:
    # a person has to look, we never send it again on our own.
    interrupted = list(
        VideoJob.objects.filter(state=JobState.SUBMITTING, lease_until__lt=now).select_related(
            "provider"
        )[:500]
    )
    for job in interrupted:
        job.transition(
            JobState.NEEDS_ATTENTION,
            message="Worker stopped while starting this job",
            error_message=_(
                "soraweb was interrupted while starting this video, so it may or may not have been "
                "started (and billed) at the provider. Check the provider, then retry or cancel."
            ),
            lease_until=None,
        )
    for pk in resubmit:
        _enqueue("submit_job", pk)
    for pk in rearchive:
        _enqueue("archive_job", pk)
    return {
        "resubmitted": resubmit,
        "rearchived": rearchive,
        "interrupted": [j.pk for j in interrupted],
    }


# --- User actions --------------------------------------------------------------------------------


def job_cancel(*, job: VideoJob, by) -> bool:
    """Stop a job. Where the format can, the remote job is cancelled too."""
    had_remote = job.state in AT_PROVIDER_STATES and job.remote_id
    if not job.can_cancel:
        return False
    if not job.transition(
        JobState.CANCELLED, message=f"Cancelled by {by}", lease_until=None, next_poll_at=None
    ):
        return False
    if had_remote:
        client = provider_client(job.provider)
        if client.supports_cancel:
            try:
                client.cancel(job.remote_id)
            except ProviderError as exc:
                JobEvent.objects.create(
                    job=job,
                    from_state=job.state,
                    to_state=job.state,
                    message=f"Remote cancel failed: {exc.message}",
                )
    return True


def job_retry(*, job: VideoJob, by, idempotency_key: str | None = None) -> VideoJob:
    """A retry is a new job linked to the original, never a silent re-create of the old one."""
    if not job.can_retry:
        raise ValidationError(_("Only a failed, expired, cancelled or stuck job can be retried."))
    if job.remix_remote_id and job.remix_of is None:
        raise ValidationError(
            _("The video this remix started from was deleted, so it cannot be remixed again.")
        )
    return job_create(
        owner=by,
        video_model=job.video_model,
        prompt_text=job.prompt.text,
        orientation=job.orientation,
        size=job.size,
        duration=job.duration,
        images=list(job.images.all()),
        idempotency_key=idempotency_key,
        retry_of=job,
        image_fit=job.image_fit,
        remix_of=job.remix_of,
    )


# --- Fixing stuck jobs (the admin) -----------------------------------------------------------------


def job_refresh_now(*, job: VideoJob, wait: bool = True) -> bool:
    """Ask again now: check a job at the provider (at once, or via the worker when ``wait`` is
    False), or hand a job that is waiting to start to the worker without further delay."""
    if job.state in AT_PROVIDER_STATES:
        if wait:
            return job_poll_now(job_id=job.pk)
        changed = VideoJob.objects.filter(pk=job.pk, state__in=AT_PROVIDER_STATES).update(
            next_poll_at=timezone.now()
        )
        if changed:
            transaction.on_commit(lambda: _enqueue("poll_job", job.pk))
        return bool(changed)
    if job.state == JobState.PENDING:
        changed = VideoJob.objects.filter(pk=job.pk, state=JobState.PENDING).update(
            next_poll_at=timezone.now()
        )
        if changed:
            transaction.on_commit(lambda: _enqueue("submit_job", job.pk))
        return bool(changed)
    return False


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
            JobEvent.objects.create(
                job=job,
                from_state=job.state,
                to_state=job.state,
                message=f"Saving restarted by {by}",
            )
            transaction.on_commit(lambda: _enqueue("archive_job", job.pk))
        return True
    moved = job.transition(
        JobState.ARCHIVING,
        message=f"Saving again, asked by {by}",
        lease_until=None,
        next_poll_at=None,
        archive_attempts=0,
        finished_at=None,
        error_message="",
    )
    if moved:
        transaction.on_commit(lambda: _enqueue("archive_job", job.pk))
    return moved


def job_mark_failed(*, job: VideoJob, by, reason: str) -> bool:
    """End a job by hand with a reason its owner will read. The provider is not told."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Say why, so the person who made it knows what happened.")}
        )
    if JobState.FAILED not in TRANSITIONS[job.state]:
        raise ValidationError(
            _("A job that is “%(state)s” cannot be marked failed.")
            % {"state": job.get_state_display()}
        )
    return job.transition(
        JobState.FAILED,
        message=f"Marked failed by {by}: {reason}"[:2000],
        error_message=reason[:2000],
        lease_until=None,
        next_poll_at=None,
    )


def job_delete_files(*, job: VideoJob, by) -> list[str]:
    """Delete a job's stored video and poster (to free space or take a video down). The job and
    its history stay; returns the names of the files removed."""
    names = [f.name for f in (job.video, job.poster) if f]
    if not names:
        return []
    storage = job.video.storage
    with transaction.atomic():
        VideoJob.objects.filter(pk=job.pk).update(video="", poster="")
        JobEvent.objects.create(
            job=job,
            from_state=job.state,
            to_state=job.state,
            message=f"Video files deleted by {by}",
            data={"files": names},
        )

        def remove() -> None:
            for name in names:
                try:
                    storage.delete(name)
                except Exception:  # a file already gone must not hide that the rest went
                    logger.warning("could not delete %s", name, exc_info=True)

        transaction.on_commit(remove)
    job.video, job.poster = "", ""
    return names


# --- Reference images -------------------------------------------------------------------------


def reference_image_store(
    *, uploaded_by, name: str, content_type: str, data: bytes, width: int, height: int
) -> ReferenceImage:
    """Store validated image bytes once per user and content (same picture, same row)."""
    from django.core.files.base import ContentFile

    digest = hashlib.sha256(data).hexdigest()
    existing = ReferenceImage.objects.filter(sha256=digest, uploaded_by=uploaded_by).first()
    if existing:
        return existing
    image = ReferenceImage(
        original_name=name[:255],
        content_type=content_type,
        sha256=digest,
        width=width,
        height=height,
        uploaded_by=uploaded_by,
    )
    ext = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}.get(
        content_type, ".png"
    )
    image.file.save(f"{digest}{ext}", ContentFile(data), save=False)
    image.save()
    return image


# --- The studio: picture fitting, reviews, favourites, deleting, remixes, batches ---------------


def reference_fit_for(job: VideoJob) -> tuple[str, tuple[int, int] | None]:
    """How (crop, pad or "" for unchanged) and to what frame a job's reference image is fitted.

    Jobs from before the choice existed get a crop where the format insists on an exact size.
    """
    from soraweb.videos.selectors import provider_needs_exact_image, video_frame

    frame = video_frame(size=job.size, orientation=job.orientation)
    mode = job.image_fit
    if not mode:
        mode = ImageFit.CROP if provider_needs_exact_image(job.provider) else ImageFit.NONE
    return ("" if mode == ImageFit.NONE else mode), frame


def job_review(*, job: VideoJob, reviewer, decision: str, comment: str = "") -> Review:
    """Add a decision (or a plain comment) to a finished video's review thread."""
    comment = (comment or "").strip()
    if decision not in ReviewDecision.values:
        raise ValidationError(
            {"decision": _("Choose “Approve”, “Needs changes”, “Reject” or “Comment only”.")}
        )
    if job.state != JobState.SUCCEEDED:
        raise ValidationError(_("Only a finished video can be reviewed."))
    if decision == ReviewDecision.COMMENT and not comment:
        raise ValidationError({"comment": _("Write a comment first.")})
    if len(comment) > 5000:
        raise ValidationError({"comment": _("A comment can be at most 5,000 characters long.")})
    with transaction.atomic():
        review = Review.objects.create(
            job=job, reviewer=reviewer, decision=decision, comment=comment
        )
        if decision != ReviewDecision.COMMENT:
            VideoJob.objects.filter(pk=job.pk).update(
                review_state=decision, reviewed_at=review.created_at
            )
            job.review_state, job.reviewed_at = decision, review.created_at
    return review


def job_favourite_set(*, job: VideoJob, user, on: bool) -> bool:
    """Mark or unmark a video as one of a person's favourites. Saying the same twice is harmless."""
    if on:
        try:
            with transaction.atomic():
                Favourite.objects.get_or_create(user=user, job=job)
        except IntegrityError:  # the same click arrived twice at once
            pass
    else:
        Favourite.objects.filter(user=user, job=job).delete()
    return on


def job_delete(*, job: VideoJob, by) -> None:
    """Remove a settled job with its video, poster and history. Only its owner or staff may."""
    if not job.is_managed_by(by):
        raise PermissionDenied(
            _("Only the person who made this job, or an administrator, can do that.")
        )
    if not job.can_delete:
        raise ValidationError(_("This video is still being made. Cancel it first, then delete it."))
    files = [f for f in (job.video, job.poster) if f]
    storage = job.video.storage
    names = [f.name for f in files]
    image_ids = list(job.images.values_list("pk", flat=True))
    with transaction.atomic():
        deleted, _counts = VideoJob.objects.filter(pk=job.pk, state__in=SETTLED_STATES).delete()
        if not deleted:
            raise ValidationError(_("This job changed meanwhile; reload the page and try again."))
        if not VideoJob.objects.filter(prompt_id=job.prompt_id).exists():
            Prompt.objects.filter(pk=job.prompt_id).delete()
        orphans = list(ReferenceImage.objects.filter(pk__in=image_ids, jobs__isnull=True))
        names += [image.file.name for image in orphans]
        ReferenceImage.objects.filter(pk__in=[image.pk for image in orphans]).delete()
        logger.info("job %s deleted by %s", job.pk, by)
        transaction.on_commit(lambda: _delete_files(storage, names))


def _delete_files(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # a missing file must not undo the deletion the person asked for
            logger.warning("could not delete %s", name, exc_info=True)


def job_remix(
    *, job: VideoJob, by, prompt_text: str, idempotency_key: str | None = None
) -> VideoJob:
    """A new job that asks the provider to change a finished video; submitted like any other."""
    from soraweb.videos.selectors import provider_can_remix

    if job.state != JobState.SUCCEEDED or not job.remote_id:
        raise ValidationError(_("Only a finished video can be remixed."))
    if not provider_can_remix(job.provider):
        raise ValidationError(_("This video’s provider cannot remix videos."))
    return job_create(
        owner=by,
        video_model=job.video_model,
        prompt_text=prompt_text,
        orientation=job.orientation,
        size=job.size,
        duration=job.duration,
        idempotency_key=idempotency_key,
        remix_of=job,
    )


@dataclass(frozen=True)
class BatchItem:
    """One row of a batch, already read: its number as the person sees it, and its settings."""

    row: int
    prompt: str
    video_model: VideoModel
    orientation: str
    size: str
    duration: int


@dataclass
class BatchOutcome:
    row: int
    prompt: str
    job: VideoJob | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.job is not None


def jobs_create_batch(
    *, owner, items: Sequence[BatchItem], idempotency_key: str | None = None
) -> list[BatchOutcome]:
    """Create one job per row; a row the rules refuse is reported and the others still go.

    Each row gets its own idempotency key derived from the form's, so sending the same batch
    twice (a double click, a reload) creates each job once.
    """
    outcomes = []
    for item in items:
        key = f"{idempotency_key[:56]}-{item.row}" if idempotency_key else None
        try:
            job = job_create(
                owner=owner,
                video_model=item.video_model,
                prompt_text=item.prompt,
                orientation=item.orientation,
                size=item.size,
                duration=item.duration,
                idempotency_key=key,
            )
        except ValidationError as exc:
            outcomes.append(BatchOutcome(row=item.row, prompt=item.prompt, errors=exc.messages))
        else:
            outcomes.append(BatchOutcome(row=item.row, prompt=item.prompt, job=job))
    return outcomes
