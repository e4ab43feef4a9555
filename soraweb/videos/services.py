"""Writes: every change to jobs goes through a function here.

Each background step claims its job with a conditional UPDATE (see ``VideoJob.transition``)
before doing anything, so overlapping schedules or several workers never repeat a step. The
remote id is stored in the same UPDATE that leaves ``submitting``: nothing happens between the
provider accepting a job and us recording its id.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.catalogue import rules as catalogue_rules
from soraweb.catalogue import wire
from soraweb.catalogue.legacy import params_from_legacy
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
from soraweb.providers.common import image_url
from soraweb.providers.http import full_jitter_delay
from soraweb.videos import archive
from soraweb.videos.images import fit_image
from soraweb.videos.limits import jobs_limit_check
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
from soraweb.videos.params import (
    CheckedSettings,
    assign_slots,
    check_settings,
    frame_of,
    job_values,
    mask_body,
)

logger = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 4
MAX_ARCHIVE_ATTEMPTS = 5
MAX_PERMANENT_POLL_ERRORS = 3


def provider_client(provider: Provider) -> VideoProvider:
    return make_client(provider.config())


def backoff_seconds(
    attempt: int, *, base: float = 2.0, cap: float = 300.0, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter; never sooner than the provider asked, nor under 1 s."""
    return max(full_jitter_delay(attempt, base=base, cap=cap), retry_after or 0.0, 1.0)


# --- Creating jobs -----------------------------------------------------------------------------


def job_validate_settings(
    *,
    video_model: VideoModel,
    params: dict | None = None,
    slots: dict[str, list] | None = None,
    images: Sequence = (),
    orientation: str = "",
    size: str = "",
    duration: int | None = None,
    image_count: int | None = None,
) -> CheckedSettings:
    """The catalogue's rules, checked here for every caller (form, batch, remix, retry, "use
    these settings"), so none can skip them. See ``soraweb.videos.params.check_settings``."""
    if image_count is not None and not images:
        images = [None] * image_count
    return check_settings(
        video_model=video_model,
        params=params,
        slots=slots,
        images=images,
        orientation=orientation,
        size=size,
        duration=duration,
    )


