"""Live pages in a real browser: a card turns Ready as soon as the job does, pushed by the live
stream, on a stack whose card poll (the fallback) is set far slower than the job takes."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import login, open_page, screenshot, start_stack, stop_stack

pytestmark = pytest.mark.browser

CARD_POLL_SECONDS = 60  # the fallback: far longer than the whole job takes here


@pytest.fixture(scope="module")
def slow_poll_stack(tmp_path_factory):
    s = start_stack(
        tmp_path_factory.mktemp("live-stack"),
        {"SORAWEB_CARD_POLL_SECONDS": str(CARD_POLL_SECONDS), "SORAWEB_SIMULATOR_JOB_SECONDS": "4"},
    )
    yield s
    stop_stack(s)


def test_a_card_turns_ready_without_waiting_for_its_poll(browser, slow_poll_stack):
    stack = slow_poll_stack
    with open_page(browser, viewport={"width": 1280, "height": 900}, locale="en-US") as page:
        card_requests: list[str] = []
        page.on(
            "request",
            lambda r: card_requests.append(r.url) if "/card/" in r.url else None,
        )
        login(page, stack)
        streams = []
        page.on("request", lambda r: streams.append(r.url) if "/live/" in r.url else None)
        page.reload()
        page.wait_for_function("() => !!document.querySelector('section.jobs[sse-connect]')")
        prompt = "A paper boat drifts down a rainy street"
        started = time.monotonic()
        page.locator("#id_prompt").fill(prompt)
        page.locator("#create-form button[type=submit]").click()
        card = page.locator(".job-card", has_text=prompt)
        card.wait_for()
        assert card.get_attribute("hx-trigger").startswith(f"every {CARD_POLL_SECONDS}s, sse:job-")

        # While it is made: the progress moves without the card polling.
        page.locator('.job-card[data-state="running"]', has_text=prompt).wait_for(timeout=20_000)
        screenshot(page, "live-studio-running")

        # The fallback poll would first ask after a minute (and the safety net after 30 s): a
        # card that says Ready well before then was told by the stream.
        ready = page.locator('.job-card[data-state="succeeded"]', has_text=prompt)
        ready.wait_for(timeout=25_000)
        took = time.monotonic() - started
        assert took < 30
        assert "Ready after" in ready.inner_text()
        screenshot(page, "live-studio-ready")

        assert streams and all("mine=1" in url for url in streams)
        assert card_requests, "the card fetched itself when the stream named it"
        assert all("live=1" in url for url in card_requests), card_requests


def test_the_job_page_follows_its_job_live_and_shows_the_video(browser, slow_poll_stack):
    stack = slow_poll_stack
    with open_page(browser, viewport={"width": 1280, "height": 900}, locale="en-US") as page:
        login(page, stack)
        prompt = "A kite rises over a windy beach"
        page.locator("#id_prompt").fill(prompt)
        page.locator("#create-form button[type=submit]").click()
        page.locator(".job-card", has_text=prompt).locator(".job-prompt a").click()
        page.wait_for_url("**/jobs/*/")
        # The card asks for a reload once the job is ready: the page then shows the player.
        page.locator("video.detail-video").wait_for(timeout=25_000)
        assert page.locator(".detail-player").is_visible()


def test_without_javascript_the_studio_lists_jobs_and_opens_no_stream(browser, slow_poll_stack):
    stack = slow_poll_stack
    with open_page(browser, java_script_enabled=False, locale="en-US") as page:
        streams = []
        page.on("request", lambda r: streams.append(r.url) if "/live/" in r.url else None)
        login(page, stack)
        page.goto(stack.url("/"))
        assert page.locator("#job-list .job-card").count() >= 1
        assert (
            page.locator(".job-card .job-prompt a").first.get_attribute("href").startswith("/jobs/")
        )
        assert streams == []


SET_HIDDEN = """hidden => {
  Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_a_tab_in_the_background_gives_its_stream_back_and_catches_up(browser, slow_poll_stack):
    stack = slow_poll_stack
    with open_page(browser, viewport={"width": 1280, "height": 900}, locale="en-US") as page:
        login(page, stack)
        with page.expect_request(lambda r: "/live/" in r.url):
            page.reload()
        with page.expect_event("requestfailed", lambda r: "/live/" in r.url):
            page.evaluate(SET_HIDDEN, True)
        with page.expect_request(lambda r: "/live/" in r.url) as reopened:
            page.evaluate(SET_HIDDEN, False)
        assert "mine=1" in reopened.value.url
        prompt = "A lantern floats over a dark lake"
        page.locator("#id_prompt").fill(prompt)
        page.locator("#create-form button[type=submit]").click()
        ready = page.locator('.job-card[data-state="succeeded"]', has_text=prompt)
        ready.wait_for(timeout=25_000)  # the fallback poll would take a minute
