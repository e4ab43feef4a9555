"""Pipeline benchmarks (issue: job pipeline): visibility latency, a 1,000-job poll pass, archive RSS."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from django.utils import timezone

from soraweb.simulator.server import Simulator
from tests.conftest import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
LATENCY_JOBS = 15


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def _setup_model(name: str, base_url: str, **provider_fields):
    from soraweb.videos.models import Provider, VideoModel

    provider = Provider.objects.create(
        name=name, base_url=base_url, wire_format="unified", **provider_fields
    )
    seed = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    return VideoModel.objects.create(
        name="sora-2",
        display_name=f"Sora 2 via {name}",
        provider=provider,
        orientations=seed.orientations,
        sizes=seed.sizes,
        durations=seed.durations,
        price_per_second=seed.price_per_second,
    )


def _user():
    from django.contrib.auth import get_user_model

    from soraweb.ops.models import BudgetPolicy

    # The benchmark measures the pipeline, not the per-person abuse limits: switch them off.
    BudgetPolicy.objects.update_or_create(
        pk=1, defaults={"max_active_jobs_per_user": 0, "max_jobs_per_minute_per_user": 0}
    )
    user, _ = get_user_model().objects.get_or_create(username="bench")
    return user


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=dict(os.environ),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def waiting_jobs(video_model, label: str, n: int) -> list:
    """``n`` jobs made through the service, each held at the provider until finished by hand
    (``[sim:stuck]`` and the simulator's ``complete_now``)."""
    from soraweb.videos import services

    user = _user()
    return [
        services.job_create(
            owner=user,
            video_model=video_model,
            prompt_text=f"{label} {i} [sim:stuck]",
            orientation="landscape",
            size="small",
            duration=10,
        )
        for i in range(n)
    ]


def _latency(sim: Simulator, video_model, label: str) -> list[float]:
    """Jobs wait at the provider; the simulator finishes each at a random moment; we time how long
    until the job is 'succeeded' in our database (download, check and poster included)."""
    from soraweb.videos.models import JobState, VideoJob

    jobs = waiting_jobs(video_model, label, LATENCY_JOBS)
    deadline = time.monotonic() + 60
    at_provider = [JobState.QUEUED, JobState.RUNNING]
    while VideoJob.objects.filter(pk__in=[j.pk for j in jobs], state__in=at_provider).count() < len(
        jobs
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: jobs did not reach the provider")
        time.sleep(0.2)
    latencies = []
    for job in jobs:
        job.refresh_from_db()
        time.sleep(secrets.randbelow(1000) / 1000)  # sample every phase of the poll cycle
        completed_at = timezone.now()
        sim.complete_now(job.remote_id)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            job.refresh_from_db(fields=["state", "finished_at"])
            if job.state == JobState.SUCCEEDED:
                latencies.append((job.finished_at - completed_at).total_seconds())
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"{label}: job {job.pk} not visible within 60 s")
    return latencies


def bench_latency(data_dir: str) -> list[tuple[str, str, str, str]]:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    web_port = free_port()
    polling_sim = Simulator(job_seconds=2.0).start()
    hook_sim = Simulator(job_seconds=2.0).start()
    polled = _setup_model("Relay (polling)", polling_sim.base_url)
    hooked = _setup_model(
        "Relay (webhooks)", hook_sim.base_url, webhook_secret=secret, poll_interval_seconds=60
    )
    hook_sim.webhook_url = f"http://127.0.0.1:{web_port}/webhooks/providers/{hooked.provider_id}/"
    hook_sim.webhook_secret = secret
    log = Path(data_dir) / "bench-stack.log"
    manage = [sys.executable, str(ROOT / "manage.py")]
    cluster = _start([*manage, "qcluster", "--skip-checks"], log)
    web = _start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "soraweb.wsgi:application",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "2",
            "--threads",
            "4",
        ],
        log,
    )
    try:
        wait_http(f"http://127.0.0.1:{web_port}/accounts/login/")
        poll_lat = _latency(polling_sim, polled, "polling")
        hook_lat = _latency(hook_sim, hooked, "webhook")
    finally:
        _stop(web)
        _stop(cluster)
        polling_sim.stop()
        hook_sim.stop()
    interval = polled.provider.poll_interval_seconds
    return [
        (
            f"completion->visible, polling every {interval:g} s: median",
            f"{statistics.median(poll_lat):.2f} s",
            "<= 3 s",
            _ok(statistics.median(poll_lat) <= 3),
        ),
        ("completion->visible, polling: p95", f"{_percentile(poll_lat, 95):.2f} s", "-", ""),
        (
            "completion->visible, webhooks: median",
            f"{statistics.median(hook_lat):.2f} s",
            "<= 1 s",
            _ok(statistics.median(hook_lat) <= 1),
        ),
        ("completion->visible, webhooks: p95", f"{_percentile(hook_lat, 95):.2f} s", "-", ""),
    ]


