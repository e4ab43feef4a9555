"""Chat streams without a process each (issue 16, item 4): 100 streams in one worker.

Each measurement runs a fresh installation (its own SQLite database and ORM broker, so the other
benchmarks' leftover jobs do not load its cluster) with a django-q2 cluster in its own process
group, against the simulator over HTTP in this process. The simulator notes when it writes each
progress line; a sampler here reads the jobs' progress from the database every 20 ms, as a page
would, and the lag of a line is the first sample showing it (or more) minus its writing. Memory
is each cluster process's peak RSS (VmHWM), summed, and their PSS (shared pages divided among the
processes that share them); streams per process are the process's open TCP connections to the
simulator.

The anchor is today's way measured in the same run: every stream read inside its submit task
(SORAWEB_STREAMS_PER_WORKER=0), so N concurrent streams need N worker processes; run at 10
streams, not 100, as 100 worker processes would not fit this machine.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import statistics
import threading
import time
from pathlib import Path

from soraweb.simulator.server import Simulator
from tests.bench.pipeline import _ok, _percentile, _stop
from tests.clusters import SETTLED, clean_env, create_jobs, manage, start_cluster

STREAMS = 100
ANCHOR_STREAMS = 10
MB = 1024 * 1024


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
    return pids


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _connections_to(port: int) -> dict[int, int]:
    """Socket inode -> 1 for every established TCP connection to ``port`` on 127.0.0.1."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        remote, state, inode = parts[2], parts[3], int(parts[9])
        if state == "01" and int(remote.split(":")[1], 16) == port:
            found[inode] = 1
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def _is_python(pid: int) -> bool:
    return os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("python")


class _ClusterWatch:
    """Samples a cluster's processes every half second: peak RSS per process, peak summed PSS,
    and the most streams (connections to the simulator) any one process had open.

    The cluster's own processes are the Python ones; the ffmpeg children that archiving starts
    for posters (one at a time, a second each) are kept apart, as their peaks never add up."""

    def __init__(self, pgid: int, sim_port: int) -> None:
        self.pgid = pgid
        self.sim_port = sim_port
        self.peak_rss_kb: dict[int, int] = {}
        self.idle_rss_kb: dict[int, int] = {}
        self.child_peak_kb = 0
        self.peak_pss_kb = 0
        self.peak_streams = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        pss = 0
        connections = _connections_to(self.sim_port)
        for pid in _group_pids(self.pgid):
            with contextlib.suppress(OSError, ValueError):
                hwm = _status_kb(pid, "VmHWM")
                if not _is_python(pid):
                    self.child_peak_kb = max(self.child_peak_kb, hwm)
                    continue
                self.peak_rss_kb[pid] = max(self.peak_rss_kb.get(pid, 0), hwm)
                self.idle_rss_kb.setdefault(pid, hwm)
                pss += _pss_kb(pid)
                open_streams = sum(1 for i in _socket_inodes(pid) if i in connections)
                self.peak_streams = max(self.peak_streams, open_streams)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def __enter__(self) -> _ClusterWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def rss_mb(self) -> float:
        return sum(self.peak_rss_kb.values()) / 1024

    @property
    def most_growth_mb(self) -> float:
        """The largest growth of one process from its first sample (the streams' worker)."""
        return (
            max(
                (peak - self.idle_rss_kb.get(pid, peak) for pid, peak in self.peak_rss_kb.items()),
                default=0,
            )
            / 1024
        )


