"""Times in the viewer's time zone: detected from the browser once, stored per person, changeable,
validated; budgets count the team's days and say when they reset in the viewer's clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from soraweb import zones
from soraweb.ops import selectors as ops_selectors
from soraweb.ops.models import BudgetPolicy, LedgerStatus
from soraweb.videos import services
from soraweb.videos.models import JobState, Preferences, VideoJob, VideoModel
from tests.factories import ago, job_row

pytestmark = pytest.mark.django_db

# 04:30 UTC is 12:30 in Shanghai, the same day; 20:30 UTC is 04:30 the next day there.
CREATED = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)


def _job(owner, **overrides) -> VideoJob:
    vm = VideoModel.objects.get(name="sora-2")
    return job_row(
        owner,
        vm,
        text="a tea house in the rain",
        state=JobState.QUEUED,
        **{"orientation": "portrait", "created_at": CREATED, **overrides},
    )


def _detail(client, job, **headers) -> str:
    return client.get(reverse("videos:job_detail", args=[job.pk]), **headers).content.decode()


def test_the_browsers_zone_is_kept_on_the_first_visit_and_used_at_once(client, member):
    job = _job(member)
    client.force_login(member)
    client.cookies[zones.COOKIE_NAME] = "Asia%2FShanghai"  # as timezone.js writes it
    html = _detail(client, job)
    assert Preferences.objects.get(user=member).time_zone == "Asia/Shanghai"
    assert "Dec. 2, 2026, 12:30 p.m." in html
    assert "Times are shown in Asia/Shanghai." in html


def test_a_stored_zone_wins_over_what_the_browser_says_later(client, member):
    Preferences.objects.create(user=member, time_zone="Asia/Shanghai")
    job = _job(member)
    client.force_login(member)
    client.cookies[zones.COOKIE_NAME] = "America/New_York"
    assert "12:30 p.m." in _detail(client, job)
    assert Preferences.objects.get(user=member).time_zone == "Asia/Shanghai"


def test_without_a_zone_or_with_nonsense_the_installation_default_applies(client, member):
    job = _job(member)
    client.force_login(member)
    assert "Dec. 2, 2026, 4:30 a.m." in _detail(client, job)  # settings: UTC
    client.cookies[zones.COOKIE_NAME] = "Mars/Olympus_Mons"
    html = _detail(client, job)
    assert "4:30 a.m." in html and "Times are shown in UTC." in html
    assert Preferences.objects.get(user=member).time_zone == ""  # nothing believed
    with override_settings(TIME_ZONE="Asia/Shanghai"):
        assert "12:30 p.m." in _detail(client, job)


def test_anonymous_pages_use_the_default_and_store_nothing(client):
    client.cookies[zones.COOKIE_NAME] = "Asia/Shanghai"
    html = client.get(reverse("login")).content.decode()
    assert "/static/js/timezone." in html  # the detector is on the page before signing in
    assert not Preferences.objects.exists()
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_dates_follow_the_language(client, member):
    Preferences.objects.create(user=member, time_zone="Asia/Shanghai")
    job = _job(member, created_at=CREATED + timedelta(hours=16))  # 04:30 on 3 Dec in Shanghai
    client.force_login(member)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = _detail(client, job)
    assert "2026年12月3日 04:30" in html
    assert "时间均按 Asia/Shanghai 显示。" in html


def test_a_person_changes_their_zone_and_nonsense_is_refused(client, member):
    client.force_login(member)
    page = client.get(reverse("time_zone")).content.decode()
    assert '<option value="Asia/Shanghai">Asia/Shanghai</option>' in page
    assert '<option value="UTC" selected>UTC</option>' in page
    response = client.post(reverse("time_zone"), {"time_zone": "Asia/Shanghai"})
    assert response.status_code == 302
    assert Preferences.objects.get(user=member).time_zone == "Asia/Shanghai"
    page = client.get(reverse("time_zone")).content.decode()
    assert "Times are now shown in Asia/Shanghai." in page
    assert '<option value="Asia/Shanghai" selected>' in page
    for bad in ("Mars/Olympus_Mons", "localtime", "../../etc/passwd", ""):
        response = client.post(reverse("time_zone"), {"time_zone": bad})
        assert response.status_code == 400, bad
    assert Preferences.objects.get(user=member).time_zone == "Asia/Shanghai"


def test_the_page_offers_the_browsers_zone_when_it_differs(client, member):
    Preferences.objects.create(user=member, time_zone="UTC")
    client.force_login(member)
    client.cookies[zones.COOKIE_NAME] = "Asia/Kolkata"
    page = client.get(reverse("time_zone")).content.decode()
    assert 'name="time_zone" value="Asia/Kolkata"' in page and "Use Asia/Kolkata" in page


def test_the_time_zone_page_needs_a_signed_in_person(client):
    response = client.get(reverse("time_zone"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# --- budgets: the team's day, read in the viewer's clock -------------------------------------------


def test_the_team_day_follows_the_installation_zone_not_the_viewer():
    now = datetime(2026, 12, 2, 20, 30, tzinfo=UTC)
    p = ops_selectors.periods(now)
    assert p.day_start == datetime(2026, 12, 2, tzinfo=UTC)
    with override_settings(TIME_ZONE="Asia/Shanghai"):
        p = ops_selectors.periods(now)
        assert p.day_start == datetime(2026, 12, 2, 16, tzinfo=UTC)  # 3 Dec 00:00 in Shanghai
        assert p.next_day == datetime(2026, 12, 3, 16, tzinfo=UTC)
        assert p.month_start == datetime(2026, 11, 30, 16, tzinfo=UTC)
        with timezone.override("America/New_York"):  # the viewer's zone changes nothing
            assert ops_selectors.periods(now) == p


def test_the_team_day_survives_a_daylight_saving_change():
    with override_settings(TIME_ZONE="America/New_York"):
        p = ops_selectors.periods(datetime(2026, 3, 8, 12, tzinfo=UTC))  # the day clocks go forward
        assert p.day_start == datetime(2026, 3, 8, 5, tzinfo=UTC)  # 00:00 EST
        assert p.next_day == datetime(2026, 3, 9, 4, tzinfo=UTC)  # 00:00 EDT: a 23-hour day


def test_spend_in_the_small_hours_counts_for_the_teams_day(member):
    job_row(
        member,
        cost="2.00",
        ledger=LedgerStatus.CHARGED,
        created_at=datetime(2026, 12, 2, 17, 0, tzinfo=UTC),
        text="a seeded job",
        seconds=60,
        events=True,
    )
    now = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    assert ops_selectors.spend_totals(user=member, now=now).user_day == Decimal("2.00")
    days = dict(ops_selectors.daily_spend(days=2, now=now))
    assert days[datetime(2026, 12, 2).date()] == Decimal("2.00")
    with override_settings(TIME_ZONE="Asia/Shanghai"):
        now = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 09:00 on 3 Dec in Shanghai
        assert ops_selectors.spend_totals(user=member, now=now).user_day == Decimal("2.00")
        days = dict(ops_selectors.daily_spend(days=2, now=now))
        assert days[datetime(2026, 12, 3).date()] == Decimal("2.00")
        report = ops_selectors.spend_report(
            start=datetime(2026, 12, 3).date(), end=datetime(2026, 12, 3).date()
        )
        assert report.total.spent == Decimal("2.00")


def test_a_refusal_says_when_the_limit_resets_in_the_viewers_clock(member):
    policy = BudgetPolicy.load()
    policy.user_daily_limit = Decimal("0.50")
    policy.save()
    with timezone.override("Asia/Shanghai"), pytest.raises(ValidationError) as exc:
        services.job_create(
            owner=member,
            video_model=VideoModel.objects.get(name="sora-2"),
            prompt_text="a lighthouse at dawn",
            orientation="landscape",
            size="small",
            duration=10,
        )
    assert "It resets at 08:00 (Asia/Shanghai)." in exc.value.messages[0]


def test_the_studio_says_when_the_budget_resets(client, member):
    policy = BudgetPolicy.load()
    policy.user_daily_limit = Decimal("20.00")
    policy.save()
    Preferences.objects.create(user=member, time_zone="Asia/Shanghai")
    client.force_login(member)
    html = client.get(reverse("videos:studio")).content.decode()
    assert "Daily limits reset at 08:00 (Asia/Shanghai)." in html


def test_the_dashboard_says_its_zone_and_when_limits_reset(client, staff):
    Preferences.objects.create(user=staff, time_zone="Asia/Shanghai")
    client.force_login(staff)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = client.get(reverse("ops:dashboard")).content.decode()
    assert re.search(r"更新于 \d\d:\d\d（Asia/Shanghai）。", html)
    assert "按 UTC 计算" in html and "每日限额在 08:00 重置" in html


# --- the language, remembered for what is written outside a request --------------------------------


def test_the_pages_language_is_remembered_and_e_mails_use_it(
    client, member, settings, django_capture_on_commit_callbacks
):
    from django.core import mail

    from tests.ops.test_notifications import settle

    settings.SORAWEB_EMAIL_NOTIFICATIONS = True
    member.email = "mia@example.com"
    member.save()
    client.force_login(member)
    client.get(reverse("videos:studio"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert Preferences.objects.get(user=member).language == "zh-hans"
    job = job_row(
        member,
        state=JobState.ARCHIVING,
        text="纸船",
        created_at=ago(minutes=5),
        cost="1.00",
        events=True,
    )
    settle(job, JobState.SUCCEEDED, django_capture_on_commit_callbacks)
    assert mail.outbox[0].subject == "soraweb: 视频“纸船”已完成。"
    assert mail.outbox[0].body.startswith("mia，你好：")
    client.get(reverse("videos:studio"), HTTP_ACCEPT_LANGUAGE="en")
    assert Preferences.objects.get(user=member).language == "en"
