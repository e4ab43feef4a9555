"""Fault tests with real parts: worker clusters killed, the relay stopped and restarted.

Marked ``scale`` (run by `make test-scale`): they run django-q2 clusters on a PostgreSQL database
and a Redis queue of their own (the fixtures of tests/scale), because Redis, unlike the ORM
broker, does not redeliver a task whose worker was killed. Without PostgreSQL and Redis they fail
and say what is missing; they never skip.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from soraweb.simulator.server import Simulator
from tests.clusters import clean_env, manage
from tests.scale.conftest import REDIS_URL, cluster_name, pg_database, services

__all__ = ["cluster_name", "pg_database", "services"]


@pytest.fixture
def installation(pg_database, cluster_name, tmp_path) -> dict[str, str]:
    """A migrated installation on PostgreSQL and Redis; media on the local disk."""
    env = clean_env(
        DATABASE_URL=pg_database,
        REDIS_URL=REDIS_URL,
        SORAWEB_CLUSTER_NAME=cluster_name,
        SORAWEB_DATA_DIR=str(tmp_path / "data"),
        SORAWEB_SECRET_KEY="faults-test-secret-key-" + uuid.uuid4().hex,
    )
    manage(env, "migrate", "--noinput")
    return env


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


@pytest.fixture
def relay(tmp_path) -> Iterator[RecordingSimulator]:
    sim = RecordingSimulator(tmp_path / "relay", job_seconds=4.0, prerender=False).start()
    try:
        yield sim
    finally:
        sim.stop()


def db_rows(database_url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(what: str, check, *, timeout: float, every: float = 0.2):
    """Poll ``check`` until it returns something true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


def bench_row(name: str, seconds: float, target: float) -> None:
    """One line for the bench report (printed; `pytest -s` or the CI log shows it)."""
    print(f"BENCH faults {name}: {seconds:.1f} s (target <= {target:.0f} s)")
