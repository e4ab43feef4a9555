"""The operations dashboard against data whose numbers are known."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from soraweb.ops import selectors
from soraweb.ops.models import LedgerStatus
from soraweb.videos.causes import Cause
from soraweb.videos.models import JobState
from soraweb.videos.stuck import jobs_stuck
from tests.factories import ago, job_row, seeded_row

pytestmark = pytest.mark.django_db
MODERATION = "The prompt was flagged by content moderation: depicts a real person"


def today_at(now):
    """A moment earlier today (UTC), whatever the time of day the test runs."""
    day = selectors.periods(now).day_start
    return day + (now - day) / 2


@pytest.fixture
def known(member, other_member):
    now = timezone.now()
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    # Finished videos: Sora 2 took 60, 120 and 300 s today and 600 s three days ago; Sora 2 Pro
    # took 400 s two days ago.
    for seconds in (60, 120, 300):
        seeded_row(
            member,
            created_at=ago(hours=2),
            seconds=seconds,
        )
    seeded_row(
        member,
        created_at=ago(days=3),
        seconds=600,
    )
    seeded_row(
        other_member,
        model="sora-2-pro",
        created_at=ago(days=2),
        seconds=400,
    )
    # Failures this week: two refused by moderation, one timed out, one expired; one older.
    seeded_row(
        member,
        state=JobState.FAILED,
        error_message=MODERATION,
        cause=Cause.MODERATION,
        created_at=ago(minutes=5),
        seconds=60,
    )
    seeded_row(
        other_member,
        state=JobState.FAILED,
        error_message=MODERATION,
        cause=Cause.MODERATION,
        created_at=ago(minutes=5),
        seconds=60,
    )
    seeded_row(
        member,
        state=JobState.FAILED,
        error_message="Timed out",
        cause=Cause.TIMEOUT,
        created_at=ago(minutes=5),
        seconds=60,
    )
    seeded_row(
        member,
        state=JobState.EXPIRED,
        cause=Cause.EXPIRED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    seeded_row(
        member,
        state=JobState.FAILED,
        created_at=ago(days=10),
        cause=Cause.TIMEOUT,
        seconds=60,
    )
    # Right now: one waiting too long, one moving normally, one needing a person.
    stuck = seeded_row(
        member,
        state=JobState.PENDING,
        created_at=ago(minutes=20),
        next_poll_at=ago(minutes=15),
    )
    seeded_row(
        member,
        state=JobState.RUNNING,
        created_at=ago(minutes=1),
        next_poll_at=now + timedelta(seconds=3),
        deadline_at=now + timedelta(minutes=30),
    )
    attention = seeded_row(
        other_member,
        state=JobState.NEEDS_ATTENTION,
        created_at=ago(hours=1),
        seconds=60,
    )
    # Spend: $1.00 charged + $3.00 reserved today, $4.50 two days ago; $1.00 not charged today.
    # (The two finished ones took 1000 s on Sora 2 today and 800 s on Sora 2 Pro.)
    seeded_row(
        member,
        created_at=today_at(now),
        seconds=1000,
        ledger=LedgerStatus.CHARGED,
    )
    job_row(
        other_member,
        state=JobState.RUNNING,
        created_at=today_at(now),
        cost="3.00",
        ledger=LedgerStatus.RESERVED,
        next_poll_at=now + timedelta(seconds=3),
        text="a seeded job",
        events=True,
    )
    job_row(
        other_member,
        model="sora-2-pro",
        created_at=ago(days=2),
        seconds=800,
        cost="4.50",
        ledger=LedgerStatus.CHARGED,
        text="a seeded job",
        events=True,
    )
    seeded_row(
        member,
        state=JobState.FAILED,
        created_at=today_at(now),
        ledger=LedgerStatus.NOT_CHARGED,
        seconds=60,
    )
    return {"now": now, "stuck": stuck, "attention": attention}


def test_median_generation_time_per_model_over_24_hours_and_7_days(known):
    times = {t.model: t for t in selectors.generation_times(now=known["now"])}
    sora = times["Sora 2"]
    assert (sora.median_day, sora.count_day) == (210, 4)  # 60, 120, 300, 1000
    assert (sora.median_week, sora.count_week) == (300, 5)  # and 600 three days ago
    pro = times["Sora 2 Pro"]
    assert (pro.median_day, pro.count_day, pro.median_week, pro.count_week) == (None, 0, 600, 2)


def test_failures_are_counted_by_reason_over_the_last_week(known):
    causes = selectors.failures_by_cause(since=known["now"] - timedelta(days=7))
    assert [(c.cause, c.count) for c in causes] == [
        ("Refused by content moderation", 2),
        ("Other", 1),  # today's uncharged failure, seeded without a known cause
        ("Result expired at the provider", 1),
        ("Timed out at the provider", 1),
    ]
    assert causes[0].example == MODERATION


def test_jobs_by_state_and_what_is_stuck(known):
    counts = selectors.jobs_by_state(since=known["now"] - timedelta(days=7))
    assert counts[JobState.SUCCEEDED] == 7
    assert counts[JobState.FAILED] == 4 and counts[JobState.EXPIRED] == 1
    assert counts[JobState.RUNNING] == 2 and counts[JobState.PENDING] == 1
    assert counts[JobState.NEEDS_ATTENTION] == 1
    stuck = {s.job.pk: s.reason for s in jobs_stuck(now=known["now"])}
    assert set(stuck) == {known["stuck"].pk, known["attention"].pk}
    assert stuck[known["stuck"].pk] == (
        "Waiting to start for 15 minutes: is the background worker running?"
    )


def test_spend_per_day_counts_charged_and_reserved_but_not_uncharged(known):
    days = dict(selectors.daily_spend(days=30, now=known["now"]))
    today = selectors.periods(known["now"]).day_start.date()
    assert days[today] == Decimal("4.00")
    assert days[today - timedelta(days=2)] == Decimal("4.50")
    assert sum(days.values()) == Decimal("8.50") and len(days) == 30


def test_the_page_shows_the_numbers_to_staff(client, staff, known):
    client.force_login(staff)
    response = client.get(reverse("ops:dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script" not in html.split("</head>")[1]  # charts are SVG drawn on the server
    assert html.count('<svg class="chart') == 3
    assert "Refused by content moderation: 2" in html  # the chart's text description
    assert "3:30" in html and "5:00" in html and "10:00" in html  # medians, m:ss
    assert "$4.00" in html  # spent today
    assert "Waiting to start for 15 minutes" in html
    assert reverse("admin:videos_videojob_change", args=[known["attention"].pk]) in html
    assert "The background worker has not finished any task yet." in html


def test_members_are_refused_and_visitors_sent_to_sign_in(client, member):
    assert client.get(reverse("ops:dashboard")).status_code == 302
    client.force_login(member)
    assert client.get(reverse("ops:dashboard")).status_code == 403
    assert client.get(reverse("ops:spend")).status_code == 403
    assert 'href="/ops/"' not in client.get(reverse("videos:studio")).content.decode()


def test_staff_find_the_dashboard_in_the_header(client, staff):
    client.force_login(staff)
    html = client.get(reverse("videos:gallery")).content.decode()
    assert '<a href="/ops/" >Operations</a>' in html


def test_what_people_and_providers_wrote_is_shown_escaped(client, staff, member):
    payload = "<script>alert(1)</script>"
    job_row(
        member,
        state=JobState.NEEDS_ATTENTION,
        text=f"prompt {payload}",
        error_message=f"provider said {payload}",
        created_at=ago(minutes=5),
        seconds=60,
        cost="1.00",
        events=True,
    )
    seeded_row(
        member,
        state=JobState.FAILED,
        error_message=f"moderation {payload}",
        cause=payload,
        created_at=ago(minutes=5),
        seconds=60,
    )
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    for url in [reverse("ops:dashboard"), reverse("ops:spend"), reverse("notices:list")]:
        html = client.get(url).content.decode()
        assert payload not in html, url
    job = member.video_jobs.first()
    html = client.get(reverse("admin:videos_videojob_change", args=[job.pk])).content.decode()
    assert payload not in html and "&lt;script&gt;" in html
