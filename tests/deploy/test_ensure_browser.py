"""`make test` finds or brings its browser: scripts/ensure-browser.sh, run in a made-up machine
(a PATH of stand-in commands: `id`, `apt-get`, `fc-list` and a Python that plays Playwright), and
the browser fixture failing with the script's own line when there is no browser at all."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import BROWSER_MISSING

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure-browser.sh"
BIN = Path(sys.executable).parent


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _machine(tmp_path: Path, *, uid: int, apt: bool, font: bool, python: str) -> Path:
    """A bin folder holding only what the script may use on this pretend machine."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", "env", "grep", "timeout", "cat", "touch", "chmod"):
        os.symlink(shutil.which(tool), folder / tool)
    _stub(folder, "id", f'[ "$1" = "-u" ] && echo {uid}')
    if apt:  # records each call; "installing" makes the chromium the script looks for
        _stub(
            folder,
            "apt-get",
            f'echo "$*" >> {tmp_path}/apt.log\n'
            f'if [ "$1" = install ] || [[ "$*" == *install* ]]; then touch {tmp_path}/chromium;'
            f" chmod +x {tmp_path}/chromium; fi",
        )
    if font:
        _stub(folder, "fc-list", 'echo "/usr/share/fonts/wqy-microhei.ttc: WenQuanYi Micro Hei"')
    _stub(folder, "python", python)
    return folder


def _run(tmp_path: Path, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(folder / "bash"), str(SCRIPT), str(folder / "python")],
        env={"PATH": str(folder), "SORAWEB_CHROMIUM": str(tmp_path / "chromium")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


NO_PLAYWRIGHT = "exit 1"  # no Playwright browser, and its download cannot reach the internet


def test_shellcheck_finds_nothing():
    result = subprocess.run(
        [str(BIN / "shellcheck"), str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_nothing_to_do_when_chromium_and_the_cjk_font_are_there(tmp_path):
    folder = _machine(tmp_path, uid=0, apt=True, font=True, python=NO_PLAYWRIGHT)
    (tmp_path / "chromium").touch(mode=0o755)
    result = _run(tmp_path, folder)
    assert result.returncode == 0
    assert (result.stdout, result.stderr) == ("", "")
    assert not (tmp_path / "apt.log").exists()


def test_as_root_it_installs_debians_chromium_and_the_fonts(tmp_path):
    folder = _machine(tmp_path, uid=0, apt=True, font=False, python=NO_PLAYWRIGHT)
    result = _run(tmp_path, folder)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1].startswith("install -y -qq --no-install-recommends")
    assert calls[1].split()[-3:] == ["chromium", "fonts-dejavu-core", "fonts-wqy-microhei"]
    assert os.access(tmp_path / "chromium", os.X_OK)
    assert result.stderr == ""


def test_without_root_it_downloads_playwrights_chromium(tmp_path):
    browser = tmp_path / "ms-playwright" / "chrome"
    python = (
        f'if [ "$1" = "-m" ] && [ "$3" = install ]; then mkdir -p {browser.parent};'
        f" touch {browser}; chmod +x {browser}; exit 0; fi\n"
        f'if [ "$1" = "-c" ]; then echo {browser}; exit 0; fi\nexit 1'
    )
    folder = _machine(tmp_path, uid=1000, apt=True, font=False, python=python)
    os.symlink(shutil.which("mkdir"), folder / "mkdir")
    result = _run(tmp_path, folder)
    assert result.returncode == 0, result.stderr
    assert "installed Playwright's Chromium" in result.stdout
    assert not (tmp_path / "apt.log").exists()  # not root: apt-get is never tried


def test_with_no_way_to_a_browser_it_says_what_to_run_in_one_line(tmp_path):
    folder = _machine(tmp_path, uid=1000, apt=False, font=False, python=NO_PLAYWRIGHT)
    result = _run(tmp_path, folder)
    assert result.returncode == 0  # the suite still runs; its browser tests fail with this line
    assert result.stdout == ""
    assert result.stderr == f"make test: {BROWSER_MISSING}\n"


def test_the_browser_tests_fail_with_that_line_when_there_is_no_browser(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from tests.e2e.conftest import browser  # noqa: F401\n\n"
        "def test_needs_a_browser(browser):\n    pass\n"
    )
    env = {
        **os.environ,
        "SORAWEB_CHROMIUM": str(tmp_path / "no-chromium"),
        "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-browsers"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(ROOT),
            str(probe),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout or "1 failed" in result.stdout, result.stdout
    assert BROWSER_MISSING in result.stdout
