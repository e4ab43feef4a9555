"""The Content-Security-Policy blocks nothing the pages use: every page a person and an admin
visit, with HTMX swaps and a video playing, raises no CSP violation in a real browser."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, seed_finished_videos

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} on ${location.pathname}`);
});
"""


def test_no_page_trips_the_content_security_policy(page, stack):
    [job_id] = seed_finished_videos(
        stack,
        [
            {
                "prompt": "csp check clip",
                "owner": "admin",
                "model": "sora-2",
                "orientation": "landscape",
            }
        ],
    )
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on("console", lambda msg: console.append(msg.text))
    login(page, stack)
    violations = []
    for path in ("/", "/gallery/", f"/jobs/{job_id}/", "/admin/", "/admin/videos/videojob/"):
        response = page.goto(stack.url(path))
        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        if path == f"/jobs/{job_id}/":
            page.locator("video").evaluate("v => { v.muted = true; return v.play(); }")
            page.wait_for_function("() => document.querySelector('video').currentTime > 0.1")
        violations += page.evaluate("window.__csp")
    csp_console = [text for text in console if "Content Security Policy" in text]
    assert not violations and not csp_console, violations + csp_console
