"""Redis killed mid-burst and restarted empty: every queued task is gone, no job is.

Real parts: a Redis server of this test's own (so killing it harms nobody), a django-q2 cluster on
it and on PostgreSQL, the simulator over HTTP. Redis is SIGKILLed while jobs are being submitted,
polled and saved, and comes back empty (no persistence) on the same port. The sweep and the
schedule must hand every job on again: each ends saved, created once at the provider, its video
byte-identical to what the relay served.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.clusters import SETTLED, create_jobs, kill, start_cluster
from tests.conftest import free_port
from tests.faults.conftest import bench_row, db_rows, wait_for

JOBS = 12
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class OwnRedis:
    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            "redis-server answering",
            lambda: _pings(self.url),
            timeout=20,
        )

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    if not Path(REDIS_SERVER).exists():
        pytest.fail(
            "this test runs a Redis server of its own: install redis-server "
            "(apt-get install redis-server)",
            pytrace=False,
        )
    server = OwnRedis(free_port(), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _jobs(db: str) -> list[tuple]:
    return db_rows(
        db,
        "SELECT p.text, j.state, j.remote_id, j.video, j.error_message FROM videos_videojob j "
        "JOIN videos_prompt p ON p.id = j.prompt_id",
    )


@pytest.mark.scale
def test_redis_killed_mid_burst_and_restarted_empty(installation, own_redis, relay, tmp_path):
    relay.job_seconds = 4.0
    env = {
        **installation,
        "REDIS_URL": own_redis.url,
        "SORAWEB_SIMULATOR_URL": relay.base_url,
        "SORAWEB_WORKERS": "3",
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",
    }
    db = installation["DATABASE_URL"]
    prompts = [f"broker restart {i:02d}" for i in range(JOBS)]
    log = (tmp_path / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    try:
        create_jobs(env, prompts, user="broker")
        # Mid-burst: some jobs at the provider or being saved, some not yet started.
        wait_for(
            "the burst under way",
            lambda: sum(1 for row in _jobs(db) if row[2]) >= 3,
            timeout=90,
        )
        own_redis.kill()
        busy = [row[1] for row in _jobs(db) if row[1] not in SETTLED]
        assert busy, "every job had settled before Redis was killed: the test proved nothing"
        time.sleep(5)
        own_redis.start()  # empty: every queued task is gone
        back = time.monotonic()
        wait_for(
            "every job settled after Redis came back",
            lambda: all(row[1] in SETTLED for row in _jobs(db)),
            timeout=240,
            every=1.0,
        )
        took = time.monotonic() - back
        bench_row("burst settled after Redis restarted empty", took, 90)
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()

    rows = _jobs(db)
    assert len(rows) == JOBS
    media = Path(installation["SORAWEB_DATA_DIR"]) / "media"
    for text, state, remote_id, video, error in rows:
        assert relay.creates_for_prompt(text) == 1, (
            f"{text!r}: {relay.creates_for_prompt(text)} creates"
        )
        assert state == "succeeded", (text, state, error)
        assert (media / video).read_bytes() == relay.video_bytes(remote_id), text
    assert took <= 90, f"the burst took {took:.0f} s to settle after Redis came back"
