"""Remix and "Use these settings" in a real browser, with a relay that speaks the openai format
(the simulator on the same port), which can remix and insists on exact picture sizes."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.e2e.conftest import login, manage, screenshot

pytestmark = pytest.mark.browser

MODEL = "Sora 2 (OpenAI relay)"


@pytest.fixture(scope="module")
def openai_relay(stack):
    sim_port = stack.ports[1]
    provider = {"base_url": f"http://127.0.0.1:{sim_port}/v1", "wire_format": "openai"}
    model = {
        "display_name": MODEL,
        "orientations": ["portrait", "landscape"],
        "sizes": ["small"],
        "durations": [10],
        "default_size": "small",
        "default_duration": 10,
        "max_images": 1,
        "price_per_second": {"small": "0.10"},
        "position": 90,
    }
    manage(
        stack,
        "shell",
        "-c",
        "from soraweb.videos.models import Provider, VideoModel\n"
        f"p, _ = Provider.objects.get_or_create(name='OpenAI relay', defaults={provider!r})\n"
        f"VideoModel.objects.get_or_create(provider=p, name='sora-2', defaults={model!r})",
    )
    return MODEL


def test_a_fitted_picture_then_a_remix_then_use_these_settings(page, stack, openai_relay, tmp_path):
    square = tmp_path / "square.jpg"
    Image.new("RGB", (900, 900), (30, 120, 200)).save(square)
    login(page, stack)
    page.get_by_label("Model").select_option(label=MODEL)
    # This relay needs an exact picture size, so "Send unchanged" is offered disabled, with why.
    unchanged = page.get_by_label(re.compile("Send unchanged"))
    page.wait_for_function(
        "() => document.querySelector('input[name=image_fit][value=none]').disabled"
    )
    assert unchanged.is_disabled()
    assert page.get_by_text("it needs an exact match").is_visible()
    page.get_by_label("Prompt", exact=True).fill("A blue square becomes a window on the sea")
    page.get_by_label("Picture", exact=True).set_input_files(square)
    page.get_by_text("Sent cropped to 720 × 1280").wait_for()
    page.get_by_role("button", name="Generate").click()
    # The simulator refuses any picture that is not exactly 720x1280: success proves the fit.
    page.locator('.job-card[data-state="succeeded"]', has_text="A blue square").wait_for(
        timeout=60_000
    )

    page.locator(".job-card", has_text="A blue square").get_by_role(
        "link", name="Watch and review"
    ).click()
    page.get_by_label("What should change?").fill("The same window, at night with rain")
    page.get_by_role("button", name="Start remix").click()
    page.get_by_text("Your remix is on its way.").wait_for()
    remix = page.locator(".job-card", has_text="The same window, at night with rain")
    assert "remix" in remix.inner_text()
    page.locator(
        '.job-card[data-state="succeeded"]', has_text="The same window, at night"
    ).wait_for(timeout=60_000)
    remix.get_by_role("link", name="Watch and review").click()
    page.get_by_text("Remix of").wait_for()
    screenshot(page, "remix-detail-desktop")

    page.get_by_role("link", name="Use these settings").click()
    page.get_by_text(re.compile(r"Filled in from job \d+")).wait_for()
    assert (
        page.get_by_label("Prompt", exact=True).input_value()
        == "The same window, at night with rain"
    )
    assert page.locator("#id_video_model option:checked").inner_text() == MODEL
