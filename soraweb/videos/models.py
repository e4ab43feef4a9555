from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from soraweb.providers.base import ChatTools, ProviderConfig, WireFormat
from soraweb.videos import causes


class Provider(models.Model):
    """A relay gateway. The API key is write-only: the admin never shows it again."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    # The environment provider takes its base URL, key and format from SORAWEB_PROVIDER_* at
    # run time (and falls back to the built-in simulator when those are unset), so a secret
    # given by environment is never copied into the database.
    from_environment = models.BooleanField(
        _("configured by environment"),
        default=False,
        help_text=_("Base URL, API key and format come from SORAWEB_PROVIDER_* settings."),
    )
    base_url = models.URLField(
        _("base URL"), blank=True, help_text=_("For example https://relay.example.com/v1")
    )
    wire_format = models.CharField(
        _("wire format"),
        max_length=20,
        choices=[(f.value, f.value) for f in WireFormat],
        default=WireFormat.UNIFIED.value,
    )
    api_key = models.CharField(_("API key"), max_length=500, blank=True)
    extra_headers = models.JSONField(_("extra headers"), default=dict, blank=True)
    concurrency_limit = models.PositiveIntegerField(
        _("concurrent requests"),
        default=16,
        help_text=_("Most requests soraweb sends to this provider at the same time."),
    )
    poll_interval_seconds = models.FloatField(
        _("poll interval (seconds)"),
        default=3.0,
        help_text=_("How often a running job is checked (the provider may ask for longer)."),
    )
    predictive_polling = models.BooleanField(
        _("predictive polling"),
        default=True,
        help_text=_(
            "Ask about a job mostly around when it should finish (from the model's recent "
            "times and the reported progress) instead of at every interval."
        ),
    )
    webhook_secret = models.CharField(_("webhook secret"), max_length=200, blank=True)
    charges_failed_jobs = models.BooleanField(_("charges failed jobs"), default=False)
    chat_tools = models.CharField(
        _("chat tools field"),
        max_length=10,
        choices=[
            (ChatTools.AUTO.value, _("Automatic (strings, then objects if refused)")),
            (ChatTools.STRINGS.value, _("Strings, as in the seeds")),
            (ChatTools.OBJECTS.value, _("Tool objects (LiteLLM and strict relays)")),
            (ChatTools.NONE.value, _("No tools")),
        ],
        default=ChatTools.AUTO.value,
        help_text=_(
            "How the chat format sends its tools field: relays like LiteLLM refuse the seeds' strings and need objects."
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # Set by the first call that could not connect at all, cleared by the next that got an answer:
    # cards say since when, and the first answer after an outage makes every waiting job due.
    unreachable_since = models.DateTimeField(
        _("unreachable since"), null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("provider")
        verbose_name_plural = _("providers")

    def __str__(self) -> str:
        return self.name

    @property
    def is_simulator(self) -> bool:
        return self.from_environment and not settings.SORAWEB_PROVIDER_BASE_URL

    def config(self) -> ProviderConfig:
        if self.from_environment and settings.SORAWEB_PROVIDER_BASE_URL:
            base_url = settings.SORAWEB_PROVIDER_BASE_URL
            wire_format = WireFormat(settings.SORAWEB_PROVIDER_FORMAT)
            api_key = settings.SORAWEB_PROVIDER_API_KEY
        elif self.from_environment:
            base_url, wire_format, api_key = settings.SORAWEB_SIMULATOR_URL, WireFormat.UNIFIED, ""
        else:
            base_url, wire_format, api_key = (
                self.base_url,
                WireFormat(self.wire_format),
                self.api_key,
            )
        return ProviderConfig(
            base_url=base_url,
            wire_format=wire_format,
            api_key=api_key,
            connect_timeout=settings.SORAWEB_PROVIDER_CONNECT_TIMEOUT,
            read_timeout=settings.SORAWEB_PROVIDER_READ_TIMEOUT,
            stream_read_timeout=settings.SORAWEB_PROVIDER_STREAM_TIMEOUT,
            max_download_bytes=settings.SORAWEB_MAX_VIDEO_BYTES,
            extra_headers=dict(self.extra_headers or {}),
            chat_tools=ChatTools(self.chat_tools or ChatTools.AUTO.value),
        )

    @property
    def webhook_secret_value(self) -> str:
        return (
            settings.SORAWEB_PROVIDER_WEBHOOK_SECRET
            if self.from_environment
            else self.webhook_secret
        )

    @property
    def effective_poll_interval(self) -> float:
        # The simulator finishes in seconds; real relays are asked about every few seconds.
        return 1.0 if self.is_simulator else max(1.0, self.poll_interval_seconds)


class VideoModel(models.Model):
    """One entry of the model catalogue: what can be asked of which provider, at what price."""

    name = models.CharField(_("model name sent to the provider"), max_length=100)
    display_name = models.CharField(_("display name"), max_length=100)
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="models", verbose_name=_("provider")
    )
    orientations = models.JSONField(_("orientations"), default=list)
    sizes = models.JSONField(_("sizes"), default=list)
    durations = models.JSONField(_("durations (seconds)"), default=list)
    default_size = models.CharField(_("default size"), max_length=30, blank=True)
    default_duration = models.PositiveIntegerField(_("default duration"), null=True, blank=True)
    max_images = models.PositiveIntegerField(
        _("reference images allowed"), default=1, help_text=_("0 means text-to-video only.")
    )
    # {"small": "0.10", "large": "0.30"}: US dollars per second of video, per size.
    price_per_second = models.JSONField(_("price per second by size"), default=dict, blank=True)
    deadline_minutes = models.PositiveIntegerField(_("deadline (minutes)"), default=30)
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    # The catalogue entry (soraweb.catalogue): parameters, rules, prices, wire mapping. Empty on
    # rows written the old way; those are read through the legacy converter above.
    spec = models.JSONField(_("catalogue entry"), default=dict, blank=True)

    class Meta:
        ordering = ["position", "display_name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="unique_model_per_provider")
        ]
        verbose_name = _("video model")
        verbose_name_plural = _("video models")

    def __str__(self) -> str:
        return self.display_name

    def price_for(self, size: str) -> Decimal:
        return Decimal(str((self.price_per_second or {}).get(size, "0")))

    def estimate_cost(self, size: str, duration: int) -> Decimal:
        return (self.price_for(size) * duration).quantize(Decimal("0.01"))

    def rules(self) -> dict[str, Any]:
        return {
            "orientations": list(self.orientations),
            "sizes": list(self.sizes),
            "durations": [int(d) for d in self.durations],
            "max_images": self.max_images,
        }

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from soraweb.catalogue.io import load_model
        from soraweb.catalogue.schema import SpecError

        super().clean()
        if self.spec:
            try:
                load_model(self.spec)
            except SpecError as exc:
                raise ValidationError({"spec": [f"{p}: {m}" for p, m in exc.problems]}) from None

    def catalogue_spec(self):
        """This row's catalogue entry as a ``ModelSpec`` (every format it is sold in)."""
        from soraweb.catalogue.io import load_model
        from soraweb.catalogue.legacy import spec_from_legacy

        data = self.spec or spec_from_legacy(
            name=self.name,
            display_name=self.display_name,
            orientations=list(self.orientations or []),
            sizes=list(self.sizes or []),
            durations=[int(d) for d in self.durations or []],
            default_size=self.default_size,
            default_duration=self.default_duration,
            max_images=self.max_images,
            price_per_second=dict(self.price_per_second or {}),
            deadline_minutes=self.deadline_minutes,
        )
        spec = load_model(data)
        # The row's own name wins: relays rename models, and the admin edits the row.
        return spec if spec.name == self.name else dataclasses.replace(spec, name=self.name)

    def sold_spec(self):
        """The entry as this row's provider sells it: only what its wire format can carry."""
        from soraweb.catalogue.wire import WireError, for_format

        spec = self.catalogue_spec()
        fmt = self.provider.config().wire_format.value
        try:
            return for_format(spec, fmt)
        except WireError:
            return None  # not sold in this format: the form and services refuse it


