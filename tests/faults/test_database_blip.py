"""PostgreSQL stopped and started while creates are slow: no provider id is lost.

Real parts: a PostgreSQL cluster of this test's own (initdb + pg_ctl into a temp dir, on a free
port: stopping it harms nobody), Redis, a django-q2 cluster, and the simulator answering every
request after 3 s, as real relays do. The database is stopped while creates are in flight, so
the provider accepts jobs whose answer cannot be written; it comes back after 15 s. Every job
must end saved, created once, not parked in "Needs attention". The scenario is
tests/faults/scenarios.py's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults import parts, scenarios
from tests.faults.conftest import within_targets
from tests.scale.conftest import REDIS_URL


@pytest.fixture
def own_postgres() -> Iterator[parts.OwnPostgres]:
    missing = parts.own_postgres_missing()
    if missing:
        pytest.fail(f"this test runs {missing}", pytrace=False)
    with parts.own_postgres() as server:
        yield server


@pytest.mark.scale
def test_a_database_blip_after_slow_creates_loses_no_provider_id(
    own_postgres, services, cluster_name, relay, tmp_path
):
    within_targets(scenarios.database_blip(own_postgres, REDIS_URL, cluster_name, relay, tmp_path))
