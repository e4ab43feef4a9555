"""Writes for operations: spending caps and the ledger, notices, e-mail and the team webhook.

Budget rule: a job counts against its owner's and the team's caps from the moment it is
submitted (its estimated cost is *reserved*). When it ends the entry is settled: a finished
video is *charged*; a failed, expired or cancelled one is charged only when its provider bills
failed jobs (``Provider.charges_failed_jobs``), and never when it was not sent at all.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from soraweb.money import money
from soraweb.ops import selectors
from soraweb.ops.models import (
    BudgetPolicy,
    DeliveryStatus,
    LedgerEntry,
    LedgerStatus,
    Notice,
    OutgoingDelivery,
    TeamWebhook,
)
from soraweb.ops.queue import enqueue
from soraweb.ops.webhook_urls import WebhookRefused, allowed_origins, check_url, private_refusal
from soraweb.providers import ProviderError
from soraweb.providers.http import shorten
from soraweb.providers.transport import (
    AddressRefused,
    guarded_session,
    parse_fetch_url,
)
from soraweb.videos.models import JobState, VideoJob

logger = logging.getLogger(__name__)


# --- Budgets and the ledger ---------------------------------------------------------------------


def _locked_policy() -> BudgetPolicy:
    """The team budget row, locked until the surrounding transaction ends.

    On PostgreSQL ``SELECT ... FOR UPDATE`` makes a second submission wait here until the first
    has committed its ledger entry. SQLite has no row locks, but soraweb opens its transactions
    with BEGIN IMMEDIATE (settings), which serialises writers the same way.
    """
    policy = BudgetPolicy.objects.select_for_update().filter(pk=1).first()
    if policy is None:
        BudgetPolicy.objects.get_or_create(pk=1)
        policy = BudgetPolicy.objects.select_for_update().get(pk=1)
    return policy


def budget_check(
    *,
    owner,
    amount: Decimal,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> None:
    """Refuse a job that would take ``owner`` or the team past a daily or monthly cap.

    Call it inside the transaction that creates the job, before the job exists, and record the
    ledger entry (``ledger_record``) in the same transaction: the lock taken here is what stops
    two submissions from both spending the last of a budget.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("budget_check must run inside the transaction that records the job")
    if amount <= 0:
        return
    limits = selectors.budget_limits(user=owner)
    if all(limit is None for limit in vars(limits).values()):
        return  # nothing to enforce: no need to queue submissions behind each other
    policy = _locked_policy()
    if (
        idempotency_key
        and VideoJob.objects.filter(idempotency_key=idempotency_key, owner=owner).exists()
    ):
        return  # a resent form: the job it made already counts, and job_create returns it
    ledger_reconcile()
    p = selectors.periods(now)
    limits = selectors.budget_limits(user=owner, policy=policy)  # as they are under the lock
    spent = selectors.spend_totals(user=owner, now=p.now)
    checks = [
        ("user", "daily", limits.user_daily, spent.user_day),
        ("user", "monthly", limits.user_monthly, spent.user_month),
        ("team", "daily", limits.team_daily, spent.team_day),
        ("team", "monthly", limits.team_monthly, spent.team_month),
    ]
    over = [
        (limit - used, who, period, limit)
        for who, period, limit, used in checks
        if limit is not None and used + amount > limit
    ]
    if not over:
        return
    left, who, period, limit = min(over, key=lambda o: o[0])
    raise ValidationError(
        {NON_FIELD_ERRORS: _cap_message(amount, max(left, Decimal("0")), who, period, limit, p)}
    )