class Prompt(models.Model):
    text = models.TextField(_("prompt"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="prompts",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("prompt")
        verbose_name_plural = _("prompts")

    def __str__(self) -> str:
        return self.text[:80]


def _image_path(instance: ReferenceImage, filename: str) -> str:
    ext = os.path.splitext(filename)[1].lower() or ".png"
    return f"references/{instance.sha256[:2]}/{instance.sha256}{ext}"


class ReferenceImage(models.Model):
    # The id in addresses and forms: random, so one person's picture cannot be found by counting.
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(_("file"), upload_to=_image_path)
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    content_type = models.CharField(_("file type"), max_length=50, default="image/png")
    sha256 = models.CharField(_("checksum (SHA-256)"), max_length=64, db_index=True)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reference_images",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("reference image")
        verbose_name_plural = _("reference images")

    def __str__(self) -> str:
        return self.original_name or self.sha256[:12]


class JobState(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    SUBMITTING = "submitting", _("Starting")
    QUEUED = "queued", _("Queued at provider")
    RUNNING = "running", _("Generating")
    ARCHIVING = "archiving", _("Saving video")
    SUCCEEDED = "succeeded", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    NEEDS_ATTENTION = "needs_attention", _("Needs attention")
    CANCELLED = "cancelled", _("Cancelled")


# The state machine, written down once. Anything not listed here is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    JobState.PENDING: frozenset({JobState.SUBMITTING, JobState.CANCELLED, JobState.FAILED}),
    JobState.SUBMITTING: frozenset(
        {
            JobState.PENDING,  # the request never reached the provider: safe to try again
            JobState.QUEUED,
            JobState.RUNNING,
            JobState.ARCHIVING,  # formats that stream the whole generation out of create
            JobState.FAILED,
            JobState.EXPIRED,  # a create answered "expired": read like any other answer
            JobState.NEEDS_ATTENTION,
            JobState.CANCELLED,
        }
    ),
    JobState.QUEUED: frozenset(
        {
            JobState.RUNNING,
            JobState.ARCHIVING,
            JobState.FAILED,
            JobState.EXPIRED,
            JobState.CANCELLED,
        }
    ),
    JobState.RUNNING: frozenset(
        {JobState.QUEUED, JobState.ARCHIVING, JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED}
    ),
    JobState.ARCHIVING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.EXPIRED}),
    # Queued again only by staff who found the job at the provider ("adopt").
    JobState.NEEDS_ATTENTION: frozenset({JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}),
    JobState.SUCCEEDED: frozenset(),
    # Only by an admin ("save again"): the provider made the video but storing it failed.
    JobState.FAILED: frozenset({JobState.ARCHIVING}),
    JobState.EXPIRED: frozenset(),
    JobState.CANCELLED: frozenset(),
}
ACTIVE_STATES = frozenset(
    {JobState.PENDING, JobState.SUBMITTING, JobState.QUEUED, JobState.RUNNING, JobState.ARCHIVING}
)
AT_PROVIDER_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
# States that wait for no machine: finished, or waiting for a person.
SETTLED_STATES = frozenset(set(JobState.values) - set(ACTIVE_STATES))
# States whose cause the job keeps (VideoJob.cause): why it ended badly or waits for a person.
CAUSED_STATES = frozenset(
    {JobState.FAILED, JobState.EXPIRED, JobState.NEEDS_ATTENTION, JobState.CANCELLED}
)


