"""The walking skeleton's journey in a real browser, against the stack `make run` starts."""

from __future__ import annotations

import socket
import time

import pytest

from tests.e2e.conftest import login, screenshot, start_stack, stop_stack

pytestmark = pytest.mark.browser


def test_a_person_makes_a_video_and_watches_it_in_the_gallery(page, stack):
    login(page, stack)
    assert page.get_by_text("Demo provider").is_visible()
    screenshot(page, "studio-empty-desktop")

    page.get_by_label("Prompt", exact=True).fill("A paper boat drifts down a rainy street at dusk")
    page.get_by_label("Model").select_option(label="Sora 2")
    page.get_by_label("Aspect ratio").select_option("16:9")
    page.get_by_role("button", name="Generate").click()

    # Other journeys share this stack, so find this job's card by its prompt.
    card = page.locator(".job-card", has_text="A paper boat drifts")
    card.wait_for()
    screenshot(page, "studio-job-running-desktop")
    page.locator('.job-card[data-state="succeeded"]', has_text="A paper boat drifts").wait_for(
        timeout=90_000
    )
    screenshot(page, "studio-job-done-desktop")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
    page.wait_for_url(stack.url("/gallery/"))
    page.get_by_label("Search prompts").fill("A paper boat drifts")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
    video = page.locator("video.tile-video").first
    video.wait_for()
    # A grid of posters: the video loads when someone presses play, and plays in place.
    assert video.get_attribute("preload") == "none"
    page.get_by_role("button", name="Play: A paper boat drifts").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('video.tile-video'); return v && v.readyState >= 1 && v.duration > 0; }",
        timeout=30_000,
    )
    duration = video.evaluate("v => v.duration")
    assert duration == pytest.approx(10, abs=0.6)
    # Seeking works because the server answers Range requests.
    # Seek once the length is known for sure (a media element may briefly report NaN while it
    # switches from metadata to playback).
    page.wait_for_function(
        "() => { const v = document.querySelector('video.tile-video');"
        " if (!v || !isFinite(v.duration) || v.duration <= 0) return false;"
        " v.currentTime = v.duration - 1; return true; }",
        timeout=30_000,
    )
    page.wait_for_function("() => document.querySelector('video.tile-video').currentTime > 8")
    screenshot(page, "gallery-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "gallery-phone")
    page.goto(stack.url("/"))
    screenshot(page, "studio-phone")


def test_the_form_refuses_a_combination_the_model_does_not_allow(page, stack):
    login(page, stack)
    page.get_by_label("Model").select_option(label="Sora 2 Pro")
    # The options follow the model: Sora 2 Pro makes large, 15 second videos only.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#id_resolution option:not([disabled])')].map(o => o.value).join() === '1080p'"
    )
    assert page.locator("#id_duration option:not([disabled])").all_inner_texts() == ["15 seconds"]
    # What it lacks stays visible, disabled, with the reason.
    assert (
        page.locator("#id_resolution option[disabled]").inner_text()
        == "720p HD (not with Sora 2 Pro)"
    )
    page.get_by_role("button", name="Generate").click()  # no prompt
    # Said at the field and again next to the button, where the person is.
    page.get_by_text("Describe the video you want.", exact=True).wait_for()
    page.get_by_text("Prompt: Describe the video you want.").wait_for()
    assert page.locator(".job-card").count() == 0 or "Describe" in page.content()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_one_sigterm_stops_the_whole_stack(tmp_path):
    stack = start_stack(tmp_path)
    assert all(_port_open(p) for p in stack.ports)
    assert stop_stack(stack) == 0
    time.sleep(0.5)
    assert not any(_port_open(p) for p in stack.ports)
