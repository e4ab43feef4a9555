"""Errors after Generate appear by the button, get focus and are announced; the budget that is
left shows by the button, with a warning before a submission that would be refused."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import create_user, login, manage, open_page, screenshot

pytestmark = pytest.mark.browser

IN_VIEW = """el => { const r = el.getBoundingClientRect();
  return r.top >= -1 && r.bottom <= window.innerHeight + 1 && r.height > 0; }"""


def _set_limits(stack, username: str, daily: str) -> None:
    manage(
        stack,
        "shell",
        "-c",
        "from decimal import Decimal\n"
        "from django.contrib.auth.models import User\n"
        "from soraweb.ops.models import BudgetPolicy, UserBudget\n"
        "from soraweb.ops.selectors import spend_totals\n"
        f"user = User.objects.get(username={username!r})\n"
        # The stack is shared: what earlier tests spent this month is added, so exactly
        # $100.00 is left for the team whatever ran before.
        "spent = spend_totals(user=user).team_month\n"
        "policy = BudgetPolicy.load(); policy.team_monthly_limit = Decimal('100.00') + spent\n"
        "policy.save()\n"
        f"UserBudget.objects.update_or_create(user=user, defaults={{'daily_limit': Decimal({daily!r})}})",
    )


def _assert_error_by_button(page, form: str, *texts: str) -> None:
    errors = page.locator(f"#{form}-errors")
    errors.wait_for()
    assert errors.get_attribute("role") == "alert"
    page.wait_for_function(
        f"() => document.activeElement && document.activeElement.id === '{form}-errors'"
    )
    assert errors.evaluate(IN_VIEW), "the error is out of view"
    assert page.locator(f"#{form}-form button[type=submit]").evaluate(IN_VIEW)
    text = errors.inner_text()
    for wanted in texts:
        assert wanted in text, text


@pytest.mark.parametrize(
    ("locale", "expected", "name"),
    [
        ("en-US", ["Prompt", "Describe the video you want."], "en"),
        ("zh-CN", ["提示词", "请描述你想要的视频。"], "zh"),
    ],
)
def test_an_empty_prompt_is_reported_by_the_button(browser, stack, locale, expected, name):
    with open_page(browser, viewport={"width": 1280, "height": 800}, locale=locale) as page:
        login(page, stack)
        button = page.locator("#create-form button[type=submit]")
        button.scroll_into_view_if_needed()
        button.click()
        _assert_error_by_button(page, "create", *expected)
        # The link in the message takes the person to the field.
        page.locator("#create-errors a").click()
        assert page.evaluate("document.activeElement.id") == "id_prompt"
        screenshot(page, f"form-error-empty-prompt-{name}-desktop")


def test_a_budget_refusal_is_reported_by_the_button_and_warned_before(browser, stack):
    create_user(stack, "mina", "mina-pass-42")
    _set_limits(stack, "mina", "0.50")
    with open_page(
        browser,
        viewport={"width": 390, "height": 844},
        locale="en-US",
        is_mobile=True,
        has_touch=True,
    ) as page:
        login(page, stack, "mina", "mina-pass-42")
        left = page.locator("#budget-left")
        assert "You have $0.50 left today." in left.inner_text()
        assert "The team has $100.00 left this month." in left.inner_text()
        warning = left.locator("[data-over-budget]")
        assert (
            "This costs more than is left ($0.50), so it would be refused." in warning.inner_text()
        )
        page.locator("#id_prompt").fill("A red kite over green hills")
        button = page.locator("#create-form button[type=submit]")
        button.scroll_into_view_if_needed()
        assert warning.evaluate(IN_VIEW), "the warning is not by the button"
        screenshot(page, "budget-warning-phone")
        button.click()
        _assert_error_by_button(
            page,
            "create",
            "This video would cost $1.00; you have $0.50 left of your $0.50 daily limit.",
        )
        screenshot(page, "budget-refused-phone")


def test_a_budget_refusal_in_chinese(browser, stack):
    create_user(stack, "lin", "lin-pass-42")
    _set_limits(stack, "lin", "0.50")
    with open_page(browser, viewport={"width": 1280, "height": 800}, locale="zh-CN") as page:
        login(page, stack, "lin", "lin-pass-42")
        left = page.locator("#budget-left")
        assert "你今天还可花 0.50 美元。" in left.inner_text()
        assert "团队本月还可花 100.00 美元。" in left.inner_text()
        assert "费用超过剩余额度（0.50 美元）" in left.inner_text()
        page.locator("#id_prompt").fill("一只红色风筝飞过绿色的山丘")
        button = page.locator("#create-form button[type=submit]")
        button.scroll_into_view_if_needed()
        button.click()
        _assert_error_by_button(page, "create", "0.50 美元")
        screenshot(page, "zh-budget-refused-desktop")