class InvalidTransition(Exception):
    pass


class ReviewState(models.TextChoices):
    """Where a finished video stands in the team's review (the latest decision wins)."""

    UNREVIEWED = "unreviewed", _("Not reviewed")
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Needs changes")
    REJECTED = "rejected", _("Rejected")


class ImageFit(models.TextChoices):
    """How a reference image is made to match the video frame before it is sent."""

    CROP = "crop", _("Crop to fill the frame")
    PAD = "pad", _("Add bars to fit the frame")
    NONE = "none", _("Send unchanged")


def _video_path(instance: VideoJob, filename: str) -> str:
    return f"videos/{instance.created_at:%Y/%m}/job-{instance.pk}{os.path.splitext(filename)[1]}"


def remote_id_digest(remote_id: str) -> str:
    """The indexed key of a remote id: its SHA-256 (empty for no id)."""
    return hashlib.sha256(remote_id.encode("utf-8")).hexdigest() if remote_id else ""


def job_facets(
    params: Any, *, orientation: str = "", size: str = ""
) -> tuple[str, str, bool | None]:
    """(aspect ratio, resolution, sound) of a job: from its stored settings, else from the old
    orientation / size tokens (portrait 9:16, landscape 16:9, small 720p, large 1080p, a WxH
    size by its short side)."""
    from soraweb.catalogue.legacy import ORIENTATION_RATIO, SIZE_RESOLUTION
    from soraweb.catalogue.wire import SHORT_SIDE

    params = params if isinstance(params, dict) else {}
    ratio = params.get("aspect_ratio")
    ratio = str(ratio) if ratio else ORIENTATION_RATIO.get(orientation, "")
    resolution = params.get("resolution")
    if not resolution:
        resolution = SIZE_RESOLUTION.get(size, "")
        dims = [int(n) for n in size.lower().replace("*", "x").split("x") if n.isdigit()]
        if not resolution and len(dims) == 2:
            by_side: dict[int, str] = {}
            for token, side in SHORT_SIDE.items():
                by_side.setdefault(side, token)  # 1440 is "1440p" before "2k"
            resolution = by_side.get(min(dims), "")
    audio = params.get("audio")
    return ratio[:20], str(resolution)[:20], audio if isinstance(audio, bool) else None


