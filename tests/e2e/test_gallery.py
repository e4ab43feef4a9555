"""Finding videos in the gallery in a real browser: filters, search, favourites, load more."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import create_user, login, screenshot, seed_finished_videos

pytestmark = pytest.mark.browser

SUBJECTS = ["harbour", "meadow", "skyline", "forest", "desert", "glacier"]


@pytest.fixture(scope="module")
def gallery_videos(stack):
    create_user(stack, "gina", "gina-pass-4471")
    specs = []
    for i in range(30):
        specs.append(
            {
                "prompt": f"Catalogue shot {i:02d}: a {SUBJECTS[i % len(SUBJECTS)]} at golden hour",
                "owner": "gina" if i % 3 == 0 else "admin",
                "model": "sora-2-pro" if i % 5 == 0 else "sora-2",
                "orientation": "portrait" if i % 4 == 0 else "landscape",
                "review": ["unreviewed", "approved", "changes_requested", "rejected"][i % 4],
                "days_ago": i // 10,
            }
        )
    return seed_finished_videos(stack, specs)


def visible_prompts(page) -> list[str]:
    return page.locator(".tile .tile-prompt").all_inner_texts()


def test_search_filter_favourite_and_load_more(page, stack, gallery_videos):
    login(page, stack)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
    page.get_by_role("heading", name="Gallery").wait_for()

    search = page.get_by_label("Search prompts")
    search.fill("catalogue")
    # The address follows the filters (shareable), without the empty ones.
    page.wait_for_function("() => location.search === '?q=catalogue'")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 24")
    assert all("Catalogue shot" in p for p in visible_prompts(page))
    load_more = page.get_by_role("link", name="Load more")
    # A real link as well, for browsers without JavaScript: the filters and a cursor.
    assert re.search(r"\?q=catalogue&after=[\w%:-]+$", load_more.get_attribute("href"))
    load_more.click()
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 30")
    assert page.get_by_role("link", name="Load more").count() == 0
    # Keyboard focus moves to the first newly loaded video instead of being lost.
    page.wait_for_function("() => document.activeElement.closest('.tile') !== null")
    assert "Catalogue shot 24" in page.evaluate("document.activeElement.innerText")

    search.fill("glacier")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tile-prompt')].every(p => p.innerText.includes('glacier'))"
        " && document.querySelectorAll('.tile').length === 5"
    )
    page.get_by_label("Model").select_option(label="Sora 2 Pro")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
    assert visible_prompts(page) == ["Catalogue shot 05: a glacier at golden hour"]
    page.get_by_label("Model").select_option(label="All models")
    search.fill("catalogue")
    page.get_by_label("Made by").select_option(label="gina")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 10")
    assert all(meta.startswith("gina ·") for meta in page.locator(".tile-meta").all_inner_texts())
    assert "author=" in page.evaluate("location.search")
    page.get_by_label("Made by").select_option(label="Everyone")
    page.get_by_label("Review").select_option(label="Needs changes")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.tile .badge')].every(b => b.innerText === 'Needs changes')"
    )
    page.get_by_label("Review").select_option(label="Any")
    page.get_by_label("Orientation").select_option(label="Portrait (tall)")
    page.wait_for_function("() => document.querySelectorAll('.tile').length >= 1")
    page.get_by_label("Orientation").select_option(label="Any")
    search.fill("glacier")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 5")
    # Settled: the address shows the search and no filter request is still out.
    page.wait_for_function(
        "() => location.search.includes('q=glacier')"
        " && !document.querySelector('#gallery-filters.htmx-request')"
    )

    # Favourites are each person's own.
    first = page.locator(".tile").first
    favourite = first.get_by_role("button", name="Favourite")
    assert favourite.get_attribute("aria-pressed") == "false"
    favourite.click()
    page.wait_for_function(
        "() => document.querySelector('.tile .fav-btn').getAttribute('aria-pressed') === 'true'"
    )
    chosen = first.locator(".tile-prompt").inner_text()
    page.get_by_label("Only my favourites").check()
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
    assert visible_prompts(page) == [chosen]
    screenshot(page, "gallery-filtered-desktop")

    # The filters live in the address: a reload (or a shared link) shows the same.
    page.reload()
    assert page.get_by_label("Only my favourites").is_checked()
    assert visible_prompts(page) == [chosen]

    # A date range: ten of the seeded videos finished yesterday (UTC, the stack's time zone).
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Search prompts").fill("catalogue")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 24")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.get_by_label("Finished from").fill(yesterday)
    page.get_by_label("Finished until").fill(yesterday)
    page.wait_for_function(
        f"() => {{ const t = [...document.querySelectorAll('.tile time')]; return t.length > 0 && t.length <= 10"
        f" && t.every(e => e.getAttribute('datetime').startsWith('{yesterday}')); }}"
    )
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Search prompts").fill("catalogue")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 24")
    page.get_by_label("Sort").select_option(label="Oldest first")
    page.wait_for_function(
        "() => document.querySelector('.tile .tile-prompt').innerText.startsWith('Catalogue shot 29')"
    )
    screenshot(page, "gallery-desktop-seeded")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "gallery-seeded-phone")


def test_a_video_plays_inline_from_its_poster(page, stack, gallery_videos):
    login(page, stack)
    page.goto(stack.url("/gallery/?q=Catalogue+shot+07"))
    video = page.locator("video.tile-video").first
    assert video.get_attribute("preload") == "none" and video.get_attribute("poster")
    page.get_by_role("button", name="Play: Catalogue shot 07").click()  # plays where it is
    page.wait_for_function(
        "() => { const v = document.querySelector('video.tile-video'); return v.readyState >= 2 && v.currentTime > 0; }"
    )
    assert video.get_attribute("controls") is not None  # the native controls are back
    # And with the keyboard: the play button is reached with Tab and pressed with Enter.
    page.reload()
    play = page.get_by_role("button", name="Play: Catalogue shot 07")
    play.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('video.tile-video').currentTime > 0")


def test_paging_without_javascript_follows_real_links_with_the_filters(
    browser, stack, gallery_videos
):
    from tests.e2e.conftest import open_page

    with open_page(
        browser, viewport={"width": 1280, "height": 900}, locale="en-US", java_script_enabled=False
    ) as page:
        login(page, stack)
        page.goto(stack.url("/gallery/?q=catalogue&sort=oldest"))
        assert len(visible_prompts(page)) == 24
        assert visible_prompts(page)[0].startswith("Catalogue shot 29")
        screenshot(page, "gallery-paging-links-first-page")
        page.get_by_role("link", name="Load more").click()  # a plain navigation: no htmx here
        page.wait_for_url(re.compile(r"/gallery/\?q=catalogue&sort=oldest&after="))
        # The next six, oldest first, with the filters kept and a way back to the start.
        assert [p[:17] for p in visible_prompts(page)] == [
            f"Catalogue shot {i:02d}" for i in range(5, -1, -1)
        ]
        assert page.get_by_role("link", name="Load more").count() == 0
        page.get_by_role("link", name="Back to the newest videos").wait_for()
        screenshot(page, "gallery-paging-links-second-page")
        # A forged cursor: the first page, not an error.
        page.goto(stack.url("/gallery/?q=catalogue&sort=oldest&after=forged%3Acursor"))
        assert len(visible_prompts(page)) == 24


def test_a_slow_older_answer_never_replaces_the_newer_search(page, stack, gallery_videos):
    """Filters change faster than a busy server answers: the last choice is what stays shown
    (each new request replaces the one in flight; without that, htmx dropped the newer search
    while the older was pending), never a late answer to an earlier one."""
    from playwright.sync_api import Error as PlaywrightError

    login(page, stack)
    page.goto(stack.url("/gallery/"))
    held = []

    def hold_the_search_without_words(route):
        if "/gallery/?" in route.request.url and "q=" not in route.request.url:
            held.append(route)  # answered only after the newer search has been shown
        else:
            route.continue_()

    page.route("**/gallery/?*", hold_the_search_without_words)
    page.get_by_label("Model").select_option(label="Sora 2 Pro")  # 6 videos: held back
    page.wait_for_function("() => document.querySelector('#gallery-filters.htmx-request')")
    page.get_by_label("Search prompts").fill("glacier")  # Sora 2 Pro and glacier: 1 video
    page.wait_for_function("() => location.search.includes('q=glacier')")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
    assert len(held) == 1, [r.request.url for r in held]
    # The older answer arrives late, if the browser still waits for it.
    with contextlib.suppress(PlaywrightError):
        held[0].continue_()
    page.wait_for_timeout(1500)
    assert visible_prompts(page) == ["Catalogue shot 05: a glacier at golden hour"]
    assert "q=glacier" in page.evaluate("location.search")
