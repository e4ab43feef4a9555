#!/usr/bin/env bash
# Find or bring the browser `make test` drives (Playwright + Chromium), before the suite runs.
#
#   1. Debian's chromium (with the CJK font the Chinese screenshots need) is there: done.
#   2. Running as root, or with password-less sudo, on Debian: apt-get installs it.
#   3. Otherwise Playwright downloads its own Chromium, where the internet can be reached.
#   4. Otherwise one line says exactly what to run; the suite still runs and its browser tests
#      fail with that same line (tests/e2e/conftest.py), so nothing is skipped in silence.
#
# Usage: scripts/ensure-browser.sh [path/to/venv/python]
set -euo pipefail

PY="${1:-.venv/bin/python}"
CHROMIUM="${SORAWEB_CHROMIUM:-/usr/bin/chromium}"
PACKAGES=(chromium fonts-dejavu-core fonts-wqy-microhei)
MISSING="no Chromium for the browser tests. Run: sudo apt-get install -y chromium fonts-wqy-microhei fonts-dejavu-core   (or, with internet access: .venv/bin/python -m playwright install chromium)"

have_debian_chromium() { [ -x "$CHROMIUM" ]; }
have_cjk_font() { fc-list 2>/dev/null | grep -qi "WenQuanYi"; }

have_playwright_chromium() {
  local path
  path="$("$PY" -c 'from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    print(p.chromium.executable_path)' 2>/dev/null)" || return 1
  [ -n "$path" ] && [ -x "$path" ]
}

can_be_root() {
  [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if have_debian_chromium && have_cjk_font; then
  exit 0
fi

if can_be_root && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing ${PACKAGES[*]} with apt-get for the browser tests"
  if as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null; then
    have_debian_chromium && exit 0
  fi
  echo "make test: apt-get could not install chromium; trying Playwright's own browser"
fi

if have_debian_chromium; then
  echo "make test: no CJK font, so Chinese text in screenshots may show as boxes (apt-get install fonts-wqy-microhei)"
  exit 0
fi

if have_playwright_chromium; then
  exit 0
fi
if timeout 600 "$PY" -m playwright install chromium >/dev/null 2>&1 && have_playwright_chromium; then
  echo "make test: installed Playwright's Chromium"
  exit 0
fi

echo "make test: $MISSING" >&2
exit 0