class VideoJobQuerySet(models.QuerySet):
    def with_remote_id(self, remote_id: str) -> VideoJobQuerySet:
        """Jobs whose remote id is exactly ``remote_id`` (found by the digest's index)."""
        return self.filter(remote_id_sha256=remote_id_digest(remote_id), remote_id=remote_id)

    def active(self) -> VideoJobQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def succeeded(self) -> VideoJobQuerySet:
        return self.filter(state=JobState.SUCCEEDED)


class VideoJob(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="video_jobs",
        verbose_name=_("owner"),
    )
    prompt = models.ForeignKey(
        Prompt, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("prompt")
    )
    images = models.ManyToManyField(
        ReferenceImage, blank=True, related_name="jobs", verbose_name=_("reference images")
    )
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("provider")
    )
    video_model = models.ForeignKey(
        VideoModel, on_delete=models.PROTECT, related_name="jobs", verbose_name=_("video model")
    )
    model_name = models.CharField(
        _("model"), max_length=100
    )  # as sent, kept if the catalogue changes
    orientation = models.CharField(_("orientation"), max_length=20)
    size = models.CharField(_("size"), max_length=30)
    duration = models.PositiveIntegerField(_("duration"))
    # Every setting as picked and checked by the catalogue (aspect_ratio, resolution, audio, ...);
    # input slots hold the ReferenceImage ids they were given. orientation / size / duration
    # above are kept as a summary for lists and filters.
    params = models.JSONField(_("settings"), default=dict, blank=True)
    # Three facts of params kept in indexed columns for the gallery's filters (filled on save
    # from params, or from orientation / size for jobs made before params existed).
    aspect_ratio = models.CharField(_("aspect ratio"), max_length=20, blank=True, default="")
    resolution = models.CharField(_("resolution"), max_length=20, blank=True, default="")
    audio = models.BooleanField(_("sound"), null=True, blank=True)  # None: the model has no say
    estimated_cost = models.DecimalField(
        _("estimated cost"), max_digits=10, decimal_places=2, default=Decimal("0")
    )

    state = models.CharField(
        _("state"), max_length=20, choices=JobState.choices, default=JobState.PENDING
    )
    # Ids of any length (LiteLLM's are 266+ characters and gateways may nest them further): the
    # whole id is kept and sent; lookups go through the indexed digest, since a B-tree index on
    # the text itself breaks past ~2,700 bytes on PostgreSQL.
    remote_id = models.TextField(_("remote id"), blank=True)
    remote_id_sha256 = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    raw_status = models.CharField(_("provider status"), max_length=100, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)
    error_message = models.TextField(_("error"), blank=True)
    # Why the job ended (or waits for a person): the cause of that transition and its facts.
    # Pages render their words from these; error_message is the same sentence in English.
    cause = models.CharField(_("cause"), max_length=40, blank=True, db_index=True)  # a Cause
    cause_facts = models.JSONField(_("cause details"), default=dict, blank=True)
    # Not stored: set on a job object by the poll claim (when its status query was claimed).
    poll_claimed_at: datetime | None = None
    # Not stored: a gallery tile's settings in words (selectors.gallery_settings_words).
    settings_words: list[str] | None = None

    # One moment per phase.
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(_("sent to the provider"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    provider_completed_at = models.DateTimeField(
        _("finished at the provider"), null=True, blank=True
    )
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)

    # Scheduling: a background step claims a job by moving these forward conditionally.
    next_poll_at = models.DateTimeField(_("next check"), null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(_("claimed by a worker until"), null=True, blank=True)
    refresh_requested_at = models.DateTimeField(_("refresh asked for"), null=True, blank=True)
    # Until when an open tab shows this job (its live stream names it; renewed while the tab is
    # open): the planner then asks about it densely where it would otherwise wait a whole fixed
    # interval (pipeline.common.plan_next_poll).
    watched_until = models.DateTimeField(_("watched in a tab until"), null=True, blank=True)
    # The first progress report above zero and the latest, [unix seconds, percent] each: their
    # slope says when the job should finish (pipeline.common.plan_next_poll).
    progress_seen = models.JSONField(default=dict, blank=True, editable=False)

    submit_attempts = models.PositiveIntegerField(_("send attempts"), default=0)
    poll_count = models.PositiveIntegerField(_("checks"), default=0)
    # consecutive transient failures
    poll_errors = models.PositiveIntegerField(_("failed checks in a row"), default=0)
    archive_attempts = models.PositiveIntegerField(_("save attempts"), default=0)

    remote_video_url = models.URLField(_("provider's video address"), max_length=2000, blank=True)
    remote_thumbnail_url = models.URLField(
        _("provider's thumbnail address"), max_length=2000, blank=True
    )
    video = models.FileField(_("video"), upload_to=_video_path, blank=True)
    poster = models.FileField(_("poster"), upload_to=_video_path, blank=True)
    video_sha256 = models.CharField(_("video checksum (SHA-256)"), max_length=64, blank=True)
    video_bytes = models.BigIntegerField(_("video size (bytes)"), null=True, blank=True)
    video_width = models.PositiveIntegerField(_("video width"), null=True, blank=True)
    video_height = models.PositiveIntegerField(_("video height"), null=True, blank=True)
    video_seconds = models.FloatField(_("video length (seconds)"), null=True, blank=True)

    # Unique per owner (see Meta): keys are looked up per person, so another person's key is new.
    # NULL, not "", for "no key": NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    retry_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        verbose_name=_("retry of"),
    )
    # "" on jobs made before fitting existed: formats that need an exact size get a crop.
    image_fit = models.CharField(
        _("picture fit"), max_length=10, choices=ImageFit.choices, blank=True, default=""
    )
    # A remix starts from a finished video at the provider: the remote id is kept on the new job
    # so it can be submitted even if the original is deleted meanwhile.
    remix_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="remixes",
        verbose_name=_("remix of"),
    )
    remix_remote_id = models.TextField(blank=True)
    # The latest review decision, kept on the job so the gallery can filter without a join.
    review_state = models.CharField(
        _("review"), max_length=20, choices=ReviewState.choices, default=ReviewState.UNREVIEWED
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)

    objects = VideoJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "next_poll_at"], name="job_state_poll_idx"),
            # The model's recent generation times (pipeline.common.generation_stats).
            models.Index(
                fields=["video_model", "-provider_completed_at"], name="job_model_completed_idx"
            ),
            # Each ordering a page is read in has its index, down to the tie-breaking id, so
            # keyset paging starts at the cursor (selectors.py).
            models.Index(fields=["owner", "-created_at", "-id"], name="job_owner_created_id_idx"),
            models.Index(fields=["state", "-finished_at", "-id"], name="job_state_finished_id_idx"),
            models.Index(
                fields=["state", "-duration", "-finished_at", "-id"], name="job_state_longest_idx"
            ),
            models.Index(
                fields=["state", "review_state", "-finished_at"], name="job_state_review_idx"
            ),
            # The gallery's resolution / aspect ratio / sound filters, and the menus of the
            # values present (read from this index alone).
            models.Index(
                fields=["state", "resolution", "aspect_ratio", "audio"], name="job_state_facets_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"], name="unique_idempotency_key_per_owner"
            )
        ]
        verbose_name = _("video job")
        verbose_name_plural = _("video jobs")

    def __str__(self) -> str:
        # Read by people (admin titles, breadcrumbs, messages): the state's label, in their language.
        return _("Job %(n)s (%(state)s)") % {"n": self.pk, "state": self.get_state_display()}

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Rows written by save() (admin, fixtures) keep the lookup digest in step with the id;
        # the pipeline's conditional UPDATEs do the same in transition().
        self.remote_id_sha256 = remote_id_digest(self.remote_id)
        if not (self.aspect_ratio or self.resolution) and self.audio is None:
            self.aspect_ratio, self.resolution, self.audio = job_facets(
                self.params, orientation=self.orientation, size=self.size
            )
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "remote_id" in update_fields:
            kwargs["update_fields"] = {*update_fields, "remote_id_sha256"}
        super().save(*args, **kwargs)

    # The states at the provider, for modules that reach this model through the app registry
    # (soraweb.videos.live, which the models import) rather than by importing this module.
    at_provider_states = AT_PROVIDER_STATES

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def can_cancel(self) -> bool:
        return JobState.CANCELLED in TRANSITIONS[self.state]

    @property
    def can_retry(self) -> bool:
        return self.state in {
            JobState.FAILED,
            JobState.EXPIRED,
            JobState.CANCELLED,
            JobState.NEEDS_ATTENTION,
        }

    @property
    def can_delete(self) -> bool:
        # A job still being worked on is cancelled first, so no worker writes to a deleted row.
        return not self.is_active

    def is_managed_by(self, user, action: str = "change") -> bool:
        """The owner may cancel, retry (``change``) or ``delete`` a job; so may whoever holds the
        matching permission (``videos.change_videojob`` / ``videos.delete_videojob``). Being
        staff is not enough: a team manager is staff but may only look after accounts."""
        if not (user and user.is_authenticated):
            return False
        return self.owner_id == user.pk or user.has_perm(f"videos.{action}_videojob")

    def elapsed(self) -> timedelta:
        return (self.finished_at or timezone.now()) - self.created_at

    def transition(
        self,
        to: str,
        *,
        cause: str = "",
        facts: dict | None = None,
        message: str = "",
        data: dict | None = None,
        **fields: Any,
    ) -> bool:
        """Move to ``to`` only if the job is still in the state this object was loaded in.

        The conditional UPDATE is the claim: when two workers race, exactly one sees a row
        change. Returns False (and changes nothing) when another process got there first.

        ``cause`` and its ``facts`` say why (soraweb.videos.causes); the history line and, for an
        ending, the job's ``error_message`` are rendered from them unless given.
        """
        old = self.state
        if to not in TRANSITIONS[old]:
            raise InvalidTransition(f"{old} -> {to} is not allowed")
        facts = facts or {}
        if cause:
            message = message or causes.in_english(causes.history_line, cause, facts)
            if cause in causes.PROBLEMS and not fields.get("error_message"):
                fields["error_message"] = causes.in_english(causes.problem, cause, facts)
        if to in CAUSED_STATES:
            fields.setdefault("cause", cause)
            fields.setdefault("cause_facts", facts)
        elif old in CAUSED_STATES:
            fields.setdefault("cause", "")  # saved again after all: the old ending is history
            fields.setdefault("cause_facts", {})
            fields.setdefault("error_message", "")
        if "remote_id" in fields:
            fields["remote_id_sha256"] = remote_id_digest(fields["remote_id"])
        now = timezone.now()
        if to in SETTLED_STATES and "finished_at" not in fields:
            fields["finished_at"] = now
        with transaction.atomic():
            changed = type(self).objects.filter(pk=self.pk, state=old).update(state=to, **fields)
            if not changed:
                return False
            JobEvent.objects.create(
                job_id=self.pk,
                from_state=old,
                to_state=to,
                cause=cause,
                message=message[:2000],
                data={**facts, **(data or {})},
            )
            if to in SETTLED_STATES:
                job_id = self.pk
                transaction.on_commit(lambda: _send_settled(job_id, old, to))
            from soraweb.videos import live

            live.job_changed(self.pk)  # open tabs fetch the card once this commits
        self.state = to
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):  # F() counters: left for refresh_from_db
                setattr(self, name, value)
        return True

    @property
    def help_asked(self) -> bool:
        """Whether the owner has asked an admin to check this job (one query: ask it only of
        jobs that need attention)."""
        return self.events.filter(cause=causes.Cause.HELP_ASKED).exists()

    @property
    def problem_text(self) -> str:
        """What went wrong, in the viewer's language (the stored English for old jobs)."""
        return (causes.problem(self.cause, self.cause_facts) if self.cause else "") or (
            self.error_message
        )

    def note(self, cause: str, facts: dict | None = None, **data: Any) -> JobEvent:
        """A history entry without a state change (a retry planned, a webhook, files deleted)."""
        facts = facts or {}
        return JobEvent.objects.create(
            job_id=self.pk,
            from_state=self.state,
            to_state=self.state,
            cause=cause,
            message=causes.in_english(causes.history_line, cause, facts)[:2000],
            data={**facts, **data},
        )


