"""Chat streams read side by side in one worker process (pipeline/streams.py), for real.

A django-q2 cluster with a single worker process runs against the simulator over HTTP, on the
embedded default (SQLite + ORM broker). Its submit tasks hand each chat stream to the worker's
stream reader and return; the tests look at the database the way the pages do, and at the
simulator's count of creates.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soraweb.simulator.server import Simulator
from tests.clusters import ROOT, SETTLED, create_jobs, kill, start_cluster

LEASE = 3  # seconds: SORAWEB_SUBMIT_LEASE_SECONDS of these clusters
TASK_TIMEOUT = 6  # seconds: django-q2's task timeout, shorter than every stream below


@pytest.fixture
def stack(tmp_path):
    """A throwaway installation whose environment provider speaks chat to a fresh simulator."""
    sim = Simulator(job_seconds=3.0, video_width_small=144, video_fps=6).start()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SORAWEB_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "soraweb.settings",
            "SORAWEB_DATA_DIR": str(tmp_path),
            "SORAWEB_PROVIDER_BASE_URL": sim.base_url,
            "SORAWEB_PROVIDER_FORMAT": "chat",
            "SORAWEB_WORKERS": "1",
            "SORAWEB_TASK_TIMEOUT": str(TASK_TIMEOUT),
            "SORAWEB_SUBMIT_LEASE_SECONDS": str(LEASE),
            # The poll loop is a task too: it must end inside the short task timeout.
            "SORAWEB_POLL_LOOP_SECONDS": "1",
            "SORAWEB_LOG_LEVEL": "INFO",
        }
    )
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    log = (tmp_path / "cluster.log").open("ab")
    yield sim, env, tmp_path / "db.sqlite3", log
    log.close()
    sim.stop()


def _rows(db: Path) -> dict[str, dict]:
    with sqlite3.connect(db, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT j.id, j.state, j.progress, j.raw_status, j.error_message, j.lease_until, "
            "p.text AS prompt FROM videos_videojob j JOIN videos_prompt p ON p.id = j.prompt_id"
        )
        return {r["prompt"]: dict(r) for r in rows}


def _submit_task_outcomes(db: Path) -> list[int]:
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT success FROM django_q_task WHERE func = 'soraweb.videos.tasks.submit_job'"
        ).fetchall()
    return [success for (success,) in rows]


def _cluster_pids(cluster: subprocess.Popen) -> set[int]:
    """The Python processes of the cluster's process group (not an ffmpeg child), alive now."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != cluster.pid:
                continue
            if not os.path.basename(os.readlink(entry / "exe")).startswith("python"):
                continue
        except OSError:
            continue
        pids.add(int(entry.name))
    return pids


def test_one_worker_reads_several_chat_streams_at_once_and_a_broken_one_is_never_resent(stack):
    sim, env, db, log = stack
    good = [f"side by side {i} [sim:slow=12]" for i in range(5)]
    broken = "broken mid-way [sim:drop] [sim:slow=12]"
    create_jobs(env, [*good, broken])
    cluster = start_cluster(env, log)
    seen: dict[str, int] = {}  # the highest progress each job showed while still streaming
    processes: set[int] = set()  # every process the cluster ever had
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            processes |= _cluster_pids(cluster)
            rows = _rows(db)
            for prompt, row in rows.items():
                if row["state"] == "submitting":
                    seen[prompt] = max(seen.get(prompt, 0), row["progress"])
            if all(r["state"] in SETTLED for r in rows.values()):
                break
            time.sleep(0.2)
        time.sleep(2 * LEASE)  # sweeps run meanwhile: nothing may be sent again
    finally:
        kill(cluster, signal.SIGKILL)
    rows = _rows(db)
    for prompt in good:
        assert rows[prompt]["state"] == "succeeded", rows[prompt]
        # Each stream's progress lines reached the job while it was being read.
        assert 0 < seen.get(prompt, 0) < 100, (prompt, seen)
    assert rows[broken]["state"] == "needs_attention", rows[broken]
    assert "may still have been generated" in rows[broken]["error_message"]
    for prompt in [*good, broken]:
        assert sim.creates_for_prompt(prompt) == 1, prompt
    # One worker held all five at once: every one was created before the first could end.
    created = sorted(sim.job(j["id"])["created_at"] for j in sim.jobs() if j["prompt"] in good)
    assert created[-1] - created[0] < 12, created
    # main (the sentinel too), monitor, pusher and one worker, never replaced: the streams had no
    # processes of their own, and the streams ran on past django-q2's task timeout without
    # its guard killing the worker (as it does to a task that overruns).
    assert len(processes) == 4, processes
    assert _submit_task_outcomes(db) == [True] * 6


def test_a_worker_killed_mid_stream_leaves_the_job_parked_and_never_creates_twice(stack):
    sim, env, db, log = stack
    prompt = "killed while streaming [sim:stuck]"  # progress stops at 50% and the stream stays
    create_jobs(env, [prompt])
    cluster = start_cluster(env, log)
    try:
        deadline = time.monotonic() + 40
        while _rows(db)[prompt]["progress"] < 50:
            assert time.monotonic() < deadline, _rows(db)[prompt]
            time.sleep(0.2)
        # Quiet now (no new progress), yet the stream is alive: its claim is kept by the
        # reader's heartbeat, so the sweep does not park it.
        time.sleep(3 * LEASE)
        row = _rows(db)[prompt]
        assert row["state"] == "submitting", row
    finally:
        kill(cluster, signal.SIGKILL)
    cluster = start_cluster(env, log)
    try:
        deadline = time.monotonic() + 40
        while _rows(db)[prompt]["state"] == "submitting":
            assert time.monotonic() < deadline, _rows(db)[prompt]
            time.sleep(0.2)
        time.sleep(2 * LEASE)
    finally:
        kill(cluster, signal.SIGKILL)
    row = _rows(db)[prompt]
    assert row["state"] == "needs_attention", row
    assert "interrupted while starting" in row["error_message"]
    assert sim.creates_for_prompt(prompt) == 1
