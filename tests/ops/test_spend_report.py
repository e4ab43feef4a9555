"""The spend report: per person, model and day, with what is left of each person's limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from soraweb.ops import selectors
from soraweb.ops.models import LedgerStatus, UserBudget
from soraweb.videos.models import JobState
from tests.factories import job_row, seeded_row
from tests.ops.test_dashboard import today_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(member, other_member, budget):
    now = timezone.now()
    today = today_at(now)
    seeded_row(
        member,
        created_at=today,
        ledger=LedgerStatus.CHARGED,
        seconds=60,
    )
    job_row(
        other_member,
        state=JobState.RUNNING,
        created_at=today,
        cost="3.00",
        ledger=LedgerStatus.RESERVED,
        text="a seeded job",
        events=True,
    )
    job_row(
        member,
        model="sora-2-pro",
        created_at=now - timedelta(days=2),
        cost="4.50",
        ledger=LedgerStatus.CHARGED,
        text="a seeded job",
        seconds=60,
        events=True,
    )
    seeded_row(
        member,
        state=JobState.FAILED,
        created_at=today,
        ledger=LedgerStatus.NOT_CHARGED,
        seconds=60,
    )
    job_row(
        member,
        created_at=now - timedelta(days=10),
        cost="9.00",
        ledger=LedgerStatus.CHARGED,
        text="a seeded job",
        seconds=60,
        events=True,
    )
    budget.user_daily_limit = Decimal("2.00")
    budget.save()
    UserBudget.objects.create(user=member, daily_limit=Decimal("5.00"), monthly_limit=Decimal("50"))
    return selectors.periods(now).day_start.date()


def test_it_adds_up_per_person_model_and_day(ledger):
    today = ledger
    report = selectors.spend_report(start=today - timedelta(days=6), end=today)
    assert (report.total.spent, report.total.reserved, report.total.not_charged) == (
        Decimal("8.50"),
        Decimal("3.00"),
        Decimal("1.00"),
    )
    assert report.total.jobs == 4
    assert [(r.label, r.spent, r.jobs) for r in report.by_user] == [
        ("mia", Decimal("5.50"), 3),
        ("omar", Decimal("3.00"), 1),
    ]
    assert [(r.label, r.spent) for r in report.by_model] == [
        ("Sora 2 Pro", Decimal("4.50")),
        ("Sora 2", Decimal("4.00")),
    ]
    assert len(report.by_day) == 7
    by_day = {r.label: r.spent for r in report.by_day}
    assert by_day[today.isoformat()] == Decimal("4.00")
    assert by_day[(today - timedelta(days=2)).isoformat()] == Decimal("4.50")
    assert by_day[(today - timedelta(days=1)).isoformat()] == Decimal("0")


def test_what_is_left_of_each_persons_limits(ledger, member, other_member):
    budgets = selectors.people_budgets(user_ids=[member.pk, other_member.pk])
    mia, omar = budgets[member.pk], budgets[other_member.pk]
    assert (mia.daily.limit, mia.daily.left) == (Decimal("5.00"), Decimal("4.00"))
    assert mia.monthly.limit == Decimal("50")
    assert (omar.daily.limit, omar.daily.left) == (Decimal("2.00"), Decimal("0"))  # 3.00 > 2.00
    assert omar.monthly.limit is None


def test_the_page_answers_what_did_we_spend_this_week(client, staff, ledger):
    client.force_login(staff)
    html = client.get(reverse("ops:spend")).content.decode()
    assert '<span class="stat">$8.50</span>' in html and "spent in this period" in html
    assert "$3.00 still running" in html
    assert "$4.00 of $5.00" in html  # mia: left today of her personal limit
    assert "Sora 2 Pro" in html
    assert 'aria-current="true">Last 7 days' in html
    assert '<svg class="chart chart-columns"' in html


def test_the_period_can_be_chosen(client, staff, ledger):
    today = ledger
    client.force_login(staff)
    month = client.get(reverse("ops:spend"), {"range": "30"}).content.decode()
    assert '<span class="stat">$17.50</span>' in month  # the $9.00 from ten days ago is in
    start = (today - timedelta(days=2)).isoformat()
    one_day = client.get(reverse("ops:spend"), {"start": start, "end": start}).content.decode()
    assert '<span class="stat">$4.50</span>' in one_day  # the period's total
    broken = client.get(reverse("ops:spend"), {"start": "yesterday"})
    assert broken.status_code == 200  # falls back to the last 7 days


def test_the_period_downloads_as_a_spreadsheet(client, staff, member, ledger):
    import csv
    import io

    from soraweb.ops.models import LedgerEntry

    today = ledger
    LedgerEntry.objects.filter(user=member).update(username="=HYPERLINK(1)")  # a hostile name
    client.force_login(staff)
    page = client.get(reverse("ops:spend"), {"range": "7"}).content.decode()
    assert reverse("ops:spend_csv") in page and "Download as CSV" in page
    answer = client.get(
        reverse("ops:spend_csv"),
        {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat()},
    )
    assert answer["Content-Type"].startswith("text/csv")
    assert (
        f"soraweb-spend-{(today - timedelta(days=6)).isoformat()}" in answer["Content-Disposition"]
    )
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 (Chinese names) with the mark
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "submitted (UTC)"  # the team zone, by default UTC
    assert header[-1] == "estimated cost (US$)"
    assert len(body) == 4  # the four entries of the last 7 days, the old one left out
    assert sorted(r[-1] for r in body) == ["1.00", "1.00", "3.00", "4.50"]
    assert {r[1] for r in body} == {"'=HYPERLINK(1)", "omar"}  # never a formula


def test_only_people_who_may_see_spending_download_it(client, member, ledger):
    client.force_login(member)
    assert client.get(reverse("ops:spend_csv")).status_code in (302, 403)