def _send_settled(job_id: int, from_state: str, to_state: str) -> None:
    from soraweb.videos.signals import job_settled

    job = VideoJob.objects.select_related("owner", "prompt", "video_model", "provider").get(
        pk=job_id
    )
    job_settled.send(sender=VideoJob, job=job, from_state=from_state, to_state=to_state)


class JobEvent(models.Model):
    """The job's history: every state change with its time and cause."""

    job = models.ForeignKey(VideoJob, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("time"), default=timezone.now)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    cause = models.CharField(max_length=40, blank=True, db_index=True)  # a Cause
    message = models.TextField(blank=True)  # the history line in English, as written
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        def label(state: str) -> str:
            return str(JobState(state).label) if state in JobState.values else state or "—"

        return f"{label(self.from_state)} → {label(self.to_state)}"

    @property
    def sentence(self) -> str:
        """The history line in the viewer's language, from its cause and facts."""
        return (causes.history_line(self.cause, self.data) if self.cause else "") or self.message


class LiveEvent(models.Model):
    """ "Job N changed": the database channel of live pages (``soraweb.videos.live``) when there
    is no Redis. Only the id travels; rows older than a minute are pruned."""

    job_id = models.BigIntegerField()  # no foreign key: a notice about a deleted job is harmless
    at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"job {self.job_id} changed at {self.at:%H:%M:%S}"


