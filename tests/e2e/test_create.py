"""Creating one video in a real browser: the model-aware form, a picture with its preview, the
live cost, following the card to the end, and using a prompt again."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def wide_picture(tmp_path):
    path = tmp_path / "harbour.png"
    Image.linear_gradient("L").resize((1000, 400)).convert("RGB").save(path)
    return path


def test_one_video_from_a_picture_with_preview_cost_and_live_card(page, stack, wide_picture):
    login(page, stack)
    page.get_by_label("Prompt", exact=True).fill("A harbour at dawn, gulls over the water")
    page.get_by_label("Model").select_option(label="Sora 2")
    page.get_by_label("Aspect ratio").select_option("16:9")
    estimate = page.locator("#estimate")
    assert "$1.00" in estimate.inner_text()
    page.get_by_label("Duration").select_option("15")
    page.wait_for_function("() => document.querySelector('#estimate').innerText.includes('$1.50')")
    page.wait_for_function(
        "() => document.querySelector('#estimate').innerText.includes('1280 × 720')"
    )

    page.get_by_label("First frame", exact=True).set_input_files(wide_picture)
    preview = page.locator("#picture-slots .slot[data-slot=first_frame]")
    preview.get_by_text("Your picture: 1000 × 400 pixels.").wait_for()
    assert "Sent cropped to 1280 × 720" in preview.inner_text()
    assert preview.locator("img").evaluate("img => getComputedStyle(img).objectFit") == "cover"
    page.get_by_label("Add bars to fit the frame").check()
    preview.get_by_text("with black bars").wait_for()
    assert preview.locator("img").evaluate("img => getComputedStyle(img).objectFit") == "contain"
    screenshot(page, "create-picture-desktop")

    page.get_by_role("button", name="Generate").click()
    page.get_by_role("status").filter(has_text="Started “A harbour at dawn").wait_for()
    card = page.locator(".job-card", has_text="A harbour at dawn")
    card.wait_for()
    running = card.evaluate("el => el.getBoundingClientRect().height")
    page.locator('.job-card[data-state="running"], .job-card[data-state="queued"]').first.wait_for()
    assert card.get_by_role("progressbar").is_visible()
    assert re.search(r"\d+% · 0:\d\d elapsed", card.inner_text())
    screenshot(page, "create-running-desktop")
    page.locator('.job-card[data-state="succeeded"]', has_text="A harbour at dawn").wait_for(
        timeout=60_000
    )
    # Live updates never change a card's height, so the list does not jump while people read it.
    assert card.evaluate("el => el.getBoundingClientRect().height") == running
    assert "Ready after" in card.inner_text()
    screenshot(page, "create-done-desktop")

    # The detail page has every setting, the picture and how it was fitted.
    card.get_by_role("link", name="Watch and review").click()
    page.get_by_text("Add bars to fit the frame").wait_for()
    # The upload and, beside it, the copy the provider received: 1280 x 720 with bars.
    assert page.get_by_text("your picture, 1000 × 400").is_visible()
    assert page.get_by_text("sent: 1280 × 720 (Add bars to fit the frame)").is_visible()
    assert (
        page.get_by_role("link", name="Download video")
        .get_attribute("href")
        .endswith("?download=1")
    )

    # Prompt history: "Use again" brings back the prompt, the settings and the picture.
    page.goto(stack.url("/"))
    history = page.locator("#prompt-history")
    history.get_by_role("link", name=re.compile("^Use again: A harbour at dawn")).click()
    page.get_by_text(re.compile(r"Filled in from job \d+")).wait_for()
    assert (
        page.get_by_label("Prompt", exact=True).input_value()
        == "A harbour at dawn, gulls over the water"
    )
    assert page.get_by_label("Duration").input_value() == "15"
    assert page.get_by_label("Aspect ratio").input_value() == "16:9"
    assert page.get_by_label(re.compile("Use the same picture")).is_checked()
    assert page.get_by_label("Add bars to fit the frame").is_checked()


def test_disabled_choices_are_explained_and_failures_are_in_plain_words(page, stack):
    login(page, stack)
    page.get_by_label("Model").select_option(label="Sora 2 Pro")
    page.wait_for_function("() => document.querySelector('#id_resolution option[disabled]')")
    small = page.locator("#id_resolution option", has_text="720p")
    assert small.get_attribute("disabled") is not None
    assert small.inner_text() == "720p HD (not with Sora 2 Pro)"
    assert page.get_by_text("Sora 2 Pro only makes videos of 15 seconds.").is_visible()
    page.wait_for_function("() => document.querySelector('#estimate').innerText.includes('$7.50')")

    page.get_by_label("Model").select_option(label="Sora 2")
    page.wait_for_function("() => !document.querySelector('#id_resolution option[disabled]')")
    page.get_by_label("Prompt", exact=True).fill(
        "A famous actor waves at the camera [sim:moderation]"
    )
    page.get_by_role("button", name="Generate").click()
    failed = page.locator('.job-card[data-state="failed"]', has_text="A famous actor")
    failed.wait_for(timeout=60_000)
    assert "Refused by the provider’s safety check." in failed.inner_text()
    # The provider's own words, whole.
    assert (
        "Reason: The prompt was flagged by content moderation: depicts a real person"
        in failed.inner_text()
    )
    # The same words would be refused again: the card offers to edit them, not a blind retry.
    assert failed.get_by_role("link", name="Edit the prompt").is_visible()
    assert failed.get_by_role("button", name="Try again").count() == 0

    page.get_by_label("Prompt", exact=True).fill("A very slow sunrise [sim:slow=300]")
    page.get_by_role("button", name="Generate").click()
    slow = page.locator(".job-card", has_text="A very slow sunrise")
    slow.get_by_role("button", name="Cancel").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    slow.get_by_role("button", name="Cancel").click()
    page.locator('.job-card[data-state="cancelled"]', has_text="A very slow sunrise").wait_for()
    screenshot(page, "create-failed-and-cancelled-desktop")

    # Deleting asks first, then the card goes.
    cancelled = page.locator(".job-card", has_text="A very slow sunrise")
    page.once("dialog", lambda dialog: dialog.accept())
    cancelled.get_by_role("button", name="Delete").click()
    cancelled.wait_for(state="detached")


def test_the_create_page_at_phone_width(phone, stack):
    login(phone, stack)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.get_by_label("Prompt", exact=True).fill("A kite on a windy beach, seen from below")
    phone.get_by_role("button", name="Generate").click()
    phone.locator(".job-card", has_text="A kite on a windy beach").wait_for()
    screenshot(phone, "create-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
