"""Live pages (issue 16, item 2): from "done at the relay" to the card saying Ready in an open
Chromium tab, with a polled relay and with a relay that sends webhooks.

The stack is the one `make run` starts (gunicorn with runstack's workers and threads, one
django-q2 cluster), the relays are simulators over HTTP, and the moment a card turns Ready is
taken inside the page (a MutationObserver on "My jobs"), on the same clock as the moment the
relay was told to finish the job.
"""

from __future__ import annotations

import base64
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

from soraweb.simulator.server import Simulator
from soraweb.videos.pipeline.common import DENSE_GAP
from tests.bench.pipeline import (
    ROOT,
    _ok,
    _percentile,
    _setup_model,
    _start,
    _stop,
    _user,
    waiting_jobs,
)
from tests.conftest import free_port, wait_http

JOBS = 12  # per relay
PASSWORD = "live-bench-pass-1"  # noqa: S105 - a throwaway account in a throwaway database

# Records when each card first says Ready (data-state="succeeded"), in epoch milliseconds.
WATCH_READY = """() => {
  window.__ready = {};
  const note = (el) => {
    if (el.matches && el.matches('.job-card[data-state="succeeded"]') && !window.__ready[el.id])
      window.__ready[el.id] = Date.now();
  };
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) note(n);
  }).observe(document.getElementById('job-list'), {childList: true, subtree: true});
}"""


def web_command(port: int) -> list[str]:
    """gunicorn as `manage.py runstack` starts it (workers, page threads plus stream threads)."""
    from django.conf import settings

    from soraweb.env import env_int

    return [
        sys.executable,
        "-m",
        "gunicorn",
        "soraweb.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        str(env_int("SORAWEB_WEB_THREADS", 8) + settings.SORAWEB_LIVE_STREAMS),
    ]


def _browser_latency(
    page, base: str, sim: Simulator, video_model, label: str
) -> tuple[list[float], list[float], dict]:
    """Per job: relay done -> card Ready, and saved (succeeded in the database) -> card Ready;
    and what the status queries cost: per job in all, and while the tab showed its card."""
    from soraweb.videos.models import JobState, VideoJob

    jobs = waiting_jobs(video_model, label, JOBS)
    ids = [j.pk for j in jobs]
    deadline = time.monotonic() + 60
    at_provider = [JobState.QUEUED, JobState.RUNNING]
    while VideoJob.objects.filter(pk__in=ids, state__in=at_provider).count() < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: jobs did not reach the provider")
        time.sleep(0.2)
    # The tab is opened on "My jobs" once the jobs run, as a person would have it open.
    with page.expect_response(lambda r: "/live/" in r.url, timeout=15_000):
        page.goto(f"{base}/")
    page.evaluate(WATCH_READY)
    time.sleep(0.5)  # the stream's first event ("live") has arrived
    opened = time.time()
    for job in jobs:
        job.refresh_from_db()
    polls_at_open = {job.remote_id: sim.job(job.remote_id)["polls"] for job in jobs}
    latencies, pushed = [], []
    for job in jobs:
        time.sleep(secrets.randbelow(1000) / 1000)  # sample every phase of the poll cycle
        done_at = time.time()
        sim.complete_now(job.remote_id)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            ready_ms = page.evaluate(f"() => window.__ready['job-{job.pk}'] || 0")
            if ready_ms:
                latencies.append(ready_ms / 1000 - done_at)
                job.refresh_from_db(fields=["finished_at"])
                pushed.append(ready_ms / 1000 - job.finished_at.timestamp())
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"{label}: job {job.pk}'s card did not say Ready within 60 s")
    views = [sim.job(job.remote_id) for job in jobs]
    cost = {
        "queries": statistics.mean(v["polls"] for v in views),
        "open_queries": sum(v["polls"] - polls_at_open[v["id"]] for v in views),
        "open_seconds": sum(v["completed_at"] - opened for v in views),
    }
    return latencies, pushed, cost


def run(data_dir: str) -> list[tuple[str, str, str, str]]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    polling_sim = Simulator(job_seconds=2.0).start()
    hook_sim = Simulator(job_seconds=2.0).start()
    polled = _setup_model("Live relay (polling)", polling_sim.base_url)
    hooked = _setup_model(
        "Live relay (webhooks)", hook_sim.base_url, webhook_secret=secret, poll_interval_seconds=60
    )
    hook_sim.webhook_url = f"{base}/webhooks/providers/{hooked.provider_id}/"
    hook_sim.webhook_secret = secret
    user = _user()
    user.set_password(PASSWORD)
    user.save()
    log = Path(data_dir) / "bench-live.log"
    cluster = _start([sys.executable, str(ROOT / "manage.py"), "qcluster", "--skip-checks"], log)
    web = _start(web_command(port), log)
    # Playwright's sync API keeps an event loop on this thread; the ORM calls made between its
    # calls never run inside that loop, so Django's guard against async use may stand aside.
    unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        wait_http(f"{base}/accounts/login/")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(locale="en-US")
            page.goto(f"{base}/accounts/login/")
            page.locator("#id_username").fill(user.username)
            page.locator("#id_password").fill(PASSWORD)
            page.locator("form[action='/accounts/login/'] button[type=submit]").click()
            page.wait_for_url(f"{base}/")
            poll_lat, poll_push, cost = _browser_latency(
                page, base, polling_sim, polled, "live polling"
            )
            hook_lat, hook_push, _ = _browser_latency(page, base, hook_sim, hooked, "live webhook")
            browser.close()
    finally:
        if unsafe is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        _stop(web)
        _stop(cluster)
        polling_sim.stop()
        hook_sim.stop()
    interval = polled.provider.effective_poll_interval
    every = cost["open_seconds"] / max(cost["open_queries"], 1)
    return [
        (
            f"done at relay->card Ready in Chromium, polled relay ({interval:g} s, no history or "
            "progress, card open in the tab): median",
            f"{statistics.median(poll_lat):.2f} s",
            "<= 1.5 s",
            _ok(statistics.median(poll_lat) <= 1.5),
        ),
        (
            "done at relay->card Ready, polled relay: p95",
            f"{_percentile(poll_lat, 95):.2f} s",
            "-",
            "",
        ),
        (
            "polled relay: status queries per job (while its card was open: one every ...)",
            f"{cost['queries']:.1f} per job ({every:.2f} s apart while watched)",
            f"watched: >= {DENSE_GAP:g} s apart (unwatched: {interval:g} s)",
            _ok(every >= DENSE_GAP),
        ),
        (
            "done at relay->card Ready in Chromium, webhooks: median",
            f"{statistics.median(hook_lat):.2f} s",
            "<= 0.8 s",
            _ok(statistics.median(hook_lat) <= 0.8),
        ),
        ("done at relay->card Ready, webhooks: p95", f"{_percentile(hook_lat, 95):.2f} s", "-", ""),
        (
            "live push: saved in the database->card Ready: median",
            f"{statistics.median(poll_push + hook_push):.2f} s",
            "-",
            "",
        ),
        (
            "live push: saved->card Ready: p95",
            f"{_percentile(poll_push + hook_push, 95):.2f} s",
            "-",
            "",
        ),
    ]
