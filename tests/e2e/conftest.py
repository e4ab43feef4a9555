"""The real thing for browser tests: the stack `make run` starts, driven by Debian's Chromium."""

from __future__ import annotations

import contextlib
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
CHROMIUM = os.environ.get("SORAWEB_CHROMIUM", "/usr/bin/chromium")
# The same line scripts/ensure-browser.sh prints when it can neither find nor bring a browser.
BROWSER_MISSING = (
    "no Chromium for the browser tests. Run: sudo apt-get install -y chromium fonts-wqy-microhei"
    " fonts-dejavu-core   (or, with internet access: .venv/bin/python -m playwright install"
    " chromium)"
)
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
        self,
        base_url: str,
        proc: subprocess.Popen,
        data_dir: Path,
        ports: list[int],
        log: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.proc = proc
        self.data_dir = data_dir
        self.ports = ports
        self.log = log
        self.env = env or {}

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
    """migrate, collectstatic, soraweb_setup and runstack, as `make run` does, on free ports."""
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
        "SORAWEB_STATIC_ROOT": str(tmp / "static"),
        **(extra_env or {}),
    }
    for key in ("SORAWEB_PROVIDER_BASE_URL", "DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([*manage, *step], env=env, check=True, capture_output=True, cwd=ROOT)
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
    return Stack(base, proc, tmp, [web_port, sim_port], log, env)


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

    with sync_playwright() as p:
        # Debian's chromium first (what `make test` installs as root), else Playwright's own.
        if Path(CHROMIUM).exists():
            executable = CHROMIUM
        elif Path(p.chromium.executable_path).exists():
            executable = p.chromium.executable_path
        else:
            pytest.fail(BROWSER_MISSING)
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def open_page(browser, **context_options):
    """A fresh browser context (cookies, language, screen) with one page in it.

    Its clock is in UTC unless ``timezone_id`` says otherwise: the browser's zone becomes the
    signed-in person's (soraweb/zones.py), so tests must not depend on the machine's zone.
    """
    context_options.setdefault("timezone_id", "UTC")
    context = browser.new_context(**context_options)
    try:
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        yield pg
    finally:
        context.close()


@pytest.fixture
def page(browser):
    with open_page(browser, viewport={"width": 1280, "height": 900}, locale="en-US") as pg:
        yield pg


def login(page, stack: Stack, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> None:
    """Sign in whatever the page's language (the labels are tested on their own)."""
    page.goto(stack.url("/"))
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("form[action='/accounts/login/'] button[type=submit]").click()
    page.wait_for_url(stack.url("/"))


def manage(stack: Stack, *args: str) -> str:
    """Run a manage.py command against the stack's database (as `make run` would)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=stack.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def create_user(stack: Stack, username: str, password: str, *, staff: bool = False) -> None:
    """A team member made the way staff would (there is no sign-up page)."""
    manage(
        stack,
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        f"u, _ = User.objects.get_or_create(username={username!r})\n"
        f"u.set_password({password!r}); u.is_staff = {staff!r}; u.save()",
    )


@pytest.fixture
def phone(browser):
    """A phone-sized page (390 x 844, touch), in English."""
    with open_page(
        browser,
        viewport={"width": 390, "height": 844},
        locale="en-US",
        is_mobile=True,
        has_touch=True,
    ) as pg:
        yield pg


@pytest.fixture
def zh_page(browser):
    """A desktop browser whose language is Chinese (it sends Accept-Language: zh-CN)."""
    with open_page(browser, viewport={"width": 1280, "height": 900}, locale="zh-CN") as pg:
        yield pg


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # Let posters and pictures finish loading, so the image shows the page as a person sees it.
    page.wait_for_function(
        "() => [...document.images].every(img => img.complete || img.loading === 'lazy')"
    )
    # ...and players that load their first frame, so they show it rather than a spinner (a slow
    # video must not fail a test that is only taking a picture).
    with contextlib.suppress(Exception):
        page.wait_for_function(
            "() => [...document.querySelectorAll('video')].every(v => v.preload === 'none' || v.readyState >= 2)",
            timeout=5_000,
        )
    page.screenshot(path=str(path), full_page=True)
    return path


SEED_SCRIPT = r"""
import io, json, subprocess, tempfile
from datetime import timedelta
from pathlib import Path
import imageio_ffmpeg
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image, ImageDraw
from soraweb.videos.models import JobState, Prompt, VideoJob, VideoModel

specs = json.loads(SPECS)
clip = Path(tempfile.mkdtemp()) / "clip.mp4"
subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                "testsrc2=size=320x180:rate=12:duration=2", "-pix_fmt", "yuv420p", str(clip)], check=True)
video_name = default_storage.save("videos/seed/clip.mp4", ContentFile(clip.read_bytes()))
palette = [(90, 75, 240), (201, 63, 134), (18, 107, 67), (224, 161, 0), (54, 70, 184), (180, 35, 56)]
ids = []
now = timezone.now()
for i, spec in enumerate(specs):
    owner = User.objects.get(username=spec["owner"])
    vm = VideoModel.objects.get(name=spec["model"], provider__from_environment=True)
    w, h = (320, 180) if spec["orientation"] == "landscape" else (180, 320)
    img = Image.new("RGB", (w, h), palette[i % len(palette)])
    ImageDraw.Draw(img).text((12, 12), spec["prompt"][:28], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    finished = now - timedelta(days=spec.get("days_ago", 0), minutes=i)
    job = VideoJob.objects.create(
        owner=owner, prompt=Prompt.objects.create(text=spec["prompt"], author=owner), provider=vm.provider,
        video_model=vm, model_name=vm.name, orientation=spec["orientation"], size=vm.sizes[0],
        duration=vm.durations[0], state=JobState.SUCCEEDED, progress=100, remote_id=f"seed-{i}",
        review_state=spec.get("review", "unreviewed"), created_at=finished - timedelta(seconds=30),
        finished_at=finished, video_width=w, video_height=h, video_seconds=2.0,
    )
    job.video.name = video_name
    job.poster.save(f"seed-{job.pk}.jpg", ContentFile(buf.getvalue()), save=False)
    job.save(update_fields=["video", "poster"])
    ids.append(job.pk)
print(json.dumps(ids))
"""


def seed_finished_videos(stack: Stack, specs: list[dict]) -> list[int]:
    """Finished videos straight into the stack's database (quicker than generating 30 of them).

    Each spec: prompt, owner, model ("sora-2"/"sora-2-pro"), orientation, and optionally review
    ("approved", ...) and days_ago. They share one real, playable clip and get their own posters.
    """
    import json

    out = manage(stack, "shell", "-c", f"SPECS = {json.dumps(json.dumps(specs))}\n{SEED_SCRIPT}")
    return json.loads(out.strip().splitlines()[-1])


def card_box(page, job_locator) -> dict:
    return job_locator.evaluate(
        "el => { const r = el.getBoundingClientRect(); return {height: r.height, top: r.top}; }"
    )
