from __future__ import annotations

from datetime import date, timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from soraweb.http import HtmxHttpRequest
from soraweb.money import money
from soraweb.ops import charts, selectors, services
from soraweb.ops.charts import Bar
from soraweb.spreadsheet import csv_download, text_cell
from soraweb.videos.models import ACTIVE_STATES, JobState
from soraweb.videos.stuck import jobs_stuck, jobs_stuck_count

STATE_TONES = {
    JobState.SUCCEEDED: "ok",
    JobState.FAILED: "bad",
    JobState.EXPIRED: "bad",
    JobState.NEEDS_ATTENTION: "warn",
    JobState.CANCELLED: "muted",
}
MAX_REPORT_DAYS = 366


def permission_required(perm: str):
    """403 for signed-in people without ``perm`` (anonymous visitors are sent to sign in).

    A real permission, not ``is_staff``: a team manager is staff so that they can reach the
    admin's accounts pages, and must not read the team's spending because of it.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied(_("Only administrators can see this page."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = int(round(seconds))
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@require_GET
@permission_required("ops.view_operations")
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    p = selectors.periods(now)
    week_ago = now - timedelta(days=7)
    active = selectors.active_counts()
    by_state = selectors.jobs_by_state(since=week_ago)
    causes = selectors.failures_by_cause(since=week_ago)
    spend = selectors.daily_spend(days=30, now=now)
    budget = selectors.team_budget_lines(now=now)
    queue = selectors.queue_info()
    stuck = jobs_stuck(now=now)
    times = selectors.generation_times(now=now)
    team_daily = budget[0].limit
    state_chart = charts.bar_chart(
        [
            Bar(str(JobState(s).label), n, STATE_TONES.get(JobState(s), "busy"))
            for s, n in by_state.items()
            if n
        ],
        title=_("Jobs started in the last 7 days, by state"),
    )
    cause_chart = charts.bar_chart(
        [Bar(c.cause, c.count, "bad") for c in causes],
        title=_("Failures in the last 7 days, by reason"),
    )
    spend_chart = charts.column_chart(
        [Bar(formats.date_format(d, "n/j"), float(amount)) for d, amount in spend],
        title=_("Spend per day, last 30 days (days in %(zone)s)") % {"zone": selectors.team_zone()},
        fmt=money,
        label_every=5,
        limit=float(team_daily) if team_daily else None,
        limit_label=_("team daily limit %(limit)s") % {"limit": money(team_daily)}
        if team_daily
        else "",
    )
    last_task_age = (now - queue.last_task_at).total_seconds() if queue.last_task_at else None
    context = {
        "now": now,
        "periods": p,
        "running": sum(active[s] for s in ACTIVE_STATES if s != JobState.PENDING),
        "waiting": active[JobState.PENDING],
        "needs_attention": active[JobState.NEEDS_ATTENTION],
        "stuck": stuck,
        "stuck_count": jobs_stuck_count(now=now),
        "queue": queue,
        "worker_quiet": last_task_age is None or last_task_age > 180,
        "last_task_age": _seconds_text(last_task_age) if last_task_age is not None else None,
        "budget": budget,
        "state_chart": state_chart,
        "by_state_total": sum(by_state.values()),
        "causes": causes,
        "cause_chart": cause_chart,
        "times": [
            {
                "model": t.model,
                "day": _seconds_text(t.median_day),
                "count_day": t.count_day,
                "week": _seconds_text(t.median_week),
                "count_week": t.count_week,
            }
            for t in times
        ],
        "spend_chart": spend_chart,
        "failed_deliveries": selectors.failed_deliveries(since=week_ago),
        "no_budget": _no_budget_set(),
        "room": selectors.storage_room(),
    }
    return render(request, "ops/dashboard.html", context)


def _no_budget_set() -> bool:
    """True on a fresh installation: nothing stops the team from spending without end."""
    from soraweb.ops.models import BudgetPolicy, UserBudget

    personal = UserBudget.objects.filter(daily_limit__isnull=False) | UserBudget.objects.filter(
        monthly_limit__isnull=False
    )
    return not BudgetPolicy.load().has_spending_limit and not personal.exists()


# Days a report may cover: a day's end (day + 1) must stay inside what a date can hold.
REPORT_DAY_MIN = date(2000, 1, 1)
REPORT_DAY_MAX = date(2999, 12, 31)


def _report_day(text: str) -> date:
    day = date.fromisoformat(text)
    if not REPORT_DAY_MIN <= day <= REPORT_DAY_MAX:
        raise ValueError(f"{day} is outside the report's range")
    return day


def _report_range(request: HttpRequest, today: date) -> tuple[date, date, str]:
    """The report's first and last day (inclusive) from ?range= or ?start=&end=."""
    choice = request.GET.get("range", "")
    if request.GET.get("start") or request.GET.get("end"):
        try:
            start = _report_day(request.GET.get("start") or today.isoformat())
            end = _report_day(request.GET.get("end") or today.isoformat())
        except ValueError:
            messages.error(
                request,
                _(
                    "The dates were not understood; use YYYY-MM-DD between %(min)s and %(max)s. "
                    "Showing the last 7 days."
                )
                % {"min": REPORT_DAY_MIN.isoformat(), "max": REPORT_DAY_MAX.isoformat()},
            )
            start, end, choice = today - timedelta(days=6), today, "7"
        else:
            choice = "custom"
            if start > end:
                start, end = end, start
            start = max(start, end - timedelta(days=MAX_REPORT_DAYS - 1))
        return start, end, choice
    if choice == "30":
        return today - timedelta(days=29), today, choice
    if choice == "month":
        return today.replace(day=1), today, choice
    return today - timedelta(days=6), today, "7"


