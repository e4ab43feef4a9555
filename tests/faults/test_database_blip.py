"""PostgreSQL stopped and started while creates are slow: no provider id is lost.

Real parts: a PostgreSQL cluster of this test's own (initdb + pg_ctl into a temp dir, on a free
port: stopping it harms nobody), Redis, a django-q2 cluster, and the simulator answering every
request after 3 s, as real relays do. The database is stopped while creates are in flight, so
the provider accepts jobs whose answer cannot be written; it comes back after 15 s. Every job
must end saved, created once, not parked in "Needs attention".
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.clusters import SETTLED, clean_env, create_jobs, kill, manage, start_cluster
from tests.conftest import free_port
from tests.faults.conftest import bench_row, wait_for
from tests.scale.conftest import REDIS_URL

JOBS = 6


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else (shutil.which(name) or "")


class OwnPostgres:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/soraweb"

    def _run(self, *args: str) -> None:
        # PostgreSQL refuses to run as root: run its tools as the postgres user when we are root.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        proc = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.start()
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE soraweb")

    def start(self) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "pg.log"),
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def own_postgres(tmp_path_factory) -> Iterator[OwnPostgres]:
    missing = [name for name in ("initdb", "pg_ctl") if not _pg_bin(name)]
    if missing:
        pytest.fail(
            f"this test runs a PostgreSQL cluster of its own and needs {', '.join(missing)} "
            "(apt-get install postgresql; found under /usr/lib/postgresql/*/bin)",
            pytrace=False,
        )
    server = OwnPostgres(Path(f"/tmp/soraweb-faults-pg-{uuid.uuid4().hex[:8]}"))
    server.init()
    try:
        yield server
    finally:
        with contextlib.suppress(AssertionError):  # already stopped
            server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def _jobs(url: str) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=3) as conn:
        return conn.execute(
            "SELECT p.text, j.state, j.remote_id, j.error_message FROM videos_videojob j "
            "JOIN videos_prompt p ON p.id = j.prompt_id"
        ).fetchall()


@pytest.mark.scale
def test_a_database_blip_after_slow_creates_loses_no_provider_id(
    own_postgres, services, cluster_name, relay, tmp_path
):
    relay.job_seconds = 4.0
    relay.latency = 3.0  # every answer takes 3 s, creates included
    env = clean_env(
        DATABASE_URL=own_postgres.url,
        REDIS_URL=REDIS_URL,
        SORAWEB_CLUSTER_NAME=cluster_name,
        SORAWEB_DATA_DIR=str(tmp_path / "data"),
        SORAWEB_SECRET_KEY="faults-test-secret-key-" + uuid.uuid4().hex,
        SORAWEB_SIMULATOR_URL=relay.base_url,
        SORAWEB_WORKERS=str(JOBS),
        SORAWEB_QUEUE_LOG_LEVEL="INFO",
    )
    manage(env, "migrate", "--noinput")
    prompts = [f"database blip {i}" for i in range(JOBS)]
    log = (tmp_path / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    try:
        wait_for(
            "the cluster running",
            lambda: b"running" in (tmp_path / "cluster.log").read_bytes(),
            timeout=60,
        )
        create_jobs(env, prompts, user="blip")
        wait_for(
            "creates in flight",
            lambda: sum(1 for row in _jobs(own_postgres.url) if row[1] == "submitting") >= 2,
            timeout=60,
            every=0.1,
        )
        own_postgres.stop()
        time.sleep(15)
        own_postgres.start()
        back = time.monotonic()

        def settled():
            try:
                return all(row[1] in SETTLED for row in _jobs(own_postgres.url))
            except psycopg.Error:
                return False

        wait_for("every job settled after the database came back", settled, timeout=240, every=1)
        bench_row("jobs settled after a 15 s database outage", time.monotonic() - back, 120)
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()

    rows = _jobs(own_postgres.url)
    assert len(rows) == JOBS
    for text, state, remote_id, error in rows:
        assert relay.creates_for_prompt(text) == 1, (
            f"{text!r} created {relay.creates_for_prompt(text)}x"
        )
        assert state == "succeeded", (text, state, error)
        assert remote_id
