"""Archive benchmark (issue 16, item 6): saving a 1 GB video runs at disk speed.

The simulator (in this process, serving with sendfile) hands out one 1 GiB MP4 ([sim:bigfile]:
a real clip grown by a free box, so it still decodes). In the same run, alternately:

- ``curl -s -o`` of its URL into the data folder (the anchor: a plain client, no hashing);
- soraweb's archive step (``archive.job_archive``: claim, streamed download with SHA-256, the
  check and the poster, the move into media storage, the transition), each in a fresh worker
  process so its peak RSS means something: the kernel's high-water mark is reset just before.

Throughput is bytes / wall time, the median of the runs of each; the ratio is the median of
the ratios of back-to-back pairs (robust to other work on the machine), with CPU time per GB. Dirty pages are flushed before
every run, so no run pays for the previous one's writeback. "read back" is what the check and
poster step read of the downloaded file (through the function the archive step calls), for the
moov box up front (faststart) and at the end.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
SIZE_MB = 1024
RUNS = 5

WORKER = r"""
import json, os, sys, time
import django
django.setup()
from soraweb.videos.models import VideoJob
from soraweb.videos.pipeline import archive, download

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

passes = []
real = download.inspect_video
def counted(path, **kwargs):
    facts = real(path, **kwargs)
    passes.append(facts.bytes_read)
    return facts
download.inspect_video = counted

job_id = int(sys.argv[1])
before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current RSS
    fh.write("5")
import resource
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
archive.job_archive(job_id=job_id)
elapsed = time.perf_counter() - started
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
peak = status("VmHWM:")
job = VideoJob.objects.get(pk=job_id)
print(json.dumps({"elapsed": elapsed, "cpu": cpu, "before": before, "peak": peak, "state": job.state,
                  "bytes": job.video_bytes, "passes": passes, "error": job.error_message}))