@require_GET
@permission_required("ops.view_spend")
def spend_report(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    today = selectors.periods(now).day_start.date()
    start, end, choice = _report_range(request, today)
    report = selectors.spend_report(start=start, end=end)
    budgets = selectors.people_budgets(
        user_ids=[row.extra["user_id"] for row in report.by_user if row.extra.get("user_id")],
        now=now,
    )
    for row in report.by_user:
        user_id = row.extra.get("user_id")
        row.extra["budget"] = budgets.get(user_id) if user_id else None
    days = len(report.by_day)
    chart = charts.column_chart(
        [
            Bar(formats.date_format(date.fromisoformat(r.label), "n/j"), float(r.spent))
            for r in report.by_day
        ],
        title=_("Spend per day (days in %(zone)s)") % {"zone": selectors.team_zone()},
        fmt=money,
        label_every=max(1, days // 10),
    )
    context = {
        "report": report,
        "choice": choice,
        "chart": chart,
        "ranges": [("7", _("Last 7 days")), ("30", _("Last 30 days")), ("month", _("This month"))],
        "budget": selectors.team_budget_lines(now=now),
    }
    return render(request, "ops/spend.html", context)


@require_GET
@permission_required("ops.view_spend")
def spend_csv(request: HttpRequest) -> HttpResponse:
    """The same period's ledger, one row per video, for a spreadsheet (UTF-8 with a BOM, so
    Excel reads Chinese names; formulas in names are defused)."""
    today = selectors.periods(timezone.now()).day_start.date()
    start, end, _choice = _report_range(request, today)
    response, out = csv_download(f"soraweb-spend-{start.isoformat()}-{end.isoformat()}.csv")
    zone = selectors.team_zone()
    out.writerow(
        [
            _("submitted (%(zone)s)") % {"zone": selectors.team_zone()},
            _("person"),
            _("model"),
            _("job"),
            _("status"),
            _("how the job ended"),
            _("estimated cost (US$)"),
        ]
    )
    for entry in selectors.ledger_entries(start=start, end=end).iterator(chunk_size=2000):
        out.writerow(
            [
                entry.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                text_cell(entry.username),
                text_cell(entry.model_name),
                entry.job_id or "",
                entry.get_status_display(),
                entry.outcome,
                f"{entry.amount:.2f}",
            ]
        )
    return response


# --- Notices -------------------------------------------------------------------------------------


@require_GET
def notices(request: HtmxHttpRequest) -> HttpResponse:
    context = {"notices": selectors.notices_for(user=request.user)}
    if request.htmx:
        return render(request, "ops/_notice_list.html", context)
    return render(request, "ops/notices.html", context)


@require_POST
def notices_read(request: HtmxHttpRequest) -> HttpResponse:
    services.notices_mark_read(user=request.user)
    if request.htmx:
        context = {"notices": selectors.notices_for(user=request.user), "bell_oob": True}
        return render(request, "ops/_notice_list.html", context)
    return redirect("notices:list")


# Polled by open pages. After signing out, a redirect to the sign-in page would be followed and
# its HTML swapped into the header; htmx leaves the page alone on a 401.
@login_not_required
@require_GET
def notice_bell(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    return render(request, "ops/_notice_bell.html")
