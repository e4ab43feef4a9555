"""Reviewing and the team's rules in a real browser, as a member who is not staff."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import create_user, login, open_page, screenshot, seed_finished_videos

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rita(stack):
    create_user(stack, "rita", "rita-pass-5812")
    return ("rita", "rita-pass-5812")


@pytest.fixture(scope="module")
def admins_video(stack):
    [pk] = seed_finished_videos(
        stack,
        [
            {
                "prompt": "Storyboard frame: a cyclist crossing a bridge at dawn",
                "owner": "admin",
                "model": "sora-2",
                "orientation": "landscape",
            }
        ],
    )
    return pk


def test_a_teammate_finds_a_video_and_approves_it_with_a_comment(page, stack, rita, admins_video):
    login(page, stack, *rita)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
    page.get_by_label("Search prompts").fill("cyclist")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
    page.get_by_role("link", name=re.compile("Storyboard frame: a cyclist")).click()
    page.get_by_role("heading", name="Review", exact=True).wait_for()

    # Everything about the video is on its page; what only the owner may do is not offered.
    for text in ["Made by", "admin", "Sora 2", "Landscape (wide)", "Not reviewed"]:
        assert page.get_by_text(text, exact=True).first.is_visible(), text
    assert page.get_by_text("No reviews yet.").is_visible()
    assert page.get_by_role("link", name="Download video").is_visible()
    assert page.get_by_role("link", name="Download poster").is_visible()
    assert page.get_by_role("link", name="Use these settings").is_visible()
    assert page.get_by_role("button", name="Delete").count() == 0
    assert page.get_by_text("Remix is not available for this video").is_visible()

    page.get_by_label("Comment (optional)").fill("Great light on the bridge. Ship it!")
    page.get_by_role("button", name="Approve").click()
    review = page.locator("#review")
    review.locator(".thread-comment", has_text="Great light on the bridge. Ship it!").wait_for()
    assert review.locator(".review-status .badge").inner_text() == "Approved"
    # The sidebar follows without a reload.
    assert page.locator("#review-fact .badge").inner_text() == "Approved"
    assert re.search(r"by rita, \w", review.locator(".review-status").inner_text())
    assert review.locator(".thread-item strong").inner_text() == "rita"
    assert review.locator(".thread-item time").inner_text()  # when, next to who
    page.wait_for_function("() => document.activeElement.classList.contains('review-status')")
    assert page.get_by_label("Comment (optional)").input_value() == ""
    screenshot(page, "review-approved-desktop")

    # A second opinion: the thread keeps both, the latest decision shows on top.
    page.get_by_label("Comment (optional)").fill("The last second is a bit dark.")
    page.get_by_role("button", name="Needs changes").click()
    review.locator(".thread-item").nth(1).wait_for()
    assert review.locator(".review-status .badge").inner_text() == "Needs changes"
    page.get_by_role("button", name="Comment only").click()  # nothing written: the form says so
    review.get_by_text("Write a comment first.").wait_for()
    page.get_by_label("Comment (optional)").fill("Fixed in the next version, approving.")
    page.get_by_role("button", name="Approve").click()
    review.locator(".thread-item").nth(2).wait_for()

    page.goto(stack.url("/gallery/?review=approved&q=cyclist"))
    assert page.locator(".tile").count() == 1
    assert page.locator(".tile .badge").inner_text() == "Approved"
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(stack.url(f"/jobs/{admins_video}/"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "review-phone")


def test_the_team_rules_hold_in_the_browser(page, stack, rita):
    login(page, stack, *rita)
    # No sign-up page, and the admin is for staff only.
    assert page.goto(stack.url("/accounts/signup/")).status == 404
    page.goto(stack.url("/admin/"))
    assert "/admin/login/" in page.url
    page.goto(stack.url("/"))
    assert (
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").count() == 0
    )
    # Rita may delete her own video, not others'.
    page.get_by_label("Prompt", exact=True).fill("Rita's test clip of a spinning top")
    page.get_by_role("button", name="Generate").click()
    card = page.locator(".job-card", has_text="Rita's test clip")
    card.get_by_role("button", name="Cancel").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Cancel").click()
    page.locator('.job-card[data-state="cancelled"]', has_text="Rita's test clip").wait_for()
    page.once("dialog", lambda dialog: dialog.dismiss())  # changed her mind: nothing happens
    card.get_by_role("button", name="Delete").click()
    assert card.is_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Delete").click()
    card.wait_for(state="detached")


def test_staff_add_a_team_member_in_the_admin(page, stack):
    login(page, stack)
    page.goto(stack.url("/admin/auth/user/add/"))
    page.get_by_label("Username").fill("new.designer")
    page.get_by_label(re.compile(r"^Password:?$")).fill("Brand-new-pass-7716")
    page.get_by_label("Password confirmation").fill("Brand-new-pass-7716")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(re.compile(r"/admin/auth/user/\d+/change/"))
    with open_page(
        page.context.browser, viewport={"width": 1280, "height": 900}, locale="en-US"
    ) as other:
        login(other, stack, "new.designer", "Brand-new-pass-7716")
        assert other.get_by_role("heading", name="Create a video").is_visible()
