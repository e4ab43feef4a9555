"""Writes: every change to jobs goes through a function here.

Each background step claims its job with a conditional UPDATE (see ``VideoJob.transition``)
before doing anything, so overlapping schedules or several workers never repeat a step. The
remote id is stored in the same UPDATE that leaves ``submitting``: nothing happens between the
provider accepting a job and us recording its id.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.providers import make_client
from soraweb.providers.base import (
    CreateRequest,
    ImageInput,
    JobStatus,
    ProviderError,
    RemoteState,
    VideoProvider,
)
from soraweb.videos import archive
from soraweb.videos.models import (
    AT_PROVIDER_STATES,
    JobEvent,
    JobState,
    Prompt,
    Provider,
    ReferenceImage,
    VideoJob,
    VideoModel,
    WebhookDelivery,
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
    """Exponential backoff with full jitter; never sooner than the provider asked."""
    delay = random.uniform(0, min(cap, base * (2 ** max(0, attempt - 1))))
    return max(delay, retry_after or 0.0, 1.0)


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
            "value": orientation,
        }
    if size not in video_model.sizes:
        errors["size"] = _("%(model)s only offers the sizes: %(allowed)s.") % {
            "model": video_model.display_name,
            "allowed": ", ".join(video_model.sizes),
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
                created_at=now,
                deadline_at=now + timedelta(minutes=video_model.deadline_minutes),
                # If the hand-over below is lost (a crash right after commit), the sweeper
                # submits the job after this moment.
                next_poll_at=now + timedelta(seconds=30),
            )
            if images:
                job.images.set(images)
            JobEvent.objects.create(job=job, to_state=JobState.PENDING, message="Created")
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


# --- Submitting --------------------------------------------------------------------------------


def _create_request(job: VideoJob) -> CreateRequest:
    images = []
    for image in job.images.all().order_by("id"):
        with image.file.open("rb") as fh:
            data = fh.read()
        url = None
        if settings.SORAWEB_PUBLIC_URL:
            url = settings.SORAWEB_PUBLIC_URL.rstrip("/") + f"/references/{image.pk}/{image.sha256}"
        images.append(
            ImageInput(
                filename=image.original_name or f"{image.sha256}.png",
                content_type=image.content_type,
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
            **{**fields, "error_message": status.error or _("The provider could not make this video.")},
        )
    elif status.state == RemoteState.EXPIRED:
        job.transition(
            JobState.EXPIRED,
            message="Provider says expired",
            **{**fields, "error_message": _expired_message()},
        )
    else:
        to = JobState.RUNNING if status.state == RemoteState.RUNNING else JobState.QUEUED
        poll_in = max(status.poll_after or 0.0, job.provider.effective_poll_interval)
        job.transition(
            to,
            message=f"Accepted by the provider as {result.remote_id}",
            progress=status.progress or 0,
            started_at=now if to == JobState.RUNNING else None,
            next_poll_at=now + timedelta(seconds=poll_in),
            **fields,
        )
        if settings.SORAWEB_KICK_POLL_LOOP:
            transaction.on_commit(lambda: _enqueue("poll_loop"))


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


def _to_archiving(job: VideoJob, status: JobStatus, **fields) -> None:
    moved = job.transition(
        JobState.ARCHIVING,
        message="Provider finished; saving the video",
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
            error_message=status.error
            or _("The provider could not make this video (no reason given)."),
            **seen,
        )
        return
    if status.state == RemoteState.EXPIRED:
        job.transition(
            JobState.EXPIRED,
            message="Provider reports expired",
            error_message=_expired_message(),
            **seen,
        )
        return
    if job.deadline_at and now >= job.deadline_at:
        job.transition(
            JobState.FAILED,
            message="Deadline passed",
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
        job.transition(JobState.RUNNING, message="Generating", started_at=now, **fields)
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
    """
    now = now or timezone.now()
    due = list(
        VideoJob.objects.filter(state__in=AT_PROVIDER_STATES, next_poll_at__lte=now)
        .select_related("provider", "video_model")
        .order_by("next_poll_at")[:limit]
    )
    if not due:
        return []
    claimed_until = now + timedelta(seconds=60)
    ids = [job.pk for job in due]
    VideoJob.objects.filter(pk__in=ids, next_poll_at__lte=now).update(next_poll_at=claimed_until)
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
        _archive_failed(job, str(exc), permanent=False, expired=False, retry_after=None)
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
    )


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
