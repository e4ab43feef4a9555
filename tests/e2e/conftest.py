"""The real thing for browser tests: the stack `make run` starts, driven by Debian's Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ADMIN_USER = "admin"
ADMIN_PASSWORD = "e2e-admin-pass-9"  # noqa: S105 - a throwaway account in a throwaway database


class Stack:
    def __init__(
        self, base_url: str, proc: subprocess.Popen, data_dir: Path, ports: list[int], log: Path
    ) -> None:
        self.base_url = base_url
        self.proc = proc
        self.data_dir = data_dir
        self.ports = ports
        self.log = log

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the stack exited early ({proc.returncode}):\n{log.read_text()[-4000:]}"
            )
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-4000:]}")


def start_stack(tmp: Path, extra_env: dict[str, str] | None = None) -> Stack:
    """migrate + soraweb_setup + runstack, exactly as `make run` does, on free ports."""
    web_port, sim_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "soraweb.settings",
        "SORAWEB_DATA_DIR": str(tmp),
        "SORAWEB_PORT": str(web_port),
        "SORAWEB_SIMULATOR_PORT": str(sim_port),
        "SORAWEB_SIMULATOR_JOB_SECONDS": "4",
        "SORAWEB_ADMIN_USER": ADMIN_USER,
        "SORAWEB_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SORAWEB_WORKERS": "2",
        **(extra_env or {}),
    }
    for key in ("SORAWEB_PROVIDER_BASE_URL", "DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True, cwd=ROOT
    )
    subprocess.run([*manage, "soraweb_setup"], env=env, check=True, capture_output=True, cwd=ROOT)
    log = tmp / "stack.log"
    proc = subprocess.Popen(
        [*manage, "runstack"],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{web_port}"
    _wait_for(base + "/accounts/login/", proc, log)
    return Stack(base, proc, tmp, [web_port, sim_port], log)


def stop_stack(stack: Stack) -> int:
    if stack.proc.poll() is None:
        stack.proc.send_signal(signal.SIGTERM)
        try:
            return stack.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.proc.pid, signal.SIGKILL)
            raise
    return stack.proc.returncode


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    stop_stack(s)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`.ci/run` does this with apt-get)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def login(page, stack: Stack, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> None:
    page.goto(stack.url("/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(stack.url("/"))


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
