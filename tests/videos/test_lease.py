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


# --- The hand-over to a successor loop ------------------------------------------------------------


def test_a_successor_waits_while_its_predecessor_holds_and_takes_the_lease_once_released(
    monkeypatch,
):
    previous = lease.new_holder()  # this process: alive
    assert loop._lease_acquire(previous)
    successor = lease.new_holder()
    # Renewed meanwhile, and not released: the successor waits out its patience, then gives up.
    started = time.monotonic()
    assert not lease.acquire_from(loop.POLL_LEASE, successor, previous=previous, patience=0.3)[0]
    assert 0.3 <= time.monotonic() - started < 2
    real_sleep = time.sleep
    looks = []

    def sleep_then_release(seconds):
        real_sleep(seconds)
        looks.append(seconds)
        if len(looks) == 3:
            loop._lease_release(previous)  # the predecessor lets go between two looks

    monkeypatch.setattr(lease.time, "sleep", sleep_then_release)
    taken, was = lease.acquire_from(loop.POLL_LEASE, successor, previous=previous, patience=20)
    assert taken and was is None  # released, not taken from a dead holder
    assert len(looks) == 3 and sum(looks) < 1
    assert WorkerLease.objects.get(name=loop.POLL_LEASE).holder == successor


def test_a_loop_past_its_budget_polls_on_until_its_successor_has_started(
    member, sim_provider, settings, monkeypatch
):
    """The successor's trip through the queue (behind a burst of archive tasks, say) is no gap:
    the old loop lets go only once the new one has started and waits on the lease."""
    from soraweb.videos.models import VideoModel

    model = VideoModel.objects.get(name="sora-2")
    job_row(
        member,
        model,
        orientation="portrait",
        text="still generating",
        state=JobState.RUNNING,
        remote_id="r-busy",
        next_poll_at=timezone.now() + timedelta(hours=1),  # nothing to ask: no network here
    )
    settings.SORAWEB_POLL_LOOP_SECONDS = 1.0
    monkeypatch.setattr(loop.queue, "worker_count", lambda: 2)
    enqueued: list[tuple] = []
    monkeypatch.setattr(loop.queue, "enqueue", lambda *task: enqueued.append(task) or True)
    queue_delay = 0.7  # the successor task comes out of the queue this long after it was asked
    real_ready = loop._successor_ready
    looks: list[float] = []

    def ready(holder: str) -> bool:
        looks.append(time.monotonic())
        if looks[-1] - looks[0] >= queue_delay:
            assert loop._successor_here(holder)  # what the successor does first
        return real_ready(holder)

    monkeypatch.setattr(loop, "_successor_ready", ready)
    result = loop.poll_loop()
    held_from, held_until = result["held"]
    # Asked for its successor, naming itself, and polled on until it came ...
    assert enqueued[0] == ("poll_loop", loop.SUCCESSOR_PATIENCE, result["holder"])
    assert held_until - held_from >= settings.SORAWEB_POLL_LOOP_SECONDS + queue_delay
    assert result["handed_over"] is True
    # ... looking often (the successor waits on it) ...
    assert max(b - a for a, b in zip(looks, looks[1:], strict=False)) < 0.5
    # ... then let go of the lease at once, and asked for no second loop.
    assert enqueued == [enqueued[0]]
    assert WorkerLease.objects.get(name=loop.POLL_LEASE).holder == ""


def test_a_successor_that_never_comes_is_not_waited_for_past_the_hand_over_wait(
    member, sim_provider, settings, monkeypatch
):
    from soraweb.videos.models import VideoModel

    model = VideoModel.objects.get(name="sora-2")
    job_row(
        member,
        model,
        orientation="portrait",
        text="still generating",
        state=JobState.RUNNING,
        remote_id="r-busy",
        next_poll_at=timezone.now() + timedelta(hours=1),
    )
    settings.SORAWEB_POLL_LOOP_SECONDS = 0.5
    monkeypatch.setattr(loop.queue, "worker_count", lambda: 2)
    enqueued: list[tuple] = []
    monkeypatch.setattr(loop.queue, "enqueue", lambda *task: enqueued.append(task) or True)
    result = loop.poll_loop()
    held_from, held_until = result["held"]
    assert result["handed_over"] is False
    # Waited at most as long as its budget again (a loop holds its worker at most twice its
    # budget plus the grace, inside the task timeout).
    assert 1.0 <= held_until - held_from < 1.0 + loop.HANDOVER_GRACE_SECONDS
    # The old way then: a quiet moment (nothing due within 2 s), and a fresh loop enqueued.
    assert enqueued == [("poll_loop", loop.SUCCESSOR_PATIENCE, result["holder"]), ("poll_loop",)]
    # The late successor still starts cleanly: that loop is gone, it takes the free lease.
    assert loop.poll_loop(loop.SUCCESSOR_PATIENCE, result["holder"])["ran"] is True


def test_with_one_worker_no_successor_is_waited_for(member, sim_provider, settings, monkeypatch):
    """The loop holds the only worker: a successor could not start before it ends."""
    from soraweb.videos.models import VideoModel

    model = VideoModel.objects.get(name="sora-2")
    job_row(
        member,
        model,
        orientation="portrait",
        text="still generating",
        state=JobState.RUNNING,
        remote_id="r-busy",
        next_poll_at=timezone.now() + timedelta(hours=1),
    )
    settings.SORAWEB_POLL_LOOP_SECONDS = 0.5
    monkeypatch.setattr(loop.queue, "worker_count", lambda: 1)
    enqueued: list[tuple] = []
    monkeypatch.setattr(loop.queue, "enqueue", lambda *task: enqueued.append(task) or True)
    result = loop.poll_loop()
    held_from, held_until = result["held"]
    assert result["handed_over"] is False and held_until - held_from < 1.5
    assert enqueued == [("poll_loop",)]  # the old way: a fresh loop once this one has ended
