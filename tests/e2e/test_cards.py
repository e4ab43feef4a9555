"""Job cards that actions put on the page: a retried job is a real, live card, in view, in both
languages; failure reasons are readable on a touch screen."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USER, create_user, login, open_page, screenshot

pytestmark = pytest.mark.browser

# Four refused starts (429) use up soraweb's four tries, so the job fails; the retry is the fifth
# start of the same prompt at the simulator, which then accepts it.
FAILS_THEN_WORKS = "[sim:429=4]"

# (A pixel of slack: scrolling lands on fractional positions.)
IN_VIEW = """el => { const r = el.getBoundingClientRect();
  return r.top >= -1 && r.bottom <= window.innerHeight + 1 && r.height > 0; }"""


def _generate(page, prompt: str, button: str = "Generate") -> None:
    page.locator("#id_prompt").fill(prompt)
    page.locator("#create-form button[type=submit]").click()
    page.locator(".job-card", has_text=prompt[:24]).first.wait_for()
    page.locator("#create-form .form-success").wait_for()


def _assert_live_card(card) -> None:
    """A proper card: the <article> with the card's class, its poll and its live trigger."""
    assert card.evaluate("el => el.tagName") == "ARTICLE"
    assert "job-card" in (card.get_attribute("class") or "")
    assert (card.get_attribute("hx-get") or "").startswith("/jobs/")
    job_id = card.get_attribute("id").removeprefix("job-")
    assert card.get_attribute("hx-trigger") == f"every 3s, sse:job-{job_id}"
    assert card.evaluate("el => el.parentElement.id") == "job-list"


def test_try_again_gives_a_live_card_in_view_on_a_phone(phone, stack):
    page = phone
    login(page, stack)
    prompt = f"A lighthouse keeper climbs the stairs {FAILS_THEN_WORKS}"
    _generate(page, prompt)
    # More recent jobs above it, so the list's top is far from the failed card.
    for n in range(3):
        _generate(page, f"Filler clip number {n} of a quiet pond")
    failed = page.locator('.job-card[data-state="failed"]', has_text="A lighthouse keeper")
    failed.wait_for(timeout=90_000)
    before = page.locator("#job-list > .job-card").count()
    failed.scroll_into_view_if_needed()
    failed.get_by_role("button", name="Try again").click()

    page.wait_for_function(
        f"() => document.querySelectorAll('#job-list > .job-card').length === {before + 1}"
    )
    new_card = page.locator("#job-list > *").first
    _assert_live_card(new_card)
    assert "A lighthouse keeper" in new_card.inner_text()
    assert new_card.get_attribute("id") != failed.get_attribute("id")
    page.wait_for_function(
        f"() => ({IN_VIEW})(document.querySelector('#job-list > *'))", timeout=5_000
    )
    screenshot(page, "retry-new-card-phone")
    # It keeps updating by itself until it is ready.
    new_id = new_card.get_attribute("id")
    ready = page.locator(f'#{new_id}[data-state="succeeded"]')
    ready.wait_for(timeout=60_000)
    assert "Ready after" in ready.inner_text()
    _assert_live_card_done(ready)
    screenshot(page, "retry-new-card-ready-phone")


def _assert_live_card_done(card) -> None:
    assert card.evaluate("el => el.tagName") == "ARTICLE"
    assert "job-card" in (card.get_attribute("class") or "")
    assert card.evaluate("el => el.parentElement.id") == "job-list"


def test_try_again_in_chinese_on_a_desktop(zh_page, stack):
    page = zh_page
    page.goto(stack.url("/"))
    page.get_by_label("用户名").fill(ADMIN_USER)
    page.get_by_label("密码").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="创建视频").wait_for()
    prompt = f"灯塔守护人在雾中登上楼梯 {FAILS_THEN_WORKS}"
    _generate(page, prompt)
    failed = page.locator('.job-card[data-state="failed"]', has_text="灯塔守护人")
    failed.wait_for(timeout=90_000)
    failed.get_by_role("button", name="重试").click()
    new_card = page.locator("#job-list > *").first
    page.wait_for_function(
        "() => document.querySelector('#job-list > *').dataset.state !== 'failed'"
    )
    _assert_live_card(new_card)
    page.wait_for_function(
        f"() => ({IN_VIEW})(document.querySelector('#job-list > *'))", timeout=5_000
    )
    new_id = new_card.get_attribute("id")
    ready = page.locator(f'#{new_id}[data-state="succeeded"]')
    ready.wait_for(timeout=60_000)
    assert "已完成" in ready.inner_text()
    screenshot(page, "zh-retry-new-card-ready-desktop")


