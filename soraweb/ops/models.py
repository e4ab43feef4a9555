"""Budgets, the spend ledger, in-app notices and the team's outgoing webhook."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from soraweb.ops.webhook_urls import webhook_url_problem
from soraweb.videos import causes
from soraweb.videos.models import Provider, VideoJob, VideoModel


class _MoneyOptions(TypedDict):
    """The options every amount in US$ shares, typed so `**_MONEY` checks against DecimalField."""

    max_digits: int
    decimal_places: int
    validators: Sequence[Callable[[Any], None]]


_MONEY: _MoneyOptions = {
    "max_digits": 10,
    "decimal_places": 2,
    "validators": [MinValueValidator(Decimal("0"))],
}


class BudgetPolicy(models.Model):
    """The team's spending caps. There is one row (pk=1).

    Every submission locks this row before it adds up what has been spent, so two submissions
    racing for the last of a budget queue up and the second one sees the first one's entry.
    """

    team_daily_limit = models.DecimalField(
        _("team daily limit (US$)"),
        null=True,
        blank=True,
        help_text=_(
            "Most the whole team may spend per day (days in the team's time zone, "
            "SORAWEB_TIME_ZONE). Empty: no limit."
        ),
        **_MONEY,
    )
    team_monthly_limit = models.DecimalField(
        _("team monthly limit (US$)"),
        null=True,
        blank=True,
        help_text=_(
            "Most the whole team may spend per calendar month (in the team's time zone). "
            "Empty: no limit."
        ),
        **_MONEY,
    )
    user_daily_limit = models.DecimalField(
        _("daily limit per person (US$)"),
        null=True,
        blank=True,
        help_text=_("Applies to everyone without a personal limit. Empty: no limit."),
        **_MONEY,
    )
    user_monthly_limit = models.DecimalField(
        _("monthly limit per person (US$)"),
        null=True,
        blank=True,
        help_text=_("Applies to everyone without a personal limit. Empty: no limit."),
        **_MONEY,
    )
    allow_self_approval = models.BooleanField(
        _("people may approve their own videos"),
        default=False,
        help_text=_(
            "Off: someone else must approve a video; its maker can still comment or ask for changes."
        ),
    )
    # Abuse limits: a runaway script or a stuck key must not fill the queue or the bill.
    max_active_jobs_per_user = models.PositiveIntegerField(
        _("videos in progress per person"),
        default=10,
        help_text=_("Most videos one person may have waiting or being made at once. 0: no limit."),
    )
    max_jobs_per_minute_per_user = models.PositiveIntegerField(
        _("new videos per minute per person"),
        default=20,
        help_text=_("Most videos one person may start within one minute. 0: no limit."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("team budget")
        verbose_name_plural = _("team budget")

    def __str__(self) -> str:
        return str(_("Team budget"))

    @property
    def has_spending_limit(self) -> bool:
        return any(
            limit is not None
            for limit in (
                self.team_daily_limit,
                self.team_monthly_limit,
                self.user_daily_limit,
                self.user_monthly_limit,
            )
        )

    @classmethod
    def load(cls) -> BudgetPolicy:
        return cls.objects.get_or_create(pk=1)[0]


class UserBudget(models.Model):
    """A personal cap that replaces the team's per-person default for one user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget"
    )
    daily_limit = models.DecimalField(
        _("daily limit (US$)"),
        null=True,
        blank=True,
        help_text=_("Empty: the team's per-person daily limit applies."),
        **_MONEY,
    )
    monthly_limit = models.DecimalField(
        _("monthly limit (US$)"),
        null=True,
        blank=True,
        help_text=_("Empty: the team's per-person monthly limit applies."),
        **_MONEY,
    )

    class Meta:
        verbose_name = _("personal budget")
        verbose_name_plural = _("personal budgets")

    def __str__(self) -> str:
        return str(self.user)


class LedgerStatus(models.TextChoices):
    RESERVED = "reserved", _("Reserved (not finished yet)")
    CHARGED = "charged", _("Charged")
    NOT_CHARGED = "not_charged", _("Not charged")