def _cap_message(
    amount: Decimal, left: Decimal, who: str, period: str, limit: Decimal, p: selectors.Periods
) -> str:
    values = {"cost": money(amount), "left": money(left), "limit": money(limit)}
    if who == "user" and period == "daily":
        text = _(
            "This video would cost %(cost)s; you have %(left)s left of your %(limit)s daily limit."
        )
    elif who == "user":
        text = _(
            "This video would cost %(cost)s; you have %(left)s left of your %(limit)s monthly limit."
        )
    elif period == "daily":
        text = _(
            "This video would cost %(cost)s; the team has %(left)s left of its %(limit)s daily limit."
        )
    else:
        text = _(
            "This video would cost %(cost)s; the team has %(left)s left of its %(limit)s monthly limit."
        )
    # The team's midnight, read in the viewer's zone ("It resets at 08:00 (Asia/Shanghai).").
    r = selectors.budget_resets(p.now)
    if period == "daily":
        resets = _("It resets at %(time)s (%(zone)s).") % {"time": r.day_time, "zone": r.zone}
    else:
        resets = _("It resets on %(date)s at %(time)s (%(zone)s).") % {
            "date": r.month_date,
            "time": r.month_time,
            "zone": r.zone,
        }
    advice = _("A shorter or smaller video costs less, or ask an administrator to raise the limit.")
    return f"{text % values} {resets} {advice}"


def ledger_record(*, job: VideoJob) -> LedgerEntry:
    """The ledger entry for a job just created (same transaction as ``budget_check``)."""
    provider = job.provider
    return LedgerEntry.objects.create(
        job=job,
        user=job.owner,
        username=job.owner.get_username(),
        video_model=job.video_model,
        model_name=job.video_model.display_name,
        provider=provider,
        amount=job.estimated_cost,
        charges_failed_jobs=provider.charges_failed_jobs,
        status=LedgerStatus.RESERVED,
        created_at=job.created_at,
    )


def _status_for(job: VideoJob, entry: LedgerEntry) -> str:
    if job.state == JobState.SUCCEEDED:
        return LedgerStatus.CHARGED
    if job.state in (JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED):
        never_sent = job.submit_attempts == 0 and not job.remote_id
        if never_sent or not entry.charges_failed_jobs:
            return LedgerStatus.NOT_CHARGED
        return LedgerStatus.CHARGED
    # Still running, or waiting for a person who has to find out whether it was started: it
    # may yet be billed, so it keeps counting.
    return LedgerStatus.RESERVED


def ledger_settle(*, job: VideoJob) -> LedgerEntry | None:
    """Bring a job's entry in line with how the job ended (safe to call repeatedly)."""
    entry = LedgerEntry.objects.filter(job=job).first()
    if entry is None:
        return None
    status = _status_for(job, entry)
    if status != entry.status or entry.outcome != job.state:
        settled_at = None if status == LedgerStatus.RESERVED else timezone.now()
        LedgerEntry.objects.filter(pk=entry.pk).update(
            status=status, outcome=job.state, settled_at=settled_at
        )
        entry.status, entry.outcome, entry.settled_at = status, job.state, settled_at
    return entry


def ledger_reconcile(*, limit: int = 200) -> int:
    """Settle entries whose job ended while nobody was listening (a worker died after commit)."""
    stale = list(
        LedgerEntry.objects.filter(
            status=LedgerStatus.RESERVED, job__state__in=selectors.ENDED_STATES
        ).select_related("job")[:limit]
    )
    for entry in stale:
        assert entry.job is not None  # job__state__in above
        ledger_settle(job=entry.job)
    return len(stale)


# --- Notices ---------------------------------------------------------------------------------


def notice_create_for_job(*, job: VideoJob, state: str) -> Notice:
    return Notice.objects.create(
        user=job.owner,
        job=job,
        kind=state,
        prompt_excerpt=shorten(job.prompt.text, 100),
        detail=job.error_message[:2000] if state != JobState.SUCCEEDED else "",
        cause=job.cause if state != JobState.SUCCEEDED else "",
        cause_facts=job.cause_facts if state != JobState.SUCCEEDED else {},
    )


STORAGE_NOTICE_KINDS = ("storage_full", "storage_unavailable")


