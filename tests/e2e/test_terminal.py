"""What `make run` says in the terminal, and how it sends pages and files: the first admin's
sign-in repeated at the end of start-up, no line per card poll, no traceback for a 403, pages
gzipped, static files under hashed names cached for a year and precompressed."""

from __future__ import annotations

import os
import re
import stat
import time

import pytest
import requests

from tests.e2e.conftest import create_user, seed_finished_videos, start_stack, stop_stack

NOTE = re.compile(r"Sign in at (http://127\.0\.0\.1:\d+/) as “admin” with the password: (\S+)")


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory):
    """`make run` on a new machine: nobody chose the first admin's password."""
    s = start_stack(tmp_path_factory.mktemp("fresh"), {"SORAWEB_ADMIN_PASSWORD": ""})
    yield s
    stop_stack(s)


def _wait_for_note(stack) -> re.Match:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = NOTE.search(stack.log.read_text(errors="replace"))
        if match:
            return match
        time.sleep(0.3)
    raise AssertionError("no sign-in note:\n" + stack.log.read_text()[-3000:])


def _signed_in(stack, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(stack.url("/accounts/login/"), timeout=10)
    answer = session.post(
        stack.url("/accounts/login/"),
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def test_the_first_admins_sign_in_is_shown_again_at_the_end_of_start_up(fresh_stack):
    match = _wait_for_note(fresh_stack)
    log = fresh_stack.log.read_text()
    # After the web server's own start-up lines, where a person looks.
    assert log.index("Booting worker") < match.start()
    assert match.group(1) == fresh_stack.url("/")
    kept = fresh_stack.data_dir / "first-admin.txt"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert "admin/password_change/" in log[match.start() :]
    _signed_in(fresh_stack, "admin", match.group(2))  # the password works


def test_no_line_per_request_and_no_traceback_for_a_403(fresh_stack):
    admin_password = _wait_for_note(fresh_stack).group(2)
    create_user(fresh_stack, "mina", "mina-pass-42")
    [job] = seed_finished_videos(
        fresh_stack,
        [{"prompt": "A kite", "owner": "admin", "model": "sora-2", "orientation": "landscape"}],
    )
    member = _signed_in(fresh_stack, "mina", "mina-pass-42")
    for _ in range(3):
        assert member.get(fresh_stack.url(f"/jobs/{job}/card/"), timeout=10).status_code == 200
    forbidden = member.get(fresh_stack.url(f"/jobs/{job}/delete/"), timeout=10)
    assert forbidden.status_code == 403
    _signed_in(fresh_stack, "admin", admin_password)
    time.sleep(1)
    log = fresh_stack.log.read_text()
    assert f"/jobs/{job}/card/" not in log  # no access log by default
    assert "Forbidden (Permission denied)" in log  # the warning stays...
    assert "Traceback" not in log  # ...without a traceback


def test_pages_are_gzipped_and_videos_are_not(fresh_stack):
    gz = {"Accept-Encoding": "gzip"}
    page = requests.get(fresh_stack.url("/accounts/login/"), headers=gz, timeout=10)
    assert page.headers.get("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in page.headers.get("Vary", "")
    [job] = seed_finished_videos(
        fresh_stack,
        [{"prompt": "A boat", "owner": "admin", "model": "sora-2", "orientation": "landscape"}],
    )
    session = _signed_in(fresh_stack, "admin", _wait_for_note(fresh_stack).group(2))
    video = session.get(
        fresh_stack.url(f"/jobs/{job}/video.mp4?download=1"), headers=gz, timeout=10
    )
    assert video.status_code == 200
    assert "Content-Encoding" not in video.headers  # seekable: sizes and ranges stay right
    assert video.headers["Accept-Ranges"] == "bytes"
    assert int(video.headers["Content-Length"]) == len(video.content)


def test_static_files_have_hashed_names_a_year_of_cache_and_come_compressed(fresh_stack):
    html = requests.get(fresh_stack.url("/accounts/login/"), timeout=10).text
    href = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', html)
    assert href, "the stylesheet's name has no content hash"
    assert re.search(r'src="/static/js/app\.[0-9a-f]{12}\.js"', html)
    css = requests.get(
        fresh_stack.url(href.group(1)), headers={"Accept-Encoding": "gzip"}, timeout=10
    )
    assert css.status_code == 200
    assert css.headers["Content-Encoding"] == "gzip"
    cache = css.headers["Cache-Control"]
    assert "immutable" in cache
    assert int(re.search(r"max-age=(\d+)", cache).group(1)) >= 365 * 24 * 3600
    assert ".job-card" in css.text


def test_every_page_names_a_favicon_that_is_served(fresh_stack):
    html = requests.get(fresh_stack.url("/accounts/login/"), timeout=10).text
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert any(href.endswith(".ico") for href in icons) and any(".svg" in h for h in icons)
    for href in icons:
        answer = requests.get(fresh_stack.url(href), timeout=10)
        assert answer.status_code == 200, href
        assert answer.headers["Content-Type"] in {
            "image/x-icon",
            "image/vnd.microsoft.icon",
            "image/svg+xml",
        }
