"""The quality of the pages, measured in the browser: every control has a name, the keyboard
reaches everything with a visible focus, text contrast meets WCAG AA, and phones need no
sideways scrolling."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, seed_finished_videos

pytestmark = pytest.mark.browser

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => {
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.getAttribute('title')
      || (el.tagName === 'BUTTON' && el.innerText.trim());
    return !named;
  })
  .map(el => el.outerHTML.slice(0, 120))"""

# Contrast of every visible piece of text against the background it is drawn on (WCAG 2.1 AA:
# 4.5:1, or 3:1 for large text). Text on pictures and videos is skipped.
LOW_CONTRAST = """() => {
  const rgba = c => { const m = c.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = el => {
    let layers = [];
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.backgroundImage !== 'none' && e !== document.body) return null;
      const c = rgba(s.backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const c of layers.reverse()) out = out.map((v, i) => c[i] * c[3] + v * (1 - c[3]));
    return out;
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('video, .visually-hidden, option, [hidden]')) continue;
    if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
    const s = getComputedStyle(el);
    if (parseFloat(s.fontSize) === 0 || s.visibility === 'hidden') continue;
    const bg = background(el);
    if (!bg) continue;
    const fg = rgba(s.color);
    const color = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [a, b] = [lum(color), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && parseInt(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${ratio.toFixed(2)} ${node.textContent.trim().slice(0, 40)}`);
  }
  return bad;
}"""

FOCUS_VISIBLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none');
  return {tag: el.tagName, text: (el.innerText || el.getAttribute('aria-label') || el.name || '').slice(0, 30), ring};
}"""


@pytest.fixture(scope="module")
def a_video(stack):
    [pk] = seed_finished_videos(
        stack,
        [
            {
                "prompt": "Quality check: a lantern in the fog",
                "owner": "admin",
                "model": "sora-2",
                "orientation": "portrait",
            }
        ],
    )
    return pk


def pages(a_video) -> list[str]:
    return [
        "/",
        "/batch/",
        "/gallery/",
        f"/jobs/{a_video}/",
        f"/jobs/{a_video}/delete/",
        "/?from=" + str(a_video),
    ]


def test_every_control_has_a_name_and_text_has_enough_contrast(page, stack, a_video):
    page.goto(stack.url("/accounts/login/"))
    assert page.evaluate(UNLABELLED) == []
    assert page.evaluate(LOW_CONTRAST) == []
    login(page, stack)
    for path in pages(a_video):
        page.goto(stack.url(path))
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path


def test_the_keyboard_reaches_every_control_with_a_visible_focus(page, stack, a_video):
    login(page, stack)
    for path in ["/", "/batch/", "/gallery/", f"/jobs/{a_video}/"]:
        page.goto(stack.url(path))
        seen = []
        for _ in range(60):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUS_VISIBLE)
            if focused is None:
                break
            assert focused["ring"], f"{path}: no visible focus on {focused}"
            seen.append(focused["text"])
        expected = {
            "/": "Generate",
            "/batch/": "Create all",
            "/gallery/": "Apply filters",
            f"/jobs/{a_video}/": "Approve",
        }[path]
        assert any(expected in text for text in seen), (path, seen)
    # The first Tab offers the skip link, which jumps past the header.
    page.goto(stack.url("/gallery/"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Skip to content"


def test_nothing_scrolls_sideways_at_phone_width(phone, stack, a_video):
    login(phone, stack)
    for path in pages(a_video):
        phone.goto(stack.url(path))
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
