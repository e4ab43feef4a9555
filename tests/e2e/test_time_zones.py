"""Times in the viewer's time zone, in a real browser: a browser in Shanghai sees a job's times in
Shanghai time (and in Chinese dates), a browser in UTC sees UTC, and a person can change theirs.
Also the error pages and the admin as a Chinese-speaking team sees them."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    create_user,
    login,
    manage,
    open_page,
    screenshot,
    seed_finished_videos,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


def _seed_job_at_a_known_time(stack, owner: str) -> int:
    """A finished job created 04:30:00 and finished 04:31:10 UTC on 2 December 2026."""
    [job_id] = seed_finished_videos(
        stack,
        [{"prompt": "时区 a tea house in the rain", "owner": owner, "model": "sora-2",
          "orientation": "landscape"}],
    )  # fmt: skip
    manage(
        stack,
        "shell",
        "-c",
        "from datetime import datetime, UTC\n"
        "from soraweb.videos.models import VideoJob\n"
        f"VideoJob.objects.filter(pk={job_id}).update(\n"
        "    created_at=datetime(2026, 12, 2, 4, 30, tzinfo=UTC),\n"
        "    finished_at=datetime(2026, 12, 2, 4, 31, 10, tzinfo=UTC))",
    )
    return job_id


def _times(page) -> dict[str, str]:
    facts = page.locator("dl.facts")
    terms = facts.locator("dt").all_inner_texts()
    values = facts.locator("dd").all_inner_texts()
    return dict(zip(terms, values, strict=False))


def test_a_browser_in_shanghai_sees_shanghai_time_and_one_in_utc_sees_utc(browser, stack):
    # People who have not signed in yet: their first visit is in this test.
    create_user(stack, "tz-shanghai", "tz-shanghai-pass-9")
    create_user(stack, "tz-member", "tz-member-pass-9")
    job_id = _seed_job_at_a_known_time(stack, "tz-shanghai")

    # A Chinese-speaking person in Shanghai: the zone is taken from the browser on the first visit.
    shanghai = {"viewport": DESKTOP, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
    with open_page(browser, **shanghai) as page:
        login(page, stack, "tz-shanghai", "tz-shanghai-pass-9")
        page.goto(stack.url(f"/jobs/{job_id}/"))
        times = _times(page)
        assert times["创建时间"] == "2026年12月2日 12:30"
        assert times["完成时间"].startswith("2026年12月2日 12:31")
        assert (
            page.locator(".time-zone-note").inner_text().startswith("时间均按 Asia/Shanghai 显示。")
        )
        screenshot(page, "tz-job-shanghai-zh")

    # Another person, in UTC, reading English.
    utc = {"viewport": DESKTOP, "locale": "en-US", "timezone_id": "UTC"}
    with open_page(browser, **utc) as page:
        login(page, stack, "tz-member", "tz-member-pass-9")
        page.goto(stack.url(f"/jobs/{job_id}/"))
        assert _times(page)["Created"] == "Dec. 2, 2026, 4:30 a.m."
        assert "Times are shown in UTC." in page.locator(".time-zone-note").inner_text()
        screenshot(page, "tz-job-utc-en")

        # ...who moves to Tokyo and says so: the change applies to every page at once.
        page.get_by_role("link", name="Change time zone").click()
        page.get_by_label("Time zone", exact=True).select_option("Asia/Tokyo")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Times are now shown in Asia/Tokyo.").wait_for()
        screenshot(page, "tz-settings-en")
        page.goto(stack.url(f"/jobs/{job_id}/"))
        assert _times(page)["Created"] == "Dec. 2, 2026, 1:30 p.m."

    # The first browser's zone stays the person's, whatever the next browser says.
    new_york = {"viewport": DESKTOP, "locale": "en-US", "timezone_id": "America/New_York"}
    with open_page(browser, **new_york) as page:
        login(page, stack, "tz-shanghai", "tz-shanghai-pass-9")
        page.goto(stack.url(f"/jobs/{job_id}/"))
        assert _times(page)["Created"] == "Dec. 2, 2026, 12:30 p.m."


def test_the_error_pages_and_the_admin_read_chinese(browser, stack):
    # An administrator signing in for the first time, from Shanghai.
    create_user(stack, "tz-admin", ADMIN_PASSWORD, staff=True)
    manage(
        stack,
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        "User.objects.filter(username='tz-admin').update(is_superuser=True)",
    )
    job_id = _seed_job_at_a_known_time(stack, ADMIN_USER)
    manage(
        stack,
        "shell",
        "-c",
        "from soraweb.videos.models import VideoJob\n"
        f"VideoJob.objects.filter(pk={job_id}).update(state='needs_attention', "
        "orientation='portrait')",
    )
    zh = {"viewport": DESKTOP, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
    with open_page(browser, **zh) as page:
        login(page, stack, "tz-admin", ADMIN_PASSWORD)
        response = page.goto(stack.url("/no-such-page/"))
        assert response.status == 404
        page.get_by_role("heading", name="这个页面不存在").wait_for()
        assert page.locator("header.site-header").is_visible()
        screenshot(page, "zh-404")
        page.get_by_role("link", name="返回工作室").click()
        page.get_by_role("heading", name="创建视频").wait_for()

        page.goto(stack.url(f"/admin/videos/videojob/{job_id}/change/"))
        assert f"任务 {job_id}（需要处理）" in page.title()
        body = page.locator("#content").inner_text()
        assert "needs_attention" not in body and "portrait" not in body
        assert "竖屏（纵向）" in body and "发送给服务商的时间" in body
        assert "2026年12月2日 12:30" in body  # the admin shows the person's zone too
        screenshot(page, "zh-admin-job")

        # The operations page counts the team's day (UTC here) and says so in the reader's clock.
        page.goto(stack.url("/ops/"))
        assert "（Asia/Shanghai）" in page.locator(".ops-head").inner_text()
        resets = page.locator(".budget-resets").inner_text()
        assert "日和月按 UTC 计算。每日限额在 08:00 重置" in resets
        screenshot(page, "zh-ops-time-zone")
