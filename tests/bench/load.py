"""Load (hardening issue): 100 open tabs polling job cards every 3 s and browsing the gallery,
against gunicorn on loopback, while the worker keeps processing new jobs. Live pages (issue 16):
200 open tabs each holding a live stream on gunicorn as runstack starts it, while pages are
still served and a job change reaches every tab."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import requests
from django.utils import timezone

from soraweb.simulator.server import Simulator
from tests.bench.pipeline import ROOT, _percentile, _start, _stop
from tests.conftest import free_port, job_fields, wait_http

TABS = 100
SECONDS = 30
CARD_EVERY = 3.0


def _seed(users: int = 5, finished: int = 200):
    from django.contrib.auth import get_user_model

    from soraweb.videos.models import JobState, VideoJob, VideoModel

    model = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    people = [
        get_user_model().objects.create_user(username=f"tab{i}", password="load-test-pass-1")
        for i in range(users)
    ]
    now = timezone.now()
    jobs = []
    for i in range(finished):
        owner = people[i % users]
        fields = job_fields(
            owner,
            model,
            text=f"finished video number {i} of a sunny harbour",
            state=JobState.SUCCEEDED,
            orientation="landscape",
            video=f"videos/x/{i}.mp4",
            poster=f"videos/x/{i}.jpg",
            finished_at=now,
            progress=100,
        )
        jobs.append(VideoJob(**fields))
    VideoJob.objects.bulk_create(jobs)
    return people, model


def _login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": "load-test-pass-1", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    return session


def run(data_dir: str) -> list[tuple[str, str, str, str]]:
    people, model = _seed()
    return [*bench_polling_tabs(data_dir, people, model), *bench_live_tabs(data_dir, people, model)]


def bench_polling_tabs(data_dir: str, people, model) -> list[tuple[str, str, str, str]]:
    from soraweb.videos import services
    from soraweb.videos.models import JobState, VideoJob

    sim = Simulator(job_seconds=3.0).start()
    import os

    os.environ["SORAWEB_SIMULATOR_URL"] = sim.base_url
    from django.conf import settings

    settings.SORAWEB_SIMULATOR_URL = sim.base_url
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(data_dir) / "bench-load.log"
    web = _start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "soraweb.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--threads",
            "8",
        ],
        log,
    )
    cluster = _start([sys.executable, str(ROOT / "manage.py"), "qcluster", "--skip-checks"], log)
    try:
        wait_http(f"{base}/accounts/login/")
        sessions = [_login(base, people[i % len(people)].username) for i in range(TABS)]
        card_ids = list(VideoJob.objects.values_list("pk", flat=True)[:TABS])
        latencies: dict[str, list[float]] = {"card": [], "gallery": []}
        errors: list[str] = []
        lock = threading.Lock()
        stop = time.monotonic() + SECONDS

        def tab(i: int) -> None:
            session = sessions[i]
            next_gallery = time.monotonic() + (i % 10)
            time.sleep((i / TABS) * CARD_EVERY)  # tabs were opened at different moments
            while time.monotonic() < stop:
                kind, url = "card", f"{base}/jobs/{card_ids[i % len(card_ids)]}/card/"
                if time.monotonic() >= next_gallery:
                    kind, url = "gallery", f"{base}/gallery/"
                    next_gallery = time.monotonic() + 10
                started = time.monotonic()
                try:
                    response = session.get(
                        url, headers={"HX-Request": "true"} if kind == "card" else {}, timeout=10
                    )
                    ok = response.status_code == 200
                except requests.RequestException as exc:
                    ok, response = False, exc
                with lock:
                    latencies[kind].append(time.monotonic() - started)
                    if not ok:
                        errors.append(f"{kind}: {getattr(response, 'status_code', response)}")
                time.sleep(CARD_EVERY)

        threads = [threading.Thread(target=tab, args=(i,)) for i in range(TABS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        # Meanwhile, people keep making videos: the pipeline must not stall under the load.
        new_jobs = []
        for i in range(5):
            time.sleep(4)
            new_jobs.append(
                services.job_create(
                    owner=people[0],
                    video_model=model,
                    prompt_text=f"made during the load {i}",
                    orientation="portrait",
                    size="small",
                    duration=10,
                )
            )
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = VideoJob.objects.filter(
                pk__in=[j.pk for j in new_jobs], state=JobState.SUCCEEDED
            ).count()
            if done == len(new_jobs):
                break
            time.sleep(0.5)
    finally:
        _stop(cluster)
        _stop(web)
        sim.stop()
    total = len(latencies["card"]) + len(latencies["gallery"])
    rps = total / elapsed
    card_p95 = _percentile(latencies["card"], 95) * 1000
    gallery_p95 = _percentile(latencies["gallery"], 95) * 1000
    return [
        (
            f"load: {TABS} tabs, cards every {CARD_EVERY:g} s + gallery, {SECONDS} s",
            f"{rps:.0f} req/s ({total} requests)",
            "-",
            "",
        ),
        (
            "load: job card p95",
            f"{card_p95:.0f} ms (median {statistics.median(latencies['card']) * 1000:.0f} ms)",
            "-",
            "",
        ),
        (
            "load: gallery page p95",
            f"{gallery_p95:.0f} ms (median {statistics.median(latencies['gallery']) * 1000:.0f} ms)",
            "-",
            "",
        ),
        ("load: errors", f"{len(errors)}", "0", "yes" if not errors else "NO"),
        (
            "load: jobs made during the load that finished",
            f"{done}/{len(new_jobs)}",
            "all",
            "yes" if done == len(new_jobs) else "NO",
        ),
    ]


LIVE_TABS = 200
LIVE_HOLD_SECONDS = 20  # past a heartbeat, so held streams are seen to stay open
LIVE_ROUNDS = 5
PAGE_CLIENTS = 10


class _Tab(threading.Thread):
    """One open tab's live stream: connects, then notes when each change of ``job`` arrives."""

    def __init__(self, host: str, port: int, cookie: str, job_id: int, rounds: dict) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.cookie, self.job_id, self.rounds = (
            host,
            port,
            cookie,
            job_id,
            rounds,
        )
        self.connected = threading.Event()
        self.busy = False
        self.error = ""
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        try:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.conn.request(
                "GET",
                f"/live/?mine=1&job={self.job_id}",
                headers={"Cookie": self.cookie, "Accept": "text/event-stream"},
            )
            response = self.conn.getresponse()
            if response.status != 200:
                self.error = f"status {response.status}"
                return
            while line := response.readline():
                text = line.decode().strip()
                if text == "event: live":
                    self.connected.set()
                elif text == ": busy":
                    self.busy = True
                elif text == f"event: job-{self.job_id}":
                    arrived = time.time()
                    with LOCK:
                        self.rounds.setdefault(self.rounds["current"], []).append(arrived)
        except (OSError, http.client.HTTPException) as exc:
            if not self.rounds.get("stopping"):
                self.error = repr(exc)

    def close(self) -> None:
        if self.conn is not None and self.conn.sock is not None:
            with contextlib.suppress(OSError):
                self.conn.sock.shutdown(socket.SHUT_RDWR)


