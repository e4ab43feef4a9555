"""Redis killed mid-burst and restarted empty: every queued task is gone, no job is.

Real parts: a Redis server of this test's own (so killing it harms nobody), a django-q2 cluster on
it and on PostgreSQL, the simulator over HTTP. Redis is SIGKILLed while jobs are being submitted,
polled and saved, and comes back empty (no persistence) on the same port. The sweep and the
schedule must hand every job on again: each ends saved, created once at the provider, its video
byte-identical to what the relay served. The scenario is tests/faults/scenarios.py's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import parts, scenarios
from tests.faults.conftest import within_targets


@pytest.fixture
def own_redis(tmp_path) -> Iterator[parts.OwnRedis]:
    missing = parts.own_redis_missing()
    if missing:
        pytest.fail(f"this test runs {missing}", pytrace=False)
    with parts.own_redis(tmp_path) as server:
        yield server


@pytest.mark.scale
def test_redis_killed_mid_burst_and_restarted_empty(installation, own_redis, relay, tmp_path):
    within_targets(scenarios.broker_restart(installation, own_redis, relay, tmp_path))
