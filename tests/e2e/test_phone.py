"""The studio on a phone (390 px): the header keeps its side padding, "My jobs" is one tap away
from anywhere in the form, the gallery's filters fold away, tiles keep each video's shape, and
/ops/ never scrolls sideways."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, open_page, screenshot, seed_finished_videos

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
IN_VIEW = """el => { const r = el.getBoundingClientRect();
  return r.top >= -1 && r.bottom <= window.innerHeight + 1 && r.height > 0; }"""


@pytest.mark.parametrize(
    ("locale", "jump", "name"),
    [("en-US", "My jobs (1 running)", "en"), ("zh-CN", "我的任务（1 个进行中）", "zh")],
)
def test_header_padding_and_a_sticky_link_to_my_jobs(browser, stack, locale, jump, name):
    with open_page(browser, locale=locale, **PHONE) as page:
        login(page, stack)
        brand = page.locator(".brand").bounding_box()
        assert brand["x"] >= 10, "the logo touches the screen's edge"
        # Two rows at most: the account buttons and the language switch beside the logo, the
        # page links under them.
        switch = page.locator(".lang-switch").bounding_box()
        middle = brand["y"] + brand["height"] / 2
        assert abs(switch["y"] + switch["height"] / 2 - middle) < 10, (brand, switch)
        assert page.locator(".site-header").bounding_box()["height"] <= 120
        page.locator("#id_prompt").fill(f"A kite on a windy beach ({name}) [sim:slow=60]")
        page.locator("#create-form button[type=submit]").click()
        page.locator("#create-form .form-success").wait_for()
        link = page.locator("a.jobs-jump")
        page.wait_for_function(
            f"() => document.querySelector('a.jobs-jump').innerText.trim() === {jump!r}"
        )
        page.locator("#id_prompt").scroll_into_view_if_needed()
        assert link.evaluate(IN_VIEW), "the link to My jobs is not on screen"
        screenshot(page, f"phone-jobs-link-{name}")
        link.click()
        page.wait_for_function(f"() => ({IN_VIEW})(document.querySelector('#jobs-title'))")
        # Cancel it again so the other tests' counts are their own.
        card = page.locator(".job-card", has_text=f"({name})")
        page.once("dialog", lambda dialog: dialog.accept())
        card.locator("form[action$='/cancel/'] button").click()
        page.locator(f'.job-card[data-state="cancelled"]:has-text("({name})")').wait_for()
        page.wait_for_function(
            "() => !document.querySelector('a.jobs-jump').innerText.includes('(')"
        )


def test_gallery_filters_fold_and_tiles_keep_their_shape(browser, stack):
    seed_finished_videos(
        stack,
        [
            {
                "prompt": "A tall waterfall",
                "owner": "admin",
                "model": "sora-2",
                "orientation": "portrait",
            },
            {
                "prompt": "A wide valley",
                "owner": "admin",
                "model": "sora-2",
                "orientation": "landscape",
            },
        ],
    )
    with open_page(browser, locale="en-US", **PHONE) as page:
        login(page, stack)
        page.goto(stack.url("/gallery/"))
        toggle = page.locator("details.filter-more > summary")
        assert toggle.inner_text().startswith("Filters")
        assert not page.get_by_label("Model").is_visible()  # folded away
        assert page.get_by_label("Search prompts").is_visible()  # the search stays at hand
        tall = page.locator(".tile", has_text="A tall waterfall").locator(".tile-media")
        wide = page.locator(".tile", has_text="A wide valley").locator(".tile-media")
        tall_box, wide_box = tall.bounding_box(), wide.bounding_box()
        assert abs(tall_box["height"] / tall_box["width"] - 320 / 180) < 0.05
        assert abs(wide_box["height"] / wide_box["width"] - 180 / 320) < 0.05
        screenshot(page, "phone-gallery-folded")
        toggle.click()
        page.get_by_label("Model").wait_for()
        screenshot(page, "phone-gallery-filters-open")


def test_ops_does_not_scroll_sideways(browser, stack):
    with open_page(browser, locale="en-US", **PHONE) as page:
        login(page, stack)
        for path in ("/ops/", "/ops/spend/"):
            page.goto(stack.url(path))
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= page.evaluate("window.innerWidth"), f"{path} is {width} px wide"
        page.goto(stack.url("/ops/"))
        screenshot(page, "phone-ops")


def test_a_picture_slot_says_tap_on_a_phone_and_paste_on_a_computer(browser, stack):
    with open_page(browser, locale="en-US", **PHONE) as page:
        login(page, stack)
        prompt = page.locator("#picture-slots .drop-prompt").first
        prompt.wait_for()
        assert prompt.inner_text() == "Tap to take a photo or choose a picture"
        screenshot(page, "phone-picture-slot")
    with open_page(browser, locale="en-US", viewport={"width": 1280, "height": 900}) as page:
        login(page, stack)
        prompt = page.locator("#picture-slots .drop-prompt").first
        prompt.wait_for()
        assert "paste one (Ctrl+V)" in prompt.inner_text()