LONG_REASON = (
    "[sim:moderation=The prompt was flagged by content moderation: it depicts a real, living"
    " public figure in a situation they did not agree to, which the policy does not allow]"
)
NOT_CUT = """el => getComputedStyle(el).whiteSpace !== 'nowrap' && el.scrollWidth <= el.clientWidth
  && el.getBoundingClientRect().bottom <= el.closest('.job-card').getBoundingClientRect().bottom"""


@pytest.mark.parametrize(
    ("fixture", "words", "name"),
    [
        (
            "phone",
            ["Refused by the provider’s safety check.", "Not charged.", "Edit the prompt"],
            "en-phone",
        ),
        ("zh_page", ["服务商的安全审核", "未扣费。", "修改提示词"], "zh-desktop"),
    ],
)
def test_a_refused_card_shows_its_whole_reason_the_charge_and_offers_to_edit(
    request, stack, fixture, words, name
):
    page = request.getfixturevalue(fixture)
    login(page, stack)
    prompt = f"A senator dances on the table {LONG_REASON}"
    page.locator("#id_prompt").fill(prompt)
    page.locator("#create-form button[type=submit]").click()
    card = page.locator('.job-card[data-state="failed"]', has_text="A senator dances")
    card.wait_for(timeout=60_000)
    headline, reason = card.locator(".job-error strong"), card.locator(".job-reason")
    # Wrapped in full, inside the card: readable without a tooltip, on a touch screen too.
    assert headline.evaluate(NOT_CUT) and reason.evaluate(NOT_CUT)
    assert "which the policy does not allow" in reason.inner_text()
    assert reason.is_visible()
    text = card.inner_text()
    headline_words, charge, edit = words
    assert headline_words in text and charge in text
    assert card.get_by_role("button", name="Try again").count() == 0
    assert card.get_by_role("button", name="重试").count() == 0
    screenshot(page, f"failed-card-reason-{name}")
    card.get_by_role("link", name=edit).click()
    page.wait_for_function(
        "() => document.querySelector('#id_prompt').value.startsWith('A senator dances')"
    )


def test_a_failed_jobs_history_reads_in_chinese(zh_page, stack):
    """The history is rendered from each entry's cause, in the reader's language."""
    page = zh_page
    login(page, stack)
    page.locator("#id_prompt").fill("一位议员在桌上跳舞 history-zh [sim:moderation]")
    page.locator("#create-form button[type=submit]").click()
    card = page.locator('.job-card[data-state="failed"]', has_text="history-zh")
    card.wait_for(timeout=60_000)
    job_id = card.get_attribute("id").removeprefix("job-")
    page.goto(stack.url(f"/jobs/{job_id}/"))
    history = page.locator(".event-message")
    history.first.wait_for()
    lines = history.all_inner_texts()
    assert any("正在发送给服务商" in line for line in lines), lines
    assert any("服务商报告失败" in line for line in lines), lines
    assert not any(
        "Sending to the provider" in line or "Provider reports" in line for line in lines
    )
    assert "服务商的安全审核" in page.locator(".error-box").inner_text()
    screenshot(page, "zh-failed-job-history-desktop")


def test_a_member_asks_an_admin_about_a_job_that_needs_attention_and_cannot_retry_blindly(
    browser, stack
):
    """The create's answer was garbage, so nobody knows whether the provider made it: the
    member asks an admin (once), and "Try again anyway" only goes with the box ticked."""
    create_user(stack, "nadia", "nadia-pass-7731")
    with open_page(browser, viewport={"width": 1280, "height": 900}, locale="en-US") as page:
        login(page, stack, "nadia", "nadia-pass-7731")
        page.locator("#id_prompt").fill("a lighthouse at dusk ask-admin [sim:garbage]")
        page.locator("#create-form button[type=submit]").click()
        card = page.locator('.job-card[data-state="needs_attention"]', has_text="ask-admin")
        card.wait_for(timeout=60_000)
        assert "cannot tell whether the provider started" in card.inner_text()
        retry = card.get_by_role("button", name="Try again anyway")
        retry.click()  # the box is not ticked: the browser keeps the form
        assert card.locator("input[name=accept_double_billing]").evaluate(
            "el => !el.validity.valid"
        )
        screenshot(page, "needs-attention-member-desktop")
        card.get_by_role("button", name="Ask an admin").click()
        asked = page.locator(".job-card", has_text="ask-admin").locator(".job-help-asked")
        asked.wait_for()
        assert asked.inner_text() == "An admin has been asked to check."
        screenshot(page, "needs-attention-asked-desktop")
    with open_page(browser, viewport={"width": 1280, "height": 900}, locale="en-US") as page:
        login(page, stack)
        page.goto(stack.url("/notices/"))
        notice = page.locator(".notice-item", has_text="nadia asks an admin to check")
        notice.wait_for()
        assert notice.get_by_role("link", name="The job in the admin").count() == 1
        screenshot(page, "needs-attention-staff-notice-desktop")
