"""The poll loop outlives its holder: a worker SIGKILLed while holding the poll lease.

Real parts: two django-q2 clusters one after the other on PostgreSQL + Redis, the simulator over
HTTP. The first cluster polls jobs (its poll loop holds the lease) and is SIGKILLed with all its
processes; a new cluster starts at once. Its first status query must reach the relay within 10 s,
and every job at the provider must be checked again soon after, not after the dead loop's lease
and claims run out (45 s and 60 s before). The scenario is tests/faults/scenarios.py's.
"""

from __future__ import annotations

import pytest

from tests.clusters import run_script
from tests.faults import scenarios
from tests.faults.conftest import within_targets

TAKEOVER_RACE = r"""
import json, sys, threading
import django
django.setup()
from django.db import connection
from soraweb.videos import lease
from soraweb.videos.pipeline import loop
from soraweb.videos.models import WorkerLease

spec = json.loads(sys.stdin.read())
dead = lease.new_holder().rsplit(":", 2)[0] + ":" + str(spec["dead_pid"]) + ":dead00"
rounds = []
WorkerLease.objects.all().delete()
for n in range(spec["rounds"]):
    barrier = threading.Barrier(spec["threads"])
    won, errors = [], []

    def run():
        try:
            barrier.wait()
            if loop._lease_acquire(lease.new_holder()):
                won.append(1)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(spec["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rounds.append({"winners": len(won), "errors": errors})
    # The winner "dies" holding a fresh lease: a pid of this machine that is not running.
    WorkerLease.objects.update(holder=dead)
print(json.dumps(rounds))
"""


@pytest.mark.scale
def test_a_new_cluster_takes_over_the_lease_of_a_killed_one(installation, relay, tmp_path):
    within_targets(scenarios.lease_takeover(installation, relay, tmp_path))


@pytest.mark.scale
def test_eight_threads_race_for_a_dead_holders_lease_and_one_wins(installation):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    rounds = run_script(
        installation, TAKEOVER_RACE, {"threads": 8, "rounds": 12, "dead_pid": gone.pid}
    )
    assert [r["winners"] for r in rounds] == [1] * 12, rounds
    assert all(not r["errors"] for r in rounds), rounds
