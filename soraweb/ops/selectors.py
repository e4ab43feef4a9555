"""Reads for operations: budgets and spend, the dashboard's numbers, notices (stuck jobs: soraweb.videos.stuck).

Days and months are calendar days and months in the installation's time zone
(``SORAWEB_TIME_ZONE``, the team's), the same periods the caps reset on, whoever looks: a budget is
the team's, so "today" must not move with the viewer. Each viewer reads the moments in their own
zone (soraweb.zones).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.ops.models import (
    SPENDING_STATUSES,
    BudgetPolicy,
    DeliveryStatus,
    LedgerEntry,
    LedgerStatus,
    Notice,
    OutgoingDelivery,
    UserBudget,
)
from soraweb.videos import causes
from soraweb.videos.models import (
    ACTIVE_STATES,
    JobState,
    VideoJob,
)

ZERO = Decimal("0.00")
# Jobs that have ended for good (needs-attention is settled but waits for a person).
ENDED_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.EXPIRED, JobState.CANCELLED}
)


# --- Periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Periods:
    now: datetime
    day_start: datetime
    week_start: datetime  # the last 7 days including today
    month_start: datetime
    next_day: datetime
    next_month: datetime


def team_zone() -> tzinfo:
    """The zone budget days and months run on: the installation's, not the viewer's."""
    return timezone.get_default_timezone()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=team_zone())


def periods(now: datetime | None = None) -> Periods:
    now = (now or timezone.now()).astimezone(team_zone())
    today = now.date()
    month = today.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    # Midnights built from dates, not by adding hours, so a daylight-saving change stays right.
    return Periods(
        now=now,
        day_start=_midnight(today),
        week_start=_midnight(today - timedelta(days=6)),
        month_start=_midnight(month),
        next_day=_midnight(today + timedelta(days=1)),
        next_month=_midnight(next_month),
    )


@dataclass(frozen=True)
class Resets:
    """When the daily and monthly caps start again, as the viewer reads it (their zone)."""

    day_time: str  # "08:00"
    month_date: str  # "1 January" / "01月1日", the language's month-day format
    month_time: str
    zone: str  # the viewer's zone ("Asia/Shanghai")
    team_zone: str  # the zone the days are counted in


def budget_resets(now: datetime | None = None) -> Resets:
    from django.utils import formats

    from soraweb import zones

    p = periods(now)
    next_month = timezone.localtime(p.next_month)
    return Resets(
        day_time=zones.local_time(p.next_day),
        month_date=formats.date_format(next_month, "MONTH_DAY_FORMAT"),
        month_time=zones.local_time(p.next_month),
        zone=zones.zone_label(),
        team_zone=str(team_zone()),
    )


# --- Budgets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    user_daily: Decimal | None
    user_monthly: Decimal | None
    team_daily: Decimal | None
    team_monthly: Decimal | None


def budget_limits(*, user, policy: BudgetPolicy | None = None) -> Limits:
    """The caps that apply to ``user``: a personal limit replaces the per-person default."""
    policy = policy or BudgetPolicy.load()
    personal = UserBudget.objects.filter(user=user).first() if user is not None else None
    daily = personal.daily_limit if personal and personal.daily_limit is not None else None
    monthly = personal.monthly_limit if personal and personal.monthly_limit is not None else None
    return Limits(
        user_daily=daily if daily is not None else policy.user_daily_limit,
        user_monthly=monthly if monthly is not None else policy.user_monthly_limit,
        team_daily=policy.team_daily_limit,
        team_monthly=policy.team_monthly_limit,
    )


@dataclass(frozen=True)
class Spent:
    user_day: Decimal
    user_month: Decimal
    team_day: Decimal
    team_month: Decimal


def spend_totals(*, user, now: datetime | None = None) -> Spent:
    """What counts against the caps so far today and this month, for ``user`` and the team."""
    p = periods(now)
    totals = LedgerEntry.objects.filter(
        created_at__gte=p.month_start, status__in=SPENDING_STATUSES
    ).aggregate(
        team_month=Sum("amount"),
        team_day=Sum("amount", filter=Q(created_at__gte=p.day_start)),
        user_month=Sum("amount", filter=Q(user=user)),
        user_day=Sum("amount", filter=Q(user=user, created_at__gte=p.day_start)),
    )
    return Spent(**{key: value or ZERO for key, value in totals.items()})


# --- Spend report --------------------------------------------------------------------------------


@dataclass
class SpendRow:
    label: str
    spent: Decimal = ZERO  # charged + reserved
    charged: Decimal = ZERO
    reserved: Decimal = ZERO
    not_charged: Decimal = ZERO
    jobs: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class SpendReport:
    start: date
    end: date  # inclusive
    total: SpendRow
    by_user: list[SpendRow]
    by_model: list[SpendRow]
    by_day: list[SpendRow]  # every day of the range, oldest first, empty days included


def _spend_sums(qs: QuerySet[LedgerEntry], *group: str) -> list[dict]:
    return list(
        qs.values(*group)
        .annotate(
            charged=Sum("amount", filter=Q(status=LedgerStatus.CHARGED)),
            reserved=Sum("amount", filter=Q(status=LedgerStatus.RESERVED)),
            not_charged=Sum("amount", filter=Q(status=LedgerStatus.NOT_CHARGED)),
            jobs=Count("id"),
        )
        .order_by(*group)
    )


def _row(label: str, sums: dict) -> SpendRow:
    charged, reserved = sums["charged"] or ZERO, sums["reserved"] or ZERO
    return SpendRow(
        label=label,
        spent=charged + reserved,
        charged=charged,
        reserved=reserved,
        not_charged=sums["not_charged"] or ZERO,
        jobs=sums["jobs"],
    )


def ledger_entries(*, start: date, end: date) -> QuerySet[LedgerEntry]:
    """Every ledger entry of the team's days ``start`` to ``end``, oldest first (the CSV export)."""
    lo, hi = _midnight(start), _midnight(end + timedelta(days=1))
    return LedgerEntry.objects.filter(created_at__gte=lo, created_at__lt=hi).order_by(
        "created_at", "id"
    )


