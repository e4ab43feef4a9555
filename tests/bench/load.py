"""Load (hardening issue): 100 open tabs polling job cards every 3 s and browsing the gallery,
against gunicorn on loopback, while the worker keeps processing new jobs."""

from __future__ import annotations

import re
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
    from soraweb.videos import services
    from soraweb.videos.models import JobState, VideoJob

    sim = Simulator(job_seconds=3.0).start()
    import os

    os.environ["SORAWEB_SIMULATOR_URL"] = sim.base_url
    from django.conf import settings

    settings.SORAWEB_SIMULATOR_URL = sim.base_url
    people, model = _seed()
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
    cluster = _start([sys.executable, str(ROOT / "manage.py"), "qcluster"], log)
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