def _jobs(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    return conn.execute(
        "SELECT j.progress, j.state, p.text FROM videos_videojob j "
        "JOIN videos_prompt p ON p.id = j.prompt_id"
    ).fetchall()


def _measure(data_dir: str, label: str, *, streams: int, workers: int, per_worker: int) -> dict:
    home = Path(data_dir) / f"streams-{label}"
    sim = Simulator(job_seconds=3.0, video_width_small=144, video_fps=6).start()
    env = clean_env(
        SORAWEB_DATA_DIR=str(home),
        SORAWEB_PROVIDER_BASE_URL=sim.base_url,
        SORAWEB_PROVIDER_FORMAT="chat",
        SORAWEB_WORKERS=str(workers),
        SORAWEB_STREAMS_PER_WORKER=str(per_worker),
        SORAWEB_LOG_LEVEL="WARNING",
    )
    manage(env, "migrate", "--noinput")
    conn = sqlite3.connect(home / "db.sqlite3", timeout=30, check_same_thread=False)
    # 30 to 48 s each, so the first results are archived while later streams still talk.
    prompts = [
        f"stream bench {label} {i:03d} [sim:slow={30 + (i % 10) * 2}]" for i in range(streams)
    ]
    seen: dict[str, list[tuple[float, int]]] = {p: [] for p in prompts}  # (time, progress) changes
    with (Path(data_dir) / f"bench-streams-{label}.log").open("ab") as log:
        cluster = start_cluster(env, log)
        try:
            time.sleep(6)  # up and idle
            with _ClusterWatch(cluster.pid, sim.port) as watch:
                watch.sample()
                idle_mb = watch.rss_mb
                load_before = os.getloadavg()[0]
                failed: list[BaseException] = []

                def create() -> None:
                    try:
                        create_jobs(env, prompts, user=f"bench-{label}")
                    except BaseException as exc:
                        failed.append(exc)

                creator = threading.Thread(target=create, daemon=True)
                creator.start()
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline and not failed:
                    now = time.time()
                    rows = _jobs(conn)
                    for progress, _state, text in rows:
                        changes = seen.get(text)
                        if changes is not None and (not changes or changes[-1][1] != progress):
                            changes.append((now, progress))
                    if len(rows) == streams and all(r[1] in SETTLED for r in rows):
                        break
                    time.sleep(0.02)
                creator.join(timeout=60)
                if failed:
                    raise failed[0]
        finally:
            _stop(cluster)
    load_after = os.getloadavg()[0]
    states = [r[1] for r in _jobs(conn)]
    conn.close()
    by_prompt = {j["prompt"]: j for j in sim.jobs()}
    creates = [sim.creates_for_prompt(p) for p in prompts]
    lags = []
    for prompt in prompts:
        job = next((j for text, j in by_prompt.items() if prompt in text), None)
        for sent_at, pct in job["progress_sent"] if job else []:
            if not 1 <= pct <= 99:
                continue
            shown = next((t for t, p in seen[prompt] if p >= pct), None)
            lags.append((shown - sent_at) if shown is not None else float("inf"))
    sim.stop()
    return {
        "idle_mb": idle_mb,
        "rss_mb": watch.rss_mb,
        "pss_mb": watch.peak_pss_kb / 1024,
        "growth_mb": watch.most_growth_mb,
        "child_mb": watch.child_peak_kb / 1024,
        "load": (load_before, load_after),
        "processes": len(watch.peak_rss_kb),
        "peak_streams": watch.peak_streams,
        "lags": lags,
        "succeeded": states.count("succeeded"),
        "jobs": len(states),
        "creates": creates,
    }


def run(data_dir: str) -> list[tuple[str, str, str, str]]:
    ours = _measure(data_dir, "reader", streams=STREAMS, workers=1, per_worker=200)
    today = _measure(
        data_dir, "today", streams=ANCHOR_STREAMS, workers=ANCHOR_STREAMS, per_worker=0
    )
    rows = []
    for name, m, n in (("stream reader", ours, STREAMS), ("today", today, ANCHOR_STREAMS)):
        lags = m["lags"] or [float("inf")]
        within = sum(lag <= 1.0 for lag in lags) / len(lags)
        mine = name == "stream reader"
        head = f"chat streams, {n} at once ({name}, {m['processes']} processes)"
        rows += [
            (
                f"{head}: most streams open in one process",
                f"{m['peak_streams']}",
                f"{n} in one worker" if mine else "-",
                _ok(m["peak_streams"] >= n) if mine else "",
            ),
            (
                f"{head}: cluster peak RSS (sum of processes' peaks)",
                f"{m['rss_mb']:.0f} MB (idle {m['idle_mb']:.0f} MB, one process +"
                f"{m['growth_mb']:.0f} MB; peak PSS {m['pss_mb']:.0f} MB; ffmpeg poster child "
                f"{m['child_mb']:.0f} MB)",
                "<= 300 MB" if mine else "-",
                _ok(m["rss_mb"] <= 300) if mine else "",
            ),
            (
                f"{head}: progress line -> in the job, median / p95",
                f"{statistics.median(lags):.3f} / {_percentile(lags, 95):.3f} s",
                "<= 1 s" if mine else "-",
                _ok(_percentile(lags, 95) <= 1.0) if mine else "",
            ),
            (
                f"{head}: progress lines in the job within 1 s (worst)",
                f"{within:.1%} of {len(m['lags'])} (worst {max(lags):.2f} s; load average "
                f"{m['load'][0]:.1f} -> {m['load'][1]:.1f} on {os.cpu_count()} cores)",
                "each" if mine else "-",
                _ok(within == 1.0) if mine else "",
            ),
            (
                f"{head}: finished, creates per job",
                f"{m['succeeded']}/{m['jobs']} succeeded, creates {min(m['creates'])}-"
                f"{max(m['creates'])} per job",
                f"{n}/{n}, exactly 1 each",
                _ok(m["succeeded"] == n and set(m["creates"]) == {1}),
            ),
        ]
    return rows