def spend_report(*, start: date, end: date) -> SpendReport:
    """Spend per person, per model and per day for the team's days ``start`` to ``end``."""
    lo, hi = _midnight(start), _midnight(end + timedelta(days=1))
    qs = LedgerEntry.objects.filter(created_at__gte=lo, created_at__lt=hi)
    by_user = []
    for sums in _spend_sums(qs, "user", "username"):
        row = _row(sums["username"], sums)
        row.extra["user_id"] = sums["user"]
        by_user.append(row)
    by_user.sort(key=lambda r: (-r.spent, r.label))
    by_model = sorted(
        (_row(s["model_name"], s) for s in _spend_sums(qs, "model_name")),
        key=lambda r: (-r.spent, r.label),
    )
    days = {
        s["day"]: _row(s["day"].isoformat(), s)
        for s in _spend_sums(qs.annotate(day=TruncDate("created_at", tzinfo=team_zone())), "day")
    }
    by_day = []
    current = start
    while current <= end:
        row = days.get(current) or SpendRow(label=current.isoformat())
        row.extra["day"] = current
        by_day.append(row)
        current += timedelta(days=1)
    total_sums = qs.aggregate(
        charged=Sum("amount", filter=Q(status=LedgerStatus.CHARGED)),
        reserved=Sum("amount", filter=Q(status=LedgerStatus.RESERVED)),
        not_charged=Sum("amount", filter=Q(status=LedgerStatus.NOT_CHARGED)),
        jobs=Count("id"),
    )
    return SpendReport(
        start=start,
        end=end,
        total=_row(_("Total"), total_sums),
        by_user=by_user,
        by_model=by_model,
        by_day=by_day,
    )


@dataclass
class BudgetLine:
    label: str
    spent: Decimal
    limit: Decimal | None

    @property
    def left(self) -> Decimal | None:
        return None if self.limit is None else max(ZERO, self.limit - self.spent)

    @property
    def percent(self) -> int | None:
        if not self.limit:
            return None
        return min(100, int(self.spent * 100 / self.limit))


def team_budget_lines(*, now: datetime | None = None) -> list[BudgetLine]:
    p = periods(now)
    policy = BudgetPolicy.load()
    totals = LedgerEntry.objects.filter(
        created_at__gte=min(p.month_start, p.week_start), status__in=SPENDING_STATUSES
    ).aggregate(
        day=Sum("amount", filter=Q(created_at__gte=p.day_start)),
        week=Sum("amount", filter=Q(created_at__gte=p.week_start)),
        month=Sum("amount", filter=Q(created_at__gte=p.month_start)),
    )
    return [
        BudgetLine(_("Today"), totals["day"] or ZERO, policy.team_daily_limit),
        BudgetLine(_("Last 7 days"), totals["week"] or ZERO, None),
        BudgetLine(_("This month"), totals["month"] or ZERO, policy.team_monthly_limit),
    ]


@dataclass
class PersonBudget:
    daily: BudgetLine
    monthly: BudgetLine


