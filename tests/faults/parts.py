"""The real parts the fault tests break on purpose, usable from pytest and from `make bench`.

A relay that records when each query arrived and can be restarted, a Redis server and a
PostgreSQL cluster of their own (so killing them harms nobody), and a migrated installation on
them. Context managers, not fixtures: tests/faults/conftest.py wraps them for pytest and
tests/bench/faults.py uses them as they are.
"""

from __future__ import annotations

import collections
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from soraweb.simulator.server import Simulator
from tests.clusters import clean_env, manage
from tests.conftest import free_port
from tests.simulator.helpers import wait_until


@dataclass(frozen=True)
class Measured:
    """One recovery time. ``required``: the fault test fails when it misses its target (the
    others are reported only)."""

    name: str
    seconds: float
    target: float
    required: bool = True

    @property
    def met(self) -> bool:
        return self.seconds <= self.target


def bench_row(measured: Measured) -> None:
    """One line for the bench report (printed; `pytest -s` or the CI log shows it)."""
    print(
        f"BENCH faults {measured.name}: {measured.seconds:.1f} s "
        f"(target <= {measured.target:.0f} s)"
    )


def db_rows(database_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(what: str, check, *, timeout: float, every: float = 0.2):
    """Poll ``check`` until it returns something true; fail naming ``what`` after ``timeout``."""
    return wait_until(check, timeout, every, what=what)


def installation(
    database_url: str, redis_url: str, cluster_name: str, data_dir: Path, *, migrate: bool = True
) -> dict:
    """The environment of a migrated installation on PostgreSQL and Redis; media on local disk.

    ``migrate=False``: the database is a copy of one migrated already."""
    env = clean_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SORAWEB_CLUSTER_NAME=cluster_name,
        SORAWEB_DATA_DIR=str(data_dir),
        SORAWEB_SECRET_KEY="faults-test-secret-key-" + uuid.uuid4().hex,
    )
    if migrate:
        manage(env, "migrate", "--noinput")
    return env


# --- The relay ---------------------------------------------------------------------------------


class RecordingSimulator(Simulator):
    """The simulator, noting when each status query for a job arrived; restartable on its port
    with its job store (a relay that went away and came back) or without it (a fresh relay)."""

    def __init__(self, work_dir: Path, **kwargs) -> None:
        super().__init__(work_dir=work_dir, **kwargs)
        self.poll_times: dict[str, list[float]] = collections.defaultdict(list)
        self.create_times: list[float] = []
        self._times_lock = threading.Lock()

    def _note_poll(self, job) -> int:
        with self._times_lock:
            self.poll_times[job.id].append(time.monotonic())
        return super()._note_poll(job)

    def _note_attempt(self, prompt: str) -> int:
        with self._times_lock:
            self.create_times.append(time.monotonic())
        return super()._note_attempt(prompt)

    def polls_after(self, moment: float) -> list[float]:
        with self._times_lock:
            return sorted(t for times in self.poll_times.values() for t in times if t >= moment)

    def restart(self, *, keep_store: bool = True) -> None:
        """Listen again on the same port, with the jobs it had before it stopped or (a relay
        that lost its store) with none."""
        if not keep_store:
            with self._lock:
                self._jobs.clear()
                self._by_token.clear()
                self._pending.clear()
        self.start()


@contextlib.contextmanager
def recording_relay(work_dir: Path) -> Iterator[RecordingSimulator]:
    sim = RecordingSimulator(work_dir, job_seconds=4.0, prerender=False).start()
    try:
        yield sim
    finally:
        sim.stop()


# --- A Redis server of one's own -----------------------------------------------------------------

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


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
        wait_for("redis-server answering", lambda: redis_pings(self.url), timeout=20)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def own_redis_missing() -> str:
    """Why a Redis server of one's own cannot be run here (empty when it can)."""
    if Path(REDIS_SERVER).exists():
        return ""
    return (
        "a Redis server of its own is needed: install redis-server (apt-get install redis-server)"
    )


@contextlib.contextmanager
def own_redis(work_dir: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(free_port(), work_dir / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


# --- A PostgreSQL cluster of one's own -------------------------------------------------------------


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


def own_postgres_missing() -> str:
    """Why a PostgreSQL cluster of one's own cannot be run here (empty when it can)."""
    missing = [name for name in ("initdb", "pg_ctl") if not _pg_bin(name)]
    if not missing:
        return ""
    return (
        f"a PostgreSQL cluster of its own needs {', '.join(missing)} "
        "(apt-get install postgresql; found under /usr/lib/postgresql/*/bin)"
    )


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    # Under /tmp, not a test's folder: the postgres user must be able to reach it.
    server = OwnPostgres(Path(f"/tmp/soraweb-faults-pg-{uuid.uuid4().hex[:8]}"))
    server.init()
    try:
        yield server
    finally:
        with contextlib.suppress(AssertionError):  # already stopped
            server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