def bench_poll_pass(
    data_dir: str, jobs: int = 1000, concurrency: int = 32
) -> list[tuple[str, str, str, str]]:
    """One poll pass over 1,000 in-flight jobs. The simulator runs in its own process, as a relay
    would, so its threads do not compete with the poller's for this process's GIL."""
    from soraweb.videos.models import JobState, Prompt, VideoJob
    from soraweb.videos.pipeline import loop

    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    sim = _start(
        [
            sys.executable,
            "-m",
            "soraweb.simulator.server",
            "--port",
            str(port),
            "--latency",
            "0.05",
            "--job-seconds",
            "3600",
        ],
        Path(data_dir) / "bench-sim.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        model = _setup_model("Relay (1,000 jobs)", base, concurrency_limit=concurrency)
        body = {
            "images": [],
            "model": "sora-2",
            "orientation": "landscape",
            "size": "small",
            "duration": 10,
        }
        local = threading.local()

        def create(i: int) -> str:
            session = local.__dict__.setdefault("session", requests.Session())
            return session.post(
                f"{base}/video/create", json={**body, "prompt": f"poll pass {i}"}, timeout=10
            ).json()["id"]

        with ThreadPoolExecutor(16) as pool:
            remote_ids = list(pool.map(create, range(jobs)))
        user = _user()
        prompt = Prompt.objects.create(text="poll pass", author=user)
        now = timezone.now()
        VideoJob.objects.bulk_create(
            [
                VideoJob(
                    owner=user,
                    prompt=prompt,
                    provider=model.provider,
                    video_model=model,
                    model_name="sora-2",
                    orientation="landscape",
                    size="small",
                    duration=10,
                    state=JobState.RUNNING,
                    remote_id=rid,
                    next_poll_at=now,
                    deadline_at=now + timedelta(hours=1),
                )
                for rid in remote_ids
            ]
        )
        started = time.monotonic()
        polled = loop.poll_pass()
        seconds = time.monotonic() - started
        polls = sum(
            VideoJob.objects.filter(provider=model.provider).values_list("poll_count", flat=True)
        )
        still_due = VideoJob.objects.filter(
            provider=model.provider,
            state=JobState.RUNNING,
            next_poll_at__lte=timezone.now() - timedelta(seconds=5),
        ).count()
    finally:
        _stop(sim)
    limit = model.provider.concurrency_limit
    return [
        (
            f"poll pass, {jobs} jobs, 50 ms answers, {limit} at a time",
            f"{seconds:.2f} s",
            "<= 5 s",
            _ok(seconds <= 5 and polled == jobs and still_due == 0),
        ),
        (
            "poll pass: status requests answered",
            f"{polls}",
            f"{jobs} (one per job)",
            _ok(polls == jobs),
        ),
    ]


class _FileHandler(BaseHTTPRequestHandler):
    path_on_disk: Path

    def do_GET(self) -> None:  # noqa: N802
        size = self.path_on_disk.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with self.path_on_disk.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                self.wfile.write(chunk)

    def log_message(self, *args) -> None:
        pass


def _big_mp4(target_bytes: int) -> Path:
    """A real, decodable MP4 made 200 MB large by a trailing 'free' box (valid MP4 structure)."""
    import imageio_ffmpeg

    small = Path(tempfile.mkdtemp()) / "small.mp4"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=24:duration=4",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(small),
        ],
        check=True,
    )
    big = small.with_name("big.mp4")
    pad = target_bytes - small.stat().st_size - 8
    with big.open("wb") as out:
        out.write(small.read_bytes())
        out.write(pad.to_bytes(4, "big") if pad + 8 < 2**32 else b"\0\0\0\1")
        out.write(b"free")
        block = b"\0" * (1 << 20)
        remaining = pad
        while remaining > 0:
            out.write(block[: min(len(block), remaining)])
            remaining -= min(len(block), remaining)
    return big


ARCHIVE_SCRIPT = r"""
import os, sys, types
import django
django.setup()
from django.utils import timezone
from soraweb.providers import make_client
from soraweb.providers.base import ProviderConfig
from soraweb.videos.pipeline import download

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
base = sys.argv[1]
client = make_client(ProviderConfig(base_url=base + "/v1"))
job = types.SimpleNamespace(
    pk=1, remote_id="big", remote_video_url=base + "/big.mp4", remote_thumbnail_url="", created_at=timezone.now()
)
before = rss("VmRSS")
result = download.fetch_and_verify(client, job)
print(before, rss("VmHWM"), result.size)
"""


def bench_archive_rss(data_dir: str, size_mb: int = 200) -> list[tuple[str, str, str, str]]:
    big = _big_mp4(size_mb * 1024 * 1024)
    handler = type("H", (_FileHandler,), {"path_on_disk": big})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = subprocess.run(
            [sys.executable, "-c", ARCHIVE_SCRIPT, f"http://127.0.0.1:{server.server_port}"],
            cwd=ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    finally:
        server.shutdown()
    before, peak, size = (int(x) for x in out[-3:])
    growth_mb = (peak - before) / (1024 * 1024)
    return [
        (
            f"archive a {size / 1024 / 1024:.0f} MB video: peak RSS growth",
            f"{growth_mb:.1f} MB",
            "<= 30 MB",
            _ok(growth_mb <= 30 and size == big.stat().st_size),
        ),
    ]


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def run(data_dir: str) -> list[tuple[str, str, str, str]]:
    return [*bench_latency(data_dir), *bench_poll_pass(data_dir), *bench_archive_rss(data_dir)]