LOCK = threading.Lock()


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children (gunicorn's master and workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if int(entry.name) == pid or ppid == pid:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total / (1024 * 1024)


def bench_live_tabs(data_dir: str, people, model) -> list[tuple[str, str, str, str]]:
    """200 open tabs, each holding a live stream, on gunicorn started as runstack starts it."""
    from soraweb.videos import live
    from soraweb.videos.models import JobState, VideoJob
    from tests.bench.live import web_command

    watched = VideoJob.objects.create(
        **job_fields(people[0], model, text="watched by every tab", state=JobState.RUNNING)
    )
    card_ids = list(VideoJob.objects.values_list("pk", flat=True)[:50])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = _start(web_command(port), Path(data_dir) / "bench-live-load.log")
    rounds: dict = {"current": -1}
    tabs: list[_Tab] = []
    page_latencies: list[float] = []
    page_errors: list[str] = []
    fanout: list[float] = []
    try:
        wait_http(f"{base}/accounts/login/")
        sessions = [_login(base, person.username) for person in people]
        cookies = [
            "; ".join(f"{k}={v}" for k, v in session.cookies.get_dict().items())
            for session in sessions
        ]
        tabs = [
            _Tab("127.0.0.1", port, cookies[i % len(cookies)], watched.pk, rounds)
            for i in range(LIVE_TABS)
        ]
        for tab in tabs:
            tab.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(t.connected.is_set() for t in tabs) < LIVE_TABS:
            if all(t.connected.is_set() or not t.is_alive() for t in tabs):
                break
            time.sleep(0.2)
        connected_at_start = sum(t.connected.is_set() for t in tabs)
        stop = time.monotonic() + LIVE_HOLD_SECONDS

        def pages(i: int) -> None:
            session = sessions[i % len(sessions)]
            n = 0
            while time.monotonic() < stop:
                n += 1
                url = (
                    f"{base}/gallery/"
                    if n % 5 == 0
                    else f"{base}/jobs/{card_ids[(i + n) % len(card_ids)]}/card/"
                )
                started = time.monotonic()
                try:
                    ok = session.get(url, headers={"HX-Request": "true"}, timeout=10).ok
                except requests.RequestException as exc:
                    ok = False
                    page_errors.append(repr(exc))
                with LOCK:
                    page_latencies.append(time.monotonic() - started)
                    if not ok:
                        page_errors.append(url)
                time.sleep(0.3)

        clients = [threading.Thread(target=pages, args=(i,)) for i in range(PAGE_CLIENTS)]
        for client in clients:
            client.start()
        time.sleep(1)
        for n in range(LIVE_ROUNDS):
            with LOCK:
                rounds["current"] = n
            sent = time.time()
            live.publish([watched.pk])
            end = time.monotonic() + 5
            while time.monotonic() < end and len(rounds.get(n, [])) < connected_at_start:
                time.sleep(0.05)
            with LOCK:
                fanout.extend(arrived - sent for arrived in rounds.get(n, []))
                reached = len(rounds.get(n, []))
            if reached < connected_at_start:
                page_errors.append(f"round {n}: {reached}/{connected_at_start} tabs told")
            time.sleep(1.5)
        for client in clients:
            client.join()
        held = sum(t.connected.is_set() and t.is_alive() for t in tabs)
        rss = _rss_mb(web.pid)
    finally:
        rounds["stopping"] = True
        for tab in tabs:
            tab.close()
        _stop(web)
    tab_errors = [t.error for t in tabs if t.error]
    page_p95 = _percentile(page_latencies, 95) * 1000
    fan_p95 = _percentile(fanout, 95) * 1000 if fanout else float("inf")
    return [
        (
            f"live: {LIVE_TABS} open tabs holding a stream (runstack's gunicorn)",
            f"{connected_at_start} connected, {held} still open after {LIVE_HOLD_SECONDS} s",
            f"{LIVE_TABS}",
            "yes" if held == LIVE_TABS and connected_at_start == LIVE_TABS else "NO",
        ),
        (
            f"live: one job change reaches all {LIVE_TABS} tabs: p95",
            f"{fan_p95:.0f} ms (median {statistics.median(fanout) * 1000 if fanout else 0:.0f} ms)",
            "<= 1000 ms",
            _ok_flag(fan_p95 <= 1000 and len(fanout) == LIVE_ROUNDS * LIVE_TABS),
        ),
        (
            f"live: cards + gallery while {LIVE_TABS} streams are held: p95",
            f"{page_p95:.0f} ms ({len(page_latencies)} requests, {len(page_errors)} errors)",
            "<= 500 ms, 0 errors",
            _ok_flag(page_p95 <= 500 and not page_errors and not tab_errors),
        ),
        (f"live: web server RSS with {LIVE_TABS} streams (2 processes)", f"{rss:.0f} MB", "-", ""),
    ]


def _ok_flag(flag: bool) -> str:
    return "yes" if flag else "NO"
