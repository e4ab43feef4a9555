"""The simulator reads the time of its jobs from an injectable clock: a FakeClock moves them
only when told, over the same real HTTP."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from soraweb.simulator.server import Simulator
from soraweb.simulator.store import FakeClock, SystemClock
from tests.simulator.helpers import unified_body


def status(sim, job_id):
    return requests.get(f"{sim.base_url}/video/query", params={"id": job_id}, timeout=5).json()


def test_a_fake_clock_moves_only_when_advanced_and_wakes_sleepers():
    clock = FakeClock(start=1000.0)
    stop = threading.Event()
    woke: list[float] = []
    sleeper = threading.Thread(target=lambda: woke.append(clock.sleep_until(1005.0, stop)))
    sleeper.start()

    time.sleep(0.1)
    assert clock.now() == 1000.0
    assert woke == []
    assert clock.advance(5.0) == 1005.0
    sleeper.join(timeout=2)
    assert woke == [False]
    with pytest.raises(ValueError):
        clock.advance(-1)
    stop.set()
    assert clock.sleep_until(2000.0, stop) is True  # a stopping simulator does not wait


def test_the_default_clock_is_the_wall_clock():
    sim = Simulator()
    assert isinstance(sim.clock, SystemClock)
    assert abs(sim.clock.now() - time.time()) < 1


def test_a_job_on_a_fake_clock_runs_its_life_as_the_clock_moves():
    clock = FakeClock()
    with Simulator(job_seconds=0.2, result_ttl=60, clock=clock) as sim:
        job_id = requests.post(
            f"{sim.base_url}/video/create", json=unified_body(prompt="clocked"), timeout=5
        ).json()["id"]
        time.sleep(0.4)  # twice the run time on the wall clock: nothing moves
        assert status(sim, job_id)["status"] == "pending"

        clock.advance(0.1)
        running = status(sim, job_id)
        clock.advance(0.15)
        done = status(sim, job_id)
        clock.advance(60)
        expired = status(sim, job_id)

    assert running["status"] == "processing"
    assert 0 < running["detail"]["pending_info"]["progress_pct"] < 1
    assert done["status"] == "completed"
    assert done["video_url"]
    job = sim.job(job_id)
    assert job["completed_at"] == pytest.approx(job["created_at"] + 0.2)
    assert done["status_update_time"] == int(job["completed_at"] * 1000)
    assert expired["status"] == "expired"
    assert job["expires_at"] == pytest.approx(job["completed_at"] + 60)
