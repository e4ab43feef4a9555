"""A person's own jobs: creating (one, a batch, a remix, a retry), cancelling, and the
pictures they bring. The background steps a job then goes through live in
``soraweb.videos.pipeline``."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.catalogue import rules as catalogue_rules
from soraweb.catalogue.legacy import params_from_legacy
from soraweb.ops import services as ops_services
from soraweb.providers.base import (
    ProviderError,
)
from soraweb.videos.causes import Cause
from soraweb.videos.limits import jobs_limit_check
from soraweb.videos.models import (
    AT_PROVIDER_STATES,
    JobEvent,
    JobState,
    Prompt,
    ReferenceImage,
    VideoJob,
    VideoModel,
)
from soraweb.videos.params import CheckedSettings, check_settings
from soraweb.videos.pipeline import queue
from soraweb.videos.pipeline.common import provider_client
from soraweb.videos.selectors import job_for_idempotency_key, provider_can_remix

logger = logging.getLogger(__name__)

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
    slot_errors: bool = False,
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
        slot_errors=slot_errors,
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
        existing = job_for_idempotency_key(owner=owner, key=idempotency_key)
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
            JobEvent.objects.create(
                job=job, to_state=JobState.PENDING, cause=Cause.CREATED, message="Created"
            )
            ops_services.ledger_record(job=job)
            transaction.on_commit(lambda: queue.hand_over("submit_job", job.pk))
    except IntegrityError:
        # Two identical requests raced past the check above: the other one won.
        existing = job_for_idempotency_key(owner=owner, key=idempotency_key)
        if existing is None:
            raise
        return existing
    return job


# --- User actions --------------------------------------------------------------------------------


def job_cancel(*, job: VideoJob, by) -> bool:
    """Stop a job. Where the format can, the remote job is cancelled too."""
    had_remote = job.state in AT_PROVIDER_STATES and job.remote_id
    if not job.can_cancel:
        return False
    if not job.transition(
        JobState.CANCELLED,
        cause=Cause.CANCELLED,
        facts={"by": str(by)},
        lease_until=None,
        next_poll_at=None,
    ):
        return False
    if had_remote:
        client = provider_client(job.provider)
        if client.supports_cancel:
            try:
                client.cancel(job.remote_id)
            except ProviderError as exc:
                job.note(Cause.REMOTE_CANCEL_FAILED, {"reason": exc.message})
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


def job_retry(
    *,
    job: VideoJob,
    by,
    idempotency_key: str | None = None,
    accept_double_billing: bool = False,
) -> VideoJob:
    """A retry is a new job linked to the original, never a silent re-create of the old one.

    A job that needs attention may have been made (and billed) at the provider after all, so
    trying it again needs ``accept_double_billing``: the person said they know."""
    if not job.can_retry:
        raise ValidationError(_("Only a failed, expired, cancelled or stuck job can be retried."))
    if job.state == JobState.NEEDS_ATTENTION and not accept_double_billing:
        raise ValidationError(
            _(
                "The provider may have made this video already, so trying again may bill it "
                "twice. Tick “I understand it may be billed twice” to try anyway, or ask an "
                "admin to check first."
            )
        )
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


def job_ask_admin(*, job: VideoJob, by) -> bool:
    """Ask the team's admins to check a job that needs attention (whether the provider made
    it). Asking again tells nobody twice. False when the job does not need attention."""
    if job.state != JobState.NEEDS_ATTENTION:
        return False
    with transaction.atomic():
        if not job.events.filter(cause=Cause.HELP_ASKED).exists():
            job.note(Cause.HELP_ASKED, {"by": by.get_username()})
        ops_services.notices_create_for_help(job=job, by=by)
    return True


# --- Reference images -------------------------------------------------------------------------


def reference_image_store(
    *, uploaded_by, name: str, content_type: str, data: bytes, width: int, height: int
) -> ReferenceImage:
    """Store validated image bytes once per user and content (same picture, same row)."""
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


# --- Remixes and batches ---------------------------------------------------------------------


def job_remix(
    *, job: VideoJob, by, prompt_text: str, idempotency_key: str | None = None
) -> VideoJob:
    """A new job that asks the provider to change a finished video; submitted like any other."""
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


def job_remix_cost(job: VideoJob) -> Decimal | None:
    """What a remix of ``job`` would cost now: the same settings, today's prices (None when the
    model no longer takes them)."""
    settings = job_settings(job, with_images=False, lenient=True)
    try:
        return job_validate_settings(video_model=job.video_model, **settings).cost
    except ValidationError:
        return None


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
