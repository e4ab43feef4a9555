"""English and Simplified Chinese in a real browser: the browser's language, the switcher, and
the whole journey (one video, a batch, the gallery, a review) in Chinese."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, open_page, screenshot

pytestmark = pytest.mark.browser


def test_a_chinese_browser_gets_chinese_and_the_switcher_changes_it(zh_page, stack):
    page = zh_page
    page.goto(stack.url("/"))
    page.get_by_role("heading", name="登录").wait_for()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.get_by_label("用户名").fill(ADMIN_USER)  # labels work in Chinese too
    page.get_by_label("密码").fill(ADMIN_PASSWORD)
    screenshot(page, "zh-login-desktop")

    page.get_by_role("button", name="English").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.get_by_role("button", name="English").get_attribute("aria-pressed") == "true"
    page.get_by_role("button", name="简体中文").click()
    page.get_by_role("heading", name="登录").wait_for()
    page.get_by_label("用户名").fill(ADMIN_USER)
    page.get_by_label("密码").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="创建视频").wait_for()
    # The choice follows the person from page to page.
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="画廊").click()
    page.get_by_role("heading", name="画廊").wait_for()


def test_the_whole_journey_in_chinese(zh_page, stack, browser):
    page = zh_page
    page.goto(stack.url("/"))
    page.get_by_label("用户名").fill(ADMIN_USER)
    page.get_by_label("密码").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="创建视频").wait_for()

    # One video.
    page.get_by_label("提示词", exact=True).fill("一只纸船在下雨的街道上漂流，黄昏，电影感")
    page.get_by_label("画面比例").select_option("16:9")
    page.wait_for_function(
        "() => document.querySelector('#estimate').innerText.includes('预计费用')"
    )
    page.get_by_role("button", name="生成").click()
    card = page.locator(".job-card", has_text="一只纸船在下雨的街道上漂流")
    card.wait_for()
    assert re.search(r"已用时 \d:\d\d", card.inner_text())
    screenshot(page, "zh-create-running-desktop")
    page.locator('.job-card[data-state="succeeded"]', has_text="一只纸船").wait_for(timeout=60_000)
    assert "已完成" in card.inner_text() and "用时" in card.inner_text()

    # A batch.
    page.get_by_role("link", name="批量生成").click()
    page.get_by_label("提示词（每行一条）").fill("雪地里的一只狐狸\n海上的灯塔，暴风雨")
    page.wait_for_function(
        "() => document.querySelector('#estimate').innerText.includes('共 2 个视频')"
    )
    page.get_by_role("button", name="全部创建").click()
    page.locator("#batch-report").get_by_text("已开始 2 个视频").wait_for()
    screenshot(page, "zh-batch-desktop")

    # The gallery and a review.
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="画廊").click()
    page.get_by_label("搜索提示词").fill("纸船")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
    screenshot(page, "zh-gallery-desktop")
    page.get_by_role("link", name=re.compile("一只纸船")).click()
    page.get_by_role("heading", name="审核", exact=True).wait_for()
    page.get_by_label("评论（可选）").fill("光线很好，可以发布。")
    page.get_by_role("button", name="通过").click()
    review = page.locator("#review")
    # Approving one's own video is off by default (a team setting); the panel says so, in Chinese.
    review.get_by_text("你不能批准自己的视频").wait_for()
    page.get_by_role("button", name="需要修改").click()
    review.locator(".thread-comment", has_text="光线很好，可以发布。").wait_for()
    assert review.locator(".review-status .badge").inner_text() == "需要修改"
    assert "由 admin 于" in review.locator(".review-status").inner_text()
    screenshot(page, "zh-review-desktop")

    # The same in a Chinese phone browser.
    with open_page(
        browser,
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
    ) as phone:
        phone.context.add_cookies(page.context.cookies())
        for path, name in [
            ("/", "zh-create-phone"),
            ("/gallery/?q=纸船", "zh-gallery-phone"),
            (page.url.replace(stack.base_url, ""), "zh-review-phone"),
        ]:
            phone.goto(stack.url(path))
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
            screenshot(phone, name)