# What counts against a budget: everything except what the provider did not bill.
SPENDING_STATUSES = (LedgerStatus.RESERVED, LedgerStatus.CHARGED)


class LedgerEntry(models.Model):
    """What one job costs, estimated at submit and settled when the job ends.

    The names are copied in, so the spend history survives a deleted job, user or model.
    """

    job = models.OneToOneField(
        VideoJob,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entry",
        verbose_name=_("job"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
        verbose_name=_("person"),
    )
    username = models.CharField(_("person"), max_length=150)
    video_model = models.ForeignKey(
        VideoModel, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("model")
    )
    model_name = models.CharField(_("model"), max_length=100)
    provider = models.ForeignKey(
        Provider, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("provider")
    )
    amount = models.DecimalField(_("estimated cost (US$)"), max_digits=10, decimal_places=2)
    charges_failed_jobs = models.BooleanField(
        _("provider charges failed jobs"),
        default=False,
        help_text=_("The provider's setting when the job was submitted."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=LedgerStatus.choices, default=LedgerStatus.RESERVED
    )
    outcome = models.CharField(_("how the job ended"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("submitted"), default=timezone.now, db_index=True)
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="ledger_user_created_idx"),
            models.Index(fields=["status", "created_at"], name="ledger_status_created_idx"),
        ]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger")
        # The studio's own pages check these, never is_staff (a team manager is staff).
        permissions = [
            ("view_spend", _("Can see the spend report")),
            ("view_operations", _("Can see the operations page")),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.model_name} ${self.amount} ({self.status})"

    @property
    def counts(self) -> bool:
        return self.status in SPENDING_STATUSES


class Notice(models.Model):
    """An in-app message for one person: one of their jobs has ended (or needs them)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notices",
        verbose_name=_("person"),
    )
    job = models.ForeignKey(
        VideoJob,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notices",
        verbose_name=_("job"),
    )
    # The job state the notice is about; the sentence is written when it is shown, in the
    # reader's language.
    kind = models.CharField(_("kind"), max_length=20)
    prompt_excerpt = models.CharField(_("prompt"), max_length=120, blank=True)
    detail = models.TextField(_("detail"), blank=True)  # in English, as written
    # Why, as the job recorded it when the notice was made: the words are rendered when shown.
    cause = models.CharField(_("cause"), max_length=40, blank=True)
    cause_facts = models.JSONField(_("cause details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notice_user_read_idx")]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return _("Notice %(n)s for %(person)s") % {"n": self.pk, "person": self.user}

    @property
    def detail_text(self) -> str:
        """The detail in the reader's language."""
        return (causes.problem(self.cause, self.cause_facts) if self.cause else "") or self.detail


def _new_secret() -> str:
    # Standard base64 after the prefix, as Standard Webhooks verifiers decode it.
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class TeamWebhook(models.Model):
    """An address soraweb posts to when a job ends, e.g. a chat channel's incoming webhook."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(
        _("URL"),
        max_length=2000,
        help_text=_(
            "soraweb sends a signed JSON POST here when a job ends. Addresses on a private "
            "network are refused unless the server's SORAWEB_WEBHOOK_ALLOWED_HOSTS names the host."
        ),
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        default=_new_secret,
        help_text=_(
            "Used to sign each request (header X-Soraweb-Signature); give it to the receiver."
        ),
    )
    only_succeeded = models.BooleanField(
        _("only finished videos"),
        default=False,
        help_text=_("Tick to announce ready videos only, not failed or cancelled jobs."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team webhook")
        verbose_name_plural = _("team webhooks")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problem = webhook_url_problem(self.url) if self.url else None
        if problem:
            raise ValidationError({"url": problem})


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Gave up")


class OutgoingDelivery(models.Model):
    """One announcement to one team webhook, with its attempts."""

    webhook = models.ForeignKey(
        TeamWebhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    job = models.ForeignKey(
        VideoJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    delivery_id = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True)
    event = models.CharField(_("event"), max_length=50)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(
        _("status"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
        ]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook} ({self.status})"
