"""Provider outages: the relay stops answering (connection refused) and comes back.

Real parts: a django-q2 cluster on PostgreSQL + Redis, the simulator over HTTP, stopped and
restarted on its port with its job store. During the outage a new job's create cannot be sent
at all: it waits for the provider (for SORAWEB_PROVIDER_OUTAGE_MINUTES) instead of failing after
four quick tries, and fails with the reason only when the wait is over. Jobs already at the
provider say since when the provider is unreachable. When the relay is back, every waiting job
is checked within seconds, not after its backed-off poll (up to two minutes). The scenarios are
tests/faults/scenarios.py's.
"""

from __future__ import annotations

import pytest

from tests.faults import scenarios
from tests.faults.conftest import within_targets


@pytest.mark.scale
def test_a_relay_outage_is_waited_out_and_its_end_noticed_at_once(installation, relay, tmp_path):
    within_targets(scenarios.relay_outage(installation, relay, tmp_path))


@pytest.mark.scale
def test_a_relay_that_comes_back_without_its_store(installation, relay, tmp_path):
    """The relay returns having lost every job: each job at the provider fails with the relay's
    own reason within seconds of its return (no endless polling), and new jobs work again."""
    within_targets(scenarios.relay_lost_store(installation, relay, tmp_path))