def people_budgets(*, user_ids: list[int], now: datetime | None = None) -> dict[int, PersonBudget]:
    """Each person's caps and what counts against them today and this month (three queries)."""
    p = periods(now)
    policy = BudgetPolicy.load()
    personal = {b.user_id: b for b in UserBudget.objects.filter(user_id__in=user_ids)}
    sums = {
        row["user"]: row
        for row in LedgerEntry.objects.filter(
            user_id__in=user_ids, created_at__gte=p.month_start, status__in=SPENDING_STATUSES
        )
        .order_by()
        .values("user")
        .annotate(month=Sum("amount"), day=Sum("amount", filter=Q(created_at__gte=p.day_start)))
    }
    result = {}
    for user_id in user_ids:
        own = personal.get(user_id)
        daily = own.daily_limit if own and own.daily_limit is not None else policy.user_daily_limit
        monthly = (
            own.monthly_limit
            if own and own.monthly_limit is not None
            else policy.user_monthly_limit
        )
        row: Mapping[str, Any] = sums.get(user_id) or {}
        result[user_id] = PersonBudget(
            daily=BudgetLine(_("Today"), row.get("day") or ZERO, daily),
            monthly=BudgetLine(_("This month"), row.get("month") or ZERO, monthly),
        )
    return result


# --- Dashboard ---------------------------------------------------------------------------------


@dataclass
class CauseCount:
    cause: str
    count: int
    example: str  # the latest error message with this cause


def failures_by_cause(*, since: datetime) -> list[CauseCount]:
    """Failed and expired jobs by their recorded cause, most frequent first."""
    rows = (
        VideoJob.objects.filter(
            state__in=[JobState.FAILED, JobState.EXPIRED], finished_at__gte=since
        )
        .order_by("-finished_at")
        .values_list("cause", "error_message")
    )
    counts: dict[str, CauseCount] = {}
    for cause, error in rows:
        label = causes.label(cause) if cause else _("Other")
        if label not in counts:
            counts[label] = CauseCount(label, 0, error)
        counts[label].count += 1
    return sorted(counts.values(), key=lambda c: (-c.count, c.cause))


@dataclass
class ModelTimes:
    model: str
    median_day: float | None  # seconds, over the last 24 hours
    count_day: int
    median_week: float | None  # seconds, over the last 7 days
    count_week: int


def generation_times(*, now: datetime | None = None) -> list[ModelTimes]:
    """Median time from submit to a saved video, per model, over 24 hours and 7 days."""
    now = now or timezone.now()
    day_ago, week_ago = now - timedelta(hours=24), now - timedelta(days=7)
    samples: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    rows = VideoJob.objects.filter(
        state=JobState.SUCCEEDED, finished_at__gte=week_ago, finished_at__lte=now
    ).values_list("video_model__display_name", "created_at", "finished_at")
    for model, created, finished in rows:
        assert finished is not None  # finished_at__gte above
        samples[model].append((finished, (finished - created).total_seconds()))
    result = []
    for model in sorted(samples):
        week = [s for _, s in samples[model]]
        day = [s for finished, s in samples[model] if finished >= day_ago]
        result.append(
            ModelTimes(
                model=model,
                median_day=statistics.median(day) if day else None,
                count_day=len(day),
                median_week=statistics.median(week),
                count_week=len(week),
            )
        )
    return result