"""


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def _remote_video(sim, prompt: str) -> tuple[str, str]:
    answer = requests.post(
        f"{sim.base_url}/video/create",
        json={
            "images": [],
            "model": "sora-2",
            "orientation": "portrait",
            "size": "small",
            "duration": 10,
            "prompt": prompt,
        },
        timeout=30,
    )
    answer.raise_for_status()
    remote_id = answer.json()["id"]
    sim.complete_now(remote_id)  # renders (and pads) the file now, outside any timing
    return remote_id, sim.job(remote_id)["video_url"]


def _archiving_job(provider, model, owner, remote_id: str, url: str):
    from django.utils import timezone

    from soraweb.videos.models import JobState, Prompt, VideoJob

    now = timezone.now()
    return VideoJob.objects.create(
        owner=owner,
        prompt=Prompt.objects.create(text="archive benchmark", author=owner),
        provider=provider,
        video_model=model,
        model_name=model.name,
        orientation="portrait",
        size=model.sizes[0],
        duration=model.durations[0],
        state=JobState.ARCHIVING,
        remote_id=remote_id,
        remote_video_url=url,
        provider_completed_at=now,
        progress=100,
    )


def _soraweb_run(job) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(job.pk)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["state"] != "succeeded":
        raise RuntimeError(f"archive benchmark: the job ended {result['state']}: {result['error']}")
    job.refresh_from_db()
    # Keep the disk from filling over the runs: the stored copy has been measured.
    from django.core.files.storage import default_storage

    for name in (job.video.name, job.poster.name):
        default_storage.delete(name)
    return result


def _curl_run(url: str, target: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one ``curl -o``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(target), url], check=True, timeout=600)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    size = target.stat().st_size
    target.unlink()
    if size != SIZE_MB * 1024 * 1024:
        raise RuntimeError(f"curl fetched {size} bytes")
    return elapsed, cpu


def run(data_dir: str) -> list[tuple[str, str, str, str]]:
    from django.contrib.auth import get_user_model

    from soraweb.simulator.server import Simulator
    from soraweb.videos.models import Provider, VideoModel

    free = shutil.disk_usage(data_dir).free
    if free < 4 * SIZE_MB * 1024 * 1024:
        raise RuntimeError(f"the archive benchmark needs 4 GB free in {data_dir}")
    if not shutil.which("curl"):
        raise RuntimeError("the archive benchmark compares with curl, which is not installed")
    owner, _ = get_user_model().objects.get_or_create(username="archive-bench")
    files = Path(data_dir) / "simulator-files"
    sim = Simulator(job_seconds=0.2, work_dir=files).start()
    try:
        provider = Provider.objects.create(
            name="Archive bench relay", base_url=sim.base_url, wire_format="unified"
        )
        seed = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
        model = VideoModel.objects.create(
            name="sora-2",
            display_name="Sora 2 (archive bench)",
            provider=provider,
            orientations=seed.orientations,
            sizes=seed.sizes,
            durations=seed.durations,
            price_per_second=seed.price_per_second,
        )
        first_id, first_url = _remote_video(sim, f"archive bench [sim:bigfile={SIZE_MB}]")
        last_id, last_url = _remote_video(
            sim, f"archive bench, moov last [sim:bigfile={SIZE_MB}][sim:moovlast]"
        )
        size = SIZE_MB * 1024 * 1024
        curls, ours = [], []
        for _ in range(RUNS):
            os.sync()
            curls.append(_curl_run(first_url, Path(data_dir) / "curl-download.mp4"))
            os.sync()
            ours.append(_soraweb_run(_archiving_job(provider, model, owner, first_id, first_url)))
        os.sync()
        moov_last = _soraweb_run(_archiving_job(provider, model, owner, last_id, last_url))
    finally:
        sim.stop()
        shutil.rmtree(files, ignore_errors=True)

    mb = size / 1e6
    curl_times = [t for t, _ in curls]
    curl_rate = mb / statistics.median(curl_times)
    our_times = [r["elapsed"] for r in ours]
    our_rate = mb / statistics.median(our_times)
    # Each soraweb run right after its curl run: the ratio of a pair cancels out most of what
    # other work on the machine does to both, so the median of the pairs' ratios is the figure.
    ratio = statistics.median(c / o for c, o in zip(curl_times, our_times, strict=True))
    curl_cpu = statistics.median(c for _, c in curls) / (mb / 1000)
    our_cpu = statistics.median(r["cpu"] for r in ours) / (mb / 1000)
    growth = max((r["peak"] - r["before"]) / (1024 * 1024) for r in [*ours, moov_last])
    sizes_ok = all(r["bytes"] == size for r in [*ours, moov_last])
    reads = [r["passes"] for r in ours]
    single = all(len(p) == 1 for p in [*reads, moov_last["passes"]])
    read_first = max(p[0] for p in reads) / 1e6
    read_last = sum(moov_last["passes"]) / 1e6
    return [
        (
            f"archive {SIZE_MB / 1024:.0f} GiB from the simulator: curl -o (anchor)",
            f"{curl_rate:.0f} MB/s (runs {', '.join(f'{mb / t:.0f}' for t in curl_times)})",
            "-",
            "",
        ),
        (
            f"archive {SIZE_MB / 1024:.0f} GiB: soraweb job_archive (sha256, check, poster, store)",
            f"{our_rate:.0f} MB/s (runs {', '.join(f'{mb / t:.0f}' for t in our_times)})",
            "-",
            "",
        ),
        (
            "archive 1 GiB: CPU time per GB, curl / soraweb",
            f"{curl_cpu:.2f} s / {our_cpu:.2f} s",
            "-",
            "",
        ),
        (
            "archive 1 GiB: soraweb / curl throughput (median of paired runs)",
            f"{ratio:.2f}",
            ">= 0.8",
            _ok(ratio >= 0.8 and sizes_ok),
        ),
        (
            "archive 1 GiB: peak RSS growth of the worker",
            f"{growth:.1f} MB",
            "<= 30 MB",
            _ok(growth <= 30),
        ),
        (
            "archive 1 GiB: file read back for check + poster",
            f"{'1 pass' if single else 'MORE than 1 pass'}; {read_first:.2f} MB (moov first), "
            f"{read_last:.2f} MB (moov last) of {mb:.0f} MB",
            "1 pass, no re-read of the file",
            _ok(single and max(read_first, read_last) < 0.01 * mb),
        ),
        (
            "archive 1 GiB, moov last: soraweb throughput",
            f"{mb / moov_last['elapsed']:.0f} MB/s",
            "-",
            "",
        ),
    ]
