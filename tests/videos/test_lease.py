"""The poll lease: who may take it over, and when (real processes stand in for holders)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from soraweb.videos import lease
from soraweb.videos.models import JobState, WorkerLease
from soraweb.videos.pipeline import loop
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def _holder_for(pid: int) -> str:
    """A holder string as a poll loop in process ``pid`` on this machine would write it."""
    host_machine, _, _ = lease.new_holder().partition(":")
    return f"{host_machine}:{pid}:abc123"


def _hold(holder: str, seconds: float) -> None:
    WorkerLease.objects.update_or_create(
        name=loop.POLL_LEASE,
        defaults={"holder": holder, "until": timezone.now() + timedelta(seconds=seconds)},
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lease_of_a_dead_process_on_this_machine_is_taken_over_at_once(settings):
    settings.SORAWEB_POLL_LEASE_SECONDS = 30
    _hold(_holder_for(_dead_pid()), 30)
    started = time.monotonic()
    assert loop._lease_acquire(lease.new_holder())
    assert time.monotonic() - started < 1


def test_a_live_holder_keeps_its_lease():
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
        try:
            _hold(_holder_for(alive.pid), 30)
            assert not loop._lease_acquire(lease.new_holder())
            assert not loop._lease_acquire(lease.new_holder(), patience=0.0)
        finally:
            alive.kill()


def test_a_holder_on_another_machine_that_stops_renewing_loses_it_when_it_expires():
    _hold("other-host/0123456789:4242:abc123", 1.5)
    assert not loop._lease_acquire(lease.new_holder())  # not provably dead: wait for expiry
    started = time.monotonic()
    assert loop._lease_acquire(lease.new_holder(), patience=5)
    assert 0.5 < time.monotonic() - started < 4


def test_a_patient_taker_gives_up_when_the_holder_renews(monkeypatch):
    holder = "other-host/0123456789:4242:abc123"
    _hold(holder, 30)
    real_sleep = time.sleep

    def sleep_and_renew(seconds):
        real_sleep(seconds)
        lease.renew(loop.POLL_LEASE, holder)  # the holder's heartbeat, between our looks

    monkeypatch.setattr(lease.time, "sleep", sleep_and_renew)
    started = time.monotonic()
    assert not loop._lease_acquire(lease.new_holder(), patience=20)
    assert time.monotonic() - started < 3


def test_jobs_claimed_by_a_dead_holder_are_due_again(member, sim_provider):
    from soraweb.videos.models import VideoModel

    model = VideoModel.objects.get(name="sora-2")
    now = timezone.now()
    claimed = job_row(
        member,
        model,
        text="claimed",
        state=JobState.RUNNING,
        orientation="portrait",
        remote_id="r1",
        next_poll_at=now + timedelta(seconds=58),
    )
    later = job_row(
        member,
        model,
        text="far later",
        state=JobState.RUNNING,
        orientation="portrait",
        remote_id="r2",
        next_poll_at=now + timedelta(seconds=600),
    )
    _hold(_holder_for(_dead_pid()), 5)
    assert loop._lease_acquire(lease.new_holder())
    claimed.refresh_from_db()
    later.refresh_from_db()
    assert claimed.next_poll_at <= timezone.now()
    assert later.next_poll_at > timezone.now() + timedelta(seconds=500)


def test_a_released_lease_is_free_and_names_no_holder():
    holder = lease.new_holder()
    assert loop._lease_acquire(holder)
    assert not loop._lease_acquire(lease.new_holder())
    loop._lease_release(holder)
    row = WorkerLease.objects.get(name=loop.POLL_LEASE)
    assert row.holder == ""
    assert loop._lease_acquire(lease.new_holder())