def jobs_by_state(*, since: datetime) -> dict[str, int]:
    """Jobs created since ``since``, counted by the state they are in now."""
    counts = dict(
        VideoJob.objects.filter(created_at__gte=since)
        .order_by()
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {state: counts.get(state, 0) for state in JobState.values}


def active_counts() -> dict[str, int]:
    counts = dict(
        VideoJob.objects.filter(state__in=[*ACTIVE_STATES, JobState.NEEDS_ATTENTION])
        .order_by()
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {state: counts.get(state, 0) for state in [*ACTIVE_STATES, JobState.NEEDS_ATTENTION]}


@dataclass
class QueueInfo:
    tasks_waiting: int | None  # None: the broker could not be asked
    last_task_at: datetime | None
    oldest_pending_job: datetime | None


def queue_info() -> QueueInfo:
    from django_q.brokers import get_broker
    from django_q.models import Task

    try:
        waiting = get_broker().queue_size()
    except Exception:  # a broker that is down must not take the dashboard with it
        waiting = None
    last = Task.objects.aggregate(last=Max("stopped"))["last"]
    oldest = (
        VideoJob.objects.filter(state=JobState.PENDING)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return QueueInfo(tasks_waiting=waiting, last_task_at=last, oldest_pending_job=oldest)


def daily_spend(*, days: int, now: datetime | None = None) -> list[tuple[date, Decimal]]:
    """What counted against the budget per team day, for the last ``days`` days (oldest first)."""
    p = periods(now)
    first = p.day_start.date() - timedelta(days=days - 1)
    start = _midnight(first)
    sums = dict(
        LedgerEntry.objects.filter(created_at__gte=start, status__in=SPENDING_STATUSES)
        .annotate(day=TruncDate("created_at", tzinfo=team_zone()))
        .order_by()
        .values("day")
        .annotate(total=Sum("amount"))
        .values_list("day", "total")
    )
    every_day = [first + timedelta(days=i) for i in range(days)]
    return [(day, sums.get(day, ZERO)) for day in every_day]


def failed_deliveries(*, since: datetime) -> int:
    return OutgoingDelivery.objects.filter(
        status=DeliveryStatus.FAILED, created_at__gte=since
    ).count()


# --- Notices -------------------------------------------------------------------------------------


def notices_for(*, user, limit: int = 50) -> list[Notice]:
    return list(Notice.objects.filter(user=user).select_related("job")[:limit])


def notices_unread_count(*, user) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).count()


# --- Room for the videos being made -------------------------------------------------------------

# Bytes per second of video when no saved video of the model tells better: about 16 Mbit/s, more
# than the 720p and 1080p files relays serve, so a guess errs on the side of warning.
DEFAULT_BYTES_PER_SECOND = 2 * 1024 * 1024
SIZE_SAMPLES = 50  # the latest saved videos per model that set its bytes-per-second figure


@dataclass(frozen=True)
class StorageRoom:
    """Free space on the video storage beside what the jobs in flight will need when saved."""

    measured: bool  # False: the storage is not a local folder (S3) or could not be read
    jobs: int  # jobs in flight (waiting, starting, at the provider, being saved)
    needed_bytes: int
    free_bytes: int | None = None
    total_bytes: int | None = None
    problem: str = ""  # why it was not measured, for the page

    @property
    def short(self) -> bool:
        return self.measured and self.jobs > 0 and self.needed_bytes > (self.free_bytes or 0)


def _bytes_per_second(model_ids: set[int]) -> dict[tuple[int, str | None], float]:
    """Bytes per second of saved video, per (model, size) and per model (size None)."""
    sums: dict[tuple[int, str | None], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for model_id in model_ids:
        rows = (
            VideoJob.objects.filter(
                video_model_id=model_id,
                state=JobState.SUCCEEDED,
                video_bytes__gt=0,
                video_seconds__gt=0,
            )
            .order_by("-finished_at")
            .values_list("size", "video_bytes", "video_seconds")[:SIZE_SAMPLES]
        )
        for size, nbytes, seconds in rows:
            assert nbytes is not None and seconds is not None  # both __gt=0 above
            for key in ((model_id, size), (model_id, None)):
                sums[key][0] += nbytes
                sums[key][1] += seconds
    return {key: nbytes / seconds for key, (nbytes, seconds) in sums.items() if seconds}


def jobs_in_flight_bytes() -> tuple[int, int]:
    """(jobs in flight, the bytes their videos are expected to take once saved).

    Each job's size is its duration times the bytes per second of the latest saved videos of
    the same model and size (else of the model, else a generous default).
    """
    jobs = list(
        VideoJob.objects.filter(state__in=ACTIVE_STATES).values_list(
            "video_model_id", "size", "duration"
        )
    )
    rates = _bytes_per_second({model_id for model_id, _size, _duration in jobs})
    needed = 0.0
    for model_id, size, duration in jobs:
        rate = (
            rates.get((model_id, size)) or rates.get((model_id, None)) or DEFAULT_BYTES_PER_SECOND
        )
        needed += rate * max(duration or 0, 1)
    return len(jobs), int(needed)


def storage_room() -> StorageRoom:
    """Measured on local media storage (the MEDIA_ROOT folder); an object store is not."""
    import shutil

    from django.conf import settings
    from django.core.files.storage import FileSystemStorage, default_storage

    jobs, needed = jobs_in_flight_bytes()
    if not isinstance(default_storage, FileSystemStorage):
        return StorageRoom(
            measured=False,
            jobs=jobs,
            needed_bytes=needed,
            problem=_("Videos are kept in an object store (S3); its free space is not measured."),
        )
    try:
        usage = shutil.disk_usage(settings.MEDIA_ROOT)
    except OSError as exc:
        return StorageRoom(
            measured=False,
            jobs=jobs,
            needed_bytes=needed,
            problem=_("The video folder could not be read: %(error)s")
            % {"error": exc.strerror or type(exc).__name__},
        )
    return StorageRoom(
        measured=True,
        jobs=jobs,
        needed_bytes=needed,
        free_bytes=usage.free,
        total_bytes=usage.total,
    )