class WorkerLease(models.Model):
    """A named lease, so only one poll loop runs at a time across every worker and machine."""

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=100, blank=True)
    until = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.until:%H:%M:%S}"


class WebhookDelivery(models.Model):
    """Delivery ids already handled: senders retry for days, so each id is acted on once."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    webhook_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100, blank=True)
    remote_id = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "webhook_id"], name="unique_webhook_delivery"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", _("Approved")
    CHANGES_REQUESTED = "changes_requested", _("Needs changes")
    REJECTED = "rejected", _("Rejected")
    COMMENT = "comment", _("Comment")


class Review(models.Model):
    """One entry of a job's review thread: a decision (or a plain comment) with its author."""

    job = models.ForeignKey(VideoJob, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="reviews",
    )
    decision = models.CharField(_("decision"), max_length=20, choices=ReviewDecision.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["job", "created_at"], name="review_job_created_idx")]
        verbose_name = _("review")
        verbose_name_plural = _("reviews")

    def __str__(self) -> str:
        return f"{self.decision} on job {self.job_id}"


class Favourite(models.Model):
    """A person's bookmark on a video; each person has their own."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favourites"
    )
    job = models.ForeignKey(VideoJob, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "job"], name="unique_favourite_per_user")
        ]
        verbose_name = _("favourite")
        verbose_name_plural = _("favourites")

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.job_id}"


class Preferences(models.Model):
    """What a person's pages are shown with: their time zone and language (soraweb.zones).

    Both are remembered from their browser, so that what is written for them outside a request
    (e-mails) reads the same as their pages.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="preferences",
        verbose_name=_("person"),
    )
    # An IANA name ("Asia/Shanghai"), checked against zoneinfo when set and when read.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    # The language their pages were last shown in ("zh-hans"); "" until the first visit.
    language = models.CharField(_("language"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("preferences")
        verbose_name_plural = _("preferences")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.time_zone}"


def _sent_image_path(instance: SentImage, filename: str) -> str:
    ext = os.path.splitext(filename)[1].lower() or ".png"
    return f"sent/job-{instance.job_id}/{instance.slot}-{instance.position}{ext}"


class SentImage(models.Model):
    """The copy of a picture a provider actually received for one slot of a job: the original
    cropped, or with bars, to the video frame. Kept so the job's page can show what was sent
    beside what was uploaded. A picture sent as it was uploaded has none."""

    job = models.ForeignKey(
        VideoJob, on_delete=models.CASCADE, related_name="sent_images", verbose_name=_("job")
    )
    original = models.ForeignKey(
        ReferenceImage,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("original picture"),
    )
    slot = models.CharField(_("slot"), max_length=64)  # the catalogue's name: first_frame, ...
    position = models.PositiveSmallIntegerField(_("position in the slot"), default=0)
    file = models.FileField(_("file"), upload_to=_sent_image_path)
    content_type = models.CharField(_("file type"), max_length=50, default="image/png")
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    fit = models.CharField(_("fit"), max_length=10, choices=ImageFit.choices)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("sent picture")
        verbose_name_plural = _("sent pictures")
        constraints = [
            models.UniqueConstraint(
                fields=["job", "slot", "position"], name="sentimage_one_per_slot_position"
            )
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} {self.slot}[{self.position}]"