def notices_create_for_storage(*, job: VideoJob, cause: str) -> int:
    """Tell the people who run soraweb that videos cannot be saved, once per outage.

    Everyone who may see the operations page gets one notice (the job that first hit it is
    linked). An outage lasts until a video is saved again: the next jobs that fail the same way
    add nothing. Returns how many notices were written.
    """
    from django.contrib.auth import get_user_model

    if cause not in STORAGE_NOTICE_KINDS:
        raise ValueError(f"not a storage cause: {cause!r}")
    User = get_user_model()
    staff = User.objects.with_perm(
        "ops.view_operations", backend="django.contrib.auth.backends.ModelBackend"
    )
    with transaction.atomic():
        # Two workers failing at once: the second waits for the first one's lock here, and the
        # queries after it (a statement later, so a newer snapshot) see the first one's notices.
        staff_ids = list(
            User.objects.select_for_update()
            .filter(pk__in=staff.values("pk"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        last_saved = VideoJob.objects.filter(state=JobState.SUCCEEDED).aggregate(
            at=Max("finished_at")
        )["at"]
        told = Notice.objects.filter(kind__in=STORAGE_NOTICE_KINDS, user_id__in=staff_ids)
        if last_saved is not None:
            told = told.filter(created_at__gt=last_saved)
        already = set(told.values_list("user_id", flat=True))
        recipients = [pk for pk in staff_ids if pk not in already]
        Notice.objects.bulk_create(
            Notice(user_id=pk, job=job, kind=cause, prompt_excerpt=shorten(job.prompt.text, 100))
            for pk in recipients
        )
    if recipients:
        logger.warning("job %s: %s; %d staff notified", job.pk, cause, len(recipients))
    return len(recipients)


HELP_ASKED = "help_asked"


def notices_create_for_help(*, job: VideoJob, by) -> int:
    """Ask the people who run soraweb to look at a job its owner cannot settle (one notice per
    job and person, however often it is asked). Returns how many notices were written."""
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.with_perm(
        "ops.view_operations", backend="django.contrib.auth.backends.ModelBackend"
    )
    already = set(Notice.objects.filter(job=job, kind=HELP_ASKED).values_list("user_id", flat=True))
    recipients = [pk for pk in staff.values_list("pk", flat=True) if pk not in already]
    Notice.objects.bulk_create(
        Notice(
            user_id=pk,
            job=job,
            kind=HELP_ASKED,
            prompt_excerpt=shorten(job.prompt.text, 100),
            detail=by.get_username(),
        )
        for pk in recipients
    )
    return len(recipients)


def notices_mark_read(*, user, ids: list[int] | None = None) -> int:
    qs = Notice.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


# --- E-mail ------------------------------------------------------------------------------------


def _site_url(path: str) -> str:
    base = settings.SORAWEB_PUBLIC_URL.rstrip("/")
    return f"{base}{path}" if base else path


def _job_sentence(job: VideoJob, state: str) -> str:
    prompt = shorten(job.prompt.text, 80)
    if state == JobState.SUCCEEDED:
        return _("The video “%(prompt)s” is ready.") % {"prompt": prompt}
    if state == JobState.CANCELLED:
        return _("The video “%(prompt)s” was cancelled.") % {"prompt": prompt}
    if state == JobState.NEEDS_ATTENTION:
        return _("The video “%(prompt)s” needs attention.") % {"prompt": prompt}
    return _("The video “%(prompt)s” could not be made.") % {"prompt": prompt}


def job_email_send(*, job_id: int, state: str) -> bool:
    """E-mail the owner that a job ended, when e-mail is switched on and they have an address."""
    if not settings.SORAWEB_EMAIL_NOTIFICATIONS:
        return False
    job = VideoJob.objects.select_related("owner", "prompt").filter(pk=job_id).first()
    if job is None or not job.owner.email:
        return False
    from django.utils import translation

    from soraweb.zones import language_for

    # Written outside any request: in the language the owner's pages were last shown in.
    with translation.override(language_for(job.owner)):
        _job_email_send(job, state)
    return True


def _job_email_send(job: VideoJob, state: str) -> None:
    from django.urls import reverse

    sentence = _job_sentence(job, state)
    lines = [_("Hello %(name)s,") % {"name": job.owner.get_username()}, "", sentence]
    if state != JobState.SUCCEEDED and job.problem_text:
        lines += ["", _("Reason: %(reason)s") % {"reason": job.problem_text}]
    lines += ["", _site_url(reverse("videos:job_detail", args=[job.pk])), "", "soraweb"]
    send_mail(
        subject=f"soraweb: {sentence}",
        message="\n".join(lines),
        from_email=None,
        recipient_list=[job.owner.email],
    )


# --- The team webhook ----------------------------------------------------------------------------

MAX_DELIVERY_ATTEMPTS = 6
DELIVERY_TIMEOUT = (5.0, 10.0)
CLAIM_SECONDS = 60  # an attempt in progress holds its delivery this long
USER_AGENT = "soraweb-webhook/1"


def webhook_sign(secret: str, body: bytes) -> str:
    """The legacy X-Soraweb-Signature value: ``sha256=`` and the hex HMAC-SHA256 of the raw body.

    Kept for one release beside the Standard Webhooks headers (``webhook_headers``).
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers, signed by the reference implementation.

    Any stock verifier (``Webhook(secret).verify(body, headers)`` in each language's
    ``standardwebhooks`` package) accepts them with the secret shown in the admin.
    """
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    try:
        hook = Webhook(secret)
    except (ValueError, binascii.Error):
        # A hand-typed secret that is not base64: stock verifiers cannot decode it either, so
        # sign with its bytes rather than send nothing (the legacy header still matches).
        hook = Webhook(secret.encode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": hook.sign(msg_id=msg_id, timestamp=when, data=body.decode("utf-8")),
    }


def _job_payload(job: VideoJob, state: str) -> dict[str, Any]:
    from django.urls import reverse

    payload: dict[str, Any] = {
        "event": f"job.{state}",
        "job": {
            "id": job.pk,
            "state": state,
            "state_label": str(JobState(state).label),
            "prompt": job.prompt.text,
            "owner": job.owner.get_username(),
            "model": job.video_model.display_name,
            "orientation": job.orientation,
            "size": job.size,
            "duration": job.duration,
            "estimated_cost": f"{job.estimated_cost:.2f}",
            "error": job.error_message if state != JobState.SUCCEEDED else "",
            "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "url": _site_url(reverse("videos:job_detail", args=[job.pk])),
            "video_url": _site_url(reverse("videos:job_video", args=[job.pk]))
            if state == JobState.SUCCEEDED
            else None,
        },
    }
    # Chat tools (Slack, Mattermost, Rocket.Chat...) show a top-level "text" as the message.
    payload["text"] = _("%(owner)s: %(sentence)s %(url)s") % {
        "owner": job.owner.get_username(),
        "sentence": _job_sentence(job, state),
        "url": payload["job"]["url"],
    }
    return payload


def webhook_deliveries_create(*, job: VideoJob, state: str) -> list[OutgoingDelivery]:
    """One delivery per enabled team webhook; each is sent by a background task after commit."""
    hooks = TeamWebhook.objects.filter(enabled=True)
    if state != JobState.SUCCEEDED:
        hooks = hooks.filter(only_succeeded=False)
    payload = _job_payload(job, state) if hooks else {}
    now = timezone.now()
    created = [
        OutgoingDelivery.objects.create(
            webhook=hook, job=job, event=f"job.{state}", payload=payload, next_attempt_at=now
        )
        for hook in hooks
    ]
    for delivery in created:
        _enqueue_delivery(delivery.pk)
    return created


def webhook_send_test(*, webhook: TeamWebhook) -> OutgoingDelivery:
    """A "ping" through the same signed path, sent at once so the admin sees the answer."""
    delivery = OutgoingDelivery.objects.create(
        webhook=webhook,
        event="ping",
        payload={
            "event": "ping",
            "text": _("soraweb test message: this webhook works."),
        },
        next_attempt_at=timezone.now(),
    )
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def delivery_send_again(*, delivery: OutgoingDelivery) -> None:
    """Give a delivery that gave up a fresh set of attempts."""
    OutgoingDelivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.DELIVERED).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    _enqueue_delivery(delivery.pk)


def _enqueue_delivery(delivery_id: int) -> None:
    transaction.on_commit(lambda: enqueue("deliver_webhook", delivery_id))


def delivery_backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: 30 s, 1, 2, 4, 8 minutes... with 10 % jitter."""
    return min(3600.0, 30.0 * 2 ** max(0, attempt - 1)) * random.uniform(1.0, 1.1)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> str:
    """Send one delivery once, if it is due and nobody else is sending it.

    Returns "delivered", "retry" (another attempt is scheduled), "failed" (gave up) or
    "skipped" (not due, already sent, or claimed by another worker).
    """
    now = now or timezone.now()
    claimed = (
        OutgoingDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    )
    if not claimed:
        return "skipped"
    delivery = OutgoingDelivery.objects.select_related("webhook").get(pk=delivery_id)
    code: int | None = None
    permanent = False
    try:
        if not delivery.webhook.enabled:
            raise WebhookRefused(_("The webhook was switched off."))
        code, error = _post(delivery)
        permanent = code is not None and (300 <= code < 500 and code not in (408, 425, 429))
    except WebhookRefused as exc:
        error, permanent = str(exc), True
    except ProviderError as exc:
        error = exc.message
    except requests.RequestException as exc:
        error = _("No answer from the receiver (%(kind)s).") % {"kind": type(exc).__name__}
    if code is not None and 200 <= code < 300:
        OutgoingDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED,
            last_status_code=code,
            last_error="",
            delivered_at=timezone.now(),
            next_attempt_at=None,
        )
        return "delivered"
    gave_up = permanent or delivery.attempts >= MAX_DELIVERY_ATTEMPTS
    OutgoingDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
        last_status_code=code,
        last_error=error[:2000],
        next_attempt_at=None
        if gave_up
        else now + timedelta(seconds=delivery_backoff(delivery.attempts)),
    )
    logger.info(
        "webhook delivery %s attempt %s %s: %s",
        delivery.pk,
        delivery.attempts,
        "gave up" if gave_up else "will retry",
        error,
    )
    return "failed" if gave_up else "retry"


def _post(delivery: OutgoingDelivery) -> tuple[int, str]:
    """POST the signed body; the HTTP status and, unless it is 2xx, what went wrong."""
    hook = delivery.webhook
    check_url(hook.url)
    timestamp = int(time.time())
    # The timestamp is in the signed body as well as in its header, so a receiver that checks
    # the signature also knows the header was not changed, and can refuse old replays.
    body = json.dumps(
        {**delivery.payload, "delivery_id": str(delivery.delivery_id), "timestamp": timestamp},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Soraweb-Event": delivery.event,
        "X-Soraweb-Delivery": str(delivery.delivery_id),
        "X-Soraweb-Timestamp": str(timestamp),
        "X-Soraweb-Signature": webhook_sign(hook.secret, body),
        **webhook_headers(
            hook.secret, msg_id=str(delivery.delivery_id), timestamp=timestamp, body=body
        ),
    }
    # Redirects are not followed: each hop would need the private-network check again. The
    # guarded session checks the address it really connects to (and pins it), so a DNS answer
    # that changes after _check_url cannot send this to a private address.
    try:
        with (
            guarded_session(allowed_urls=allowed_origins(hook.url)) as session,
            session.post(
                parse_fetch_url(hook.url).url,
                data=body,
                headers=headers,
                timeout=DELIVERY_TIMEOUT,
                allow_redirects=False,
                stream=True,
            ) as response,
        ):
            code = response.status_code
            if 200 <= code < 300:
                return code, ""
            snippet = response.raw.read(300, decode_content=True).decode("utf-8", "replace")
    except AddressRefused as exc:
        raise private_refusal(exc.host) from None
    said = f": {shorten(snippet, 200)}" if snippet.strip() else ""
    return code, _("The receiver answered HTTP %(code)d%(said)s") % {"code": code, "said": said}


def deliveries_send_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Attempt every delivery whose time has come (the minute schedule's safety net)."""
    now = now or timezone.now()
    due = list(
        OutgoingDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        delivery_attempt(delivery_id=pk, now=now)
    return len(due)