def job_create(
    *,
    owner,
    video_model: VideoModel,
    prompt_text: str,
    orientation: str = "",
    size: str = "",
    duration: int | None = None,
    params: dict | None = None,
    slots: dict[str, list[ReferenceImage]] | None = None,
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
    checked = job_validate_settings(
        video_model=video_model,
        params=params,
        slots=slots,
        images=images,
        orientation=orientation,
        size=size,
        duration=duration,
    )
    images = [image for items in checked.slots.values() for image in items]
    cost = checked.cost
    now = timezone.now()
    try:
        with transaction.atomic():
            jobs_limit_check(owner=owner)
            # Locks the team budget until commit, so racing submissions are checked one by one.
            ops_services.budget_check(
                owner=owner,
                amount=cost,
                idempotency_key=idempotency_key,
            )
            prompt = Prompt.objects.create(text=prompt_text, author=owner)
            job = VideoJob.objects.create(
                owner=owner,
                prompt=prompt,
                provider=video_model.provider,
                video_model=video_model,
                model_name=video_model.name,
                params=checked.stored(),
                estimated_cost=cost,
                **checked.summary(),
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
            transaction.on_commit(lambda: _hand_over("submit_job", job.pk))
    except IntegrityError:
        # Two identical requests raced past the check above: the other one won.
        existing = VideoJob.objects.filter(idempotency_key=idempotency_key, owner=owner).first()
        if existing is None:
            raise
        return existing
    return job


def _enqueue(task: str, *args) -> bool:
    from soraweb.videos import tasks

    return tasks.enqueue(task, *args)


# The JobEvent data that marks a job whose hand-over to the worker failed (see _hand_over).
HANDOVER_FAILED = {"handover": "failed"}


def _hand_over(task: str, job_id: int) -> None:
    """Give a committed job's next step to the worker, after commit.

    When the broker cannot take it, the job is already saved: it is marked due at once so the
    sweep (``jobs_recover``, run by every poll pass) hands it over as soon as a worker runs,
    and its history says it waits for the worker, which is what its page tells the person.
    """
    if _enqueue(task, job_id):
        return
    now = timezone.now()
    try:
        if task == "submit_job":
            state = JobState.PENDING
            waiting = VideoJob.objects.filter(pk=job_id, state=state).update(next_poll_at=now)
        elif task == "archive_job":
            state = JobState.ARCHIVING
            waiting = VideoJob.objects.filter(
                pk=job_id, state=state, lease_until__isnull=True
            ).update(lease_until=now)
        else:  # a poll: next_poll_at is already due, the poll loop takes it
            return
        if waiting:
            JobEvent.objects.create(
                job_id=job_id,
                from_state=state,
                to_state=state,
                message="Worker unreachable; waiting for the sweep to hand it over",
                data=HANDOVER_FAILED,
            )
    except Exception:  # the request that saved the job must still succeed
        logger.exception("job %s: could not record the failed hand-over", job_id)


def _kick_poll_loop() -> None:
    from soraweb.videos import tasks

    tasks.kick_poll_loop()


# --- Submitting --------------------------------------------------------------------------------


def _create_request(job: VideoJob) -> CreateRequest:
    """The create call for a job: the body its catalogue mapping writes for the provider's
    format, with each slot's pictures inline (fitted to the frame where the format needs it)."""
    spec = job.video_model.sold_spec()
    if spec is None:
        raise ProviderError(
            f"{job.video_model.display_name} is not sold in this provider's wire format.",
            permanent=True,
        )
    fmt = job.provider.config().wire_format.value
    values, slot_ids = job_values(job, spec)
    by_id = {image.pk: image for image in job.images.all()}
    if not slot_ids and by_id:  # a job whose pictures were never put in slots
        slot_ids = {
            slot: [image.pk for image in items]
            for slot, items in assign_slots(
                spec, sorted(by_id.values(), key=lambda i: i.pk)
            ).items()
            if slot != "__extra__"
        }
    try:
        frame_body = wire.build(spec, fmt, values, prompt=job.prompt.text).body
    except wire.WireError as exc:
        raise ProviderError(f"These settings cannot be sent: {exc}", permanent=True) from None
    fit, frame = reference_fit_for(job, body=frame_body, values=values)
    inputs: dict[str, list[ImageInput]] = {}
    for slot, ids in slot_ids.items():
        for pk in ids:
            image = by_id.get(pk)
            if image is None:
                continue
            with image.file.open("rb") as fh:
                data = fh.read()
            content_type = image.content_type
            # Sent inline (a data: URL, or a file for multipart formats): nothing of ours has to
            # be reachable from the provider, and no public address can leak a team's pictures.
            if fit and frame and (image.width, image.height) != frame:
                # The stored original stays as uploaded; the provider gets a copy cut to the frame.
                data, content_type = fit_image(data, size=frame, mode=fit)
            inputs.setdefault(slot, []).append(
                ImageInput(
                    filename=image.original_name or f"{image.sha256}.png",
                    content_type=content_type,
                    data=data,
                )
            )
    sent = wire.build(spec, fmt, values, prompt=job.prompt.text, inputs=inputs, url_of=image_url)
    return CreateRequest(
        model=sent.model,
        prompt=job.prompt.text,
        orientation=job.orientation,
        size=job.size,
        duration=job.duration,
        images=tuple(image for items in inputs.values() for image in items),
        body=sent.body,
        files=tuple(sent.files),
    )


def _log_wire_body(job: VideoJob, client: VideoProvider, request: CreateRequest) -> None:
    """Keep exactly what is sent (pictures shortened, secrets masked) on the "Sending to the
    provider" entry of the job's history, the step that sent it."""
    body_for = getattr(client, "wire_body", None)
    body = body_for(request) if body_for else request.body
    data = {
        "wire_format": job.provider.config().wire_format.value,
        "body": mask_body(body, provider_secrets(job.provider)),
        "files": [
            {"field": name, "name": image.filename, "bytes": len(image.data)}
            for name, image in request.files
        ],
    }
    event = job.events.filter(to_state=JobState.SUBMITTING).order_by("-id").first()
    if event is not None:
        JobEvent.objects.filter(pk=event.pk).update(data={**(event.data or {}), **data})


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
            request = _create_request(job)
            _log_wire_body(job, client, request)
            result = client.create(request, on_progress=on_progress)
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
        transaction.on_commit(lambda: _hand_over("archive_job", job.pk))


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
        _poll_failed(job, outcome)
    else:
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
        claimed_until = now + timedelta(seconds=60)
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


def _archive_failed(
    job: VideoJob, message: str, *, permanent: bool, expired: bool, retry_after: float | None
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
        delay = backoff_seconds(job.archive_attempts, retry_after=retry_after)
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
        if not _enqueue("submit_job", pk):
            # Broker still down: look again in a few seconds, not on every pass of the loop.
            VideoJob.objects.filter(pk=pk, state=JobState.PENDING).update(
                next_poll_at=now + timedelta(seconds=10)
            )
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


def job_settings(job: VideoJob, *, with_images: bool = True, lenient: bool = False) -> dict:
    """An earlier job's settings and pictures, as ``job_create`` takes them (retry, remix).

    ``lenient`` (a remix: the provider changes the finished video, the settings only describe
    it) keeps the settings the model still takes and lets its defaults fill the rest; it
    carries no pictures."""
    stored = dict(job.params or {})
    if lenient:
        spec = job.video_model.sold_spec()
        stored = stored or params_from_legacy(
            orientation=job.orientation, size=job.size, duration=job.duration
        )
        if spec is not None:
            stored = {
                k: v
                for k, v in stored.items()
                if spec.param(k) is not None
                and not spec.param(k).is_slot
                and not catalogue_rules.resolve(spec, {k: v}).problems
            }
        return {"params": stored, "slots": {}}
    if not stored:
        return {
            "orientation": job.orientation,
            "size": job.size,
            "duration": job.duration,
            "images": list(job.images.all().order_by("id")) if with_images else [],
        }
    spec = job.video_model.catalogue_spec()
    slot_names = {p.name for p in spec.slots()}
    params = {k: v for k, v in stored.items() if k not in slot_names}
    slots: dict[str, list[ReferenceImage]] = {}
    if with_images:
        by_id = {image.pk: image for image in job.images.all()}
        for name in slot_names & set(stored):
            slots[name] = [by_id[pk] for pk in stored[name] if pk in by_id]
    return {"params": params, "slots": slots}


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
        **job_settings(job),
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
            transaction.on_commit(lambda: _hand_over("submit_job", job.pk))
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
            VideoJob.objects.filter(pk=job.pk, state=JobState.ARCHIVING).update(lease_until=None)
            JobEvent.objects.create(
                job=job,
                from_state=job.state,
                to_state=job.state,
                message=f"Saving restarted by {by}",
            )
            transaction.on_commit(lambda: _hand_over("archive_job", job.pk))
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
        transaction.on_commit(lambda: _hand_over("archive_job", job.pk))
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


def reference_fit_for(
    job: VideoJob, *, body: dict | None = None, values: dict | None = None
) -> tuple[str, tuple[int, int] | None]:
    """How (crop, pad or "" for unchanged) and to what frame a job's reference image is fitted.

    The frame is the size the wire body asks for (``1024x1792``, ``1280*720``), else the one the
    aspect ratio and resolution make, else the old size tokens'. Jobs from before the choice
    existed get a crop where the format insists on an exact size.
    """
    from soraweb.videos.selectors import provider_needs_exact_image, video_frame

    frame = frame_of(body or {}, values or {})
    if frame is None:
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
    if decision == ReviewDecision.APPROVED and job.owner_id == reviewer.pk:
        from soraweb.ops.models import BudgetPolicy  # the team's settings row

        if not BudgetPolicy.load().allow_self_approval:
            raise ValidationError(
                {
                    "decision": _(
                        "You cannot approve your own video: someone else on the team has to. "
                        "You can still comment or ask for changes."
                    )
                }
            )
    with transaction.atomic():
        previous = (
            Review.objects.filter(job=job)
            .exclude(decision=ReviewDecision.COMMENT)
            .select_related("reviewer")
            .order_by("-created_at", "-id")
            .first()
        )
        review = Review.objects.create(
            job=job, reviewer=reviewer, decision=decision, comment=comment
        )
        if decision != ReviewDecision.COMMENT:
            VideoJob.objects.filter(pk=job.pk).update(
                review_state=decision, reviewed_at=review.created_at
            )
            job.review_state, job.reviewed_at = decision, review.created_at
            if (
                previous is not None
                and previous.reviewer_id != reviewer.pk
                and previous.decision != decision
            ):
                # Who overrode whom stays in the history even if the thread is read quickly.
                # The message is for the admin's event log; pages render data in their language.
                by, was = reviewer.get_username(), _reviewer_name(previous)
                JobEvent.objects.create(
                    job=job,
                    message=f"{by} replaced {was or 'a former member'}'s verdict "
                    f"({previous.decision} -> {decision})",
                    data={
                        "kind": "verdict_replaced",
                        "by": by,
                        "previous_by": was,
                        "previous": previous.decision,
                        "decision": decision,
                    },
                )
    return review


def _reviewer_name(review: Review) -> str:
    return review.reviewer.get_username() if review.reviewer else ""  # account since deleted


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
    if not job.is_managed_by(by, "delete"):
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
        **job_settings(job, with_images=False, lenient=True),
        idempotency_key=idempotency_key,
        remix_of=job,
    )


@dataclass(frozen=True)
class BatchItem:
    """One row of a batch, already read: its number as the person sees it, and its settings."""

    row: int
    prompt: str
    video_model: VideoModel
    orientation: str = ""
    size: str = ""
    duration: int | None = None
    params: dict = field(default_factory=dict)


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

    A batch that would pass a person's abuse limits is refused whole (ValidationError).

    Each row gets its own idempotency key derived from the form's, so sending the same batch
    twice (a double click, a reload) creates each job once. The rows are saved in one
    transaction: a fault part-way (the database gone) saves none of them, so a person who sends
    the batch again never gets some rows twice; the jobs go to the worker after the commit.
    """
    keys = {
        item.row: f"{idempotency_key[:56]}-{item.row}" if idempotency_key else None
        for item in items
    }
    # The whole batch fits under the abuse limits or nothing is started; rows a resent form
    # already made do not count again.
    made = set(
        VideoJob.objects.filter(
            owner=owner, idempotency_key__in=[k for k in keys.values() if k]
        ).values_list("idempotency_key", flat=True)
    )
    jobs_limit_check(owner=owner, adding=sum(1 for k in keys.values() if k not in made), batch=True)
    outcomes = []
    with transaction.atomic():
        for item in items:
            key = keys[item.row]
            try:
                job = job_create(
                    owner=owner,
                    video_model=item.video_model,
                    prompt_text=item.prompt,
                    orientation=item.orientation,
                    size=item.size,
                    duration=item.duration,
                    params=item.params,
                    idempotency_key=key,
                )
            except ValidationError as exc:
                outcomes.append(BatchOutcome(row=item.row, prompt=item.prompt, errors=exc.messages))
            else:
                outcomes.append(BatchOutcome(row=item.row, prompt=item.prompt, job=job))
    return outcomes
