"""Fault tests with real parts: worker clusters killed, the relay stopped and restarted.

Marked ``scale`` (run by `make test-scale`): they run django-q2 clusters on a PostgreSQL database
and a Redis queue of their own (the fixtures of tests/scale), because Redis, unlike the ORM
broker, does not redeliver a task whose worker was killed. Without PostgreSQL and Redis they fail
and say what is missing; they never skip. The parts are in parts.py and the outages in
scenarios.py, shared with `make bench` (tests/bench/faults.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import parts
from tests.faults.parts import Measured, RecordingSimulator, bench_row
from tests.scale.conftest import REDIS_URL, cluster_name, pg_database, services

__all__ = ["cluster_name", "pg_database", "services"]


@pytest.fixture
def installation(pg_database, cluster_name, tmp_path) -> dict[str, str]:
    """A migrated installation on PostgreSQL and Redis; media on the local disk."""
    return parts.installation(pg_database, REDIS_URL, cluster_name, tmp_path / "data")


@pytest.fixture
def relay(tmp_path) -> Iterator[RecordingSimulator]:
    with parts.recording_relay(tmp_path / "relay") as sim:
        yield sim


def within_targets(measured: list[Measured]) -> None:
    """Print each recovery time as a bench line; fail for each required one that missed."""
    for m in measured:
        bench_row(m)
    missed = [f"{m.name}: {m.seconds:.1f} s" for m in measured if m.required and not m.met]
    assert not missed, "over target: " + "; ".join(missed)
