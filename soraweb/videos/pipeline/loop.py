"""The poll loop and its lease.

Polling has two layers: a django-q2 schedule runs ``poll_loop`` every minute as the safety net,
and each accepted job also enqueues ``poll_loop`` at once. The loop holds a lease (one loop at a
time, across workers and machines), polls whatever is due, sleeps until the next job is due, and
once its time budget is spent hands over to a fresh task if work remains, polling on until that
task has started (see HANDOVER_ROW). So a finished job is noticed within about one poll interval,
not within the schedule's minute, nor after the successor's wait in the queue. The lease is short and
renewed by a heartbeat (``soraweb.videos.lease``), so a loop whose worker was killed blocks the
next one for seconds, not for its whole budget.
"""

from __future__ import annotations

import logging
import math
import queue as queue_mod
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from soraweb.providers.base import ProviderError
from soraweb.videos import lease
from soraweb.videos.models import ACTIVE_STATES, AT_PROVIDER_STATES, VideoJob, WorkerLease
from soraweb.videos.pipeline import outage, poll, queue, recover
from soraweb.videos.pipeline.common import provider_client

logger = logging.getLogger(__name__)

POLL_LEASE = "poll-loop"


MAX_POLL_THREADS = 32


def _lease_acquire(holder: str, *, patience: float = 0.0, successor_of: str = "") -> bool:
    if successor_of:
        taken, previous = lease.acquire_from(
            POLL_LEASE, holder, previous=successor_of, patience=patience
        )
    else:
        taken, previous = lease.acquire(POLL_LEASE, holder, patience=patience)
    if previous is not None:
        # Its holder died or stalled: the jobs it had claimed for a pass (pushed a minute on)
        # may never have been asked about. Ask about them now.
        now = timezone.now()
        pulled = VideoJob.objects.filter(
            Q(lease_until__gt=now)
            | Q(
                next_poll_at__gt=now,
                next_poll_at__lte=previous["until"] + timedelta(seconds=poll.POLL_CLAIM_SECONDS),
            ),
            state__in=AT_PROVIDER_STATES,
        ).update(next_poll_at=now, lease_until=None)
        logger.warning(
            "took over the poll lease from %s (gone or not renewing); %d claimed jobs due now",
            previous["holder"],
            pulled,
        )
    return taken


def _lease_renew(holder: str) -> bool:
    return lease.renew(POLL_LEASE, holder)


def _lease_release(holder: str) -> None:
    lease.release(POLL_LEASE, holder)


# How long a pass of the loop waits for answers before it moves on. A query still out then (a
# relay that hangs) finishes in the background; its answer is applied when it comes.
PASS_DEADLINE = 0.5

# The hand-over. A loop past its time budget enqueues its successor and goes on polling until
# the successor has started and said so (the HANDOVER row: "wanted:<holder>", then "ready:<holder>"
# once a successor waits); then it lets go and the successor, waiting on the lease, takes it at
# once. So no job waits for the successor task's trip through the queue, however many tasks
# (archiving, after a burst of finished jobs) are ahead of it. A successor that has not come
# within HANDOVER_WAIT_SECONDS, and never longer than the budget itself (so a loop holds its
# worker at most twice its budget plus the grace below, inside the task timeout), is not waited
# for any longer: the loop then hands over the old way, in a quiet moment (no job due within
# HANDOVER_QUIET_SECONDS) and at the latest HANDOVER_GRACE_SECONDS later. With one worker there
# is nobody to start a successor while the loop holds it: the old way at once. A successor waits
# at most SUCCESSOR_PATIENCE for the lease; the loop it replaces looks for it every
# HANDOVER_CHECK_SECONDS while it sleeps between passes (a read, no extra passes).
HANDOVER_ROW = "poll-loop-handover"
HANDOVER_WAIT_SECONDS = 120.0
HANDOVER_QUIET_SECONDS = 2.0
HANDOVER_GRACE_SECONDS = 20.0
HANDOVER_CHECK_SECONDS = 0.2
SUCCESSOR_PATIENCE = 30.0


def _successor_wanted(holder: str) -> bool:
    """Enqueue this loop's successor; False when the broker cannot take it."""
    WorkerLease.objects.update_or_create(
        name=HANDOVER_ROW,
        defaults={
            "holder": f"wanted:{holder}",
            "until": timezone.now() + timedelta(seconds=HANDOVER_WAIT_SECONDS),
        },
    )
    return queue.enqueue("poll_loop", SUCCESSOR_PATIENCE, holder)


def _successor_here(previous: str) -> bool:
    """The successor's word that it has started (only one successor of ``previous`` gets it)."""
    return bool(
        WorkerLease.objects.filter(name=HANDOVER_ROW, holder=f"wanted:{previous}").update(
            holder=f"ready:{previous}"
        )
    )


def _successor_ready(holder: str) -> bool:
    return WorkerLease.objects.filter(name=HANDOVER_ROW, holder=f"ready:{holder}").exists()


def _await_successor(holder: str, seconds: float) -> bool:
    """Sleep up to ``seconds``, looking for the successor; True as soon as it has come."""
    until = time.monotonic() + seconds
    while True:
        if _successor_ready(holder):
            return True
        left = until - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(HANDOVER_CHECK_SECONDS, left))


class Poller:
    """Status queries in flight, one thread pool per provider, answers applied by one thread.

    Pool threads do the network calls only; the thread that owns the poller applies every answer
    to the database (``apply_answers``). One writer means no lock contention on SQLite (whose busy
    handler backs off in coarse sleeps) and few connections on PostgreSQL, while the slow part,
    waiting for providers, still overlaps. Nothing waits for one query: a pass dispatches the due
    jobs and applies answers until its deadline, and a query that hangs keeps only its own pool
    thread. A job is never asked about twice at once: the claim (``lease_until``) keeps it from
    other pollers, ``in_flight`` from this one. After ``close`` a late answer is applied by the
    pool thread that got it.
    """

    def __init__(self) -> None:
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self._answers: queue_mod.SimpleQueue = queue_mod.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._local = threading.local()
        self.in_flight: dict[int, Future] = {}
        # A provider that answered 429 with Retry-After is asked nothing more until then.
        self._held_until: dict[int, float] = {}

    def _fetch(self, job: VideoJob):
        clients = self._local.__dict__.setdefault("clients", {})
        client = clients.get(job.provider_id)
        if client is None:
            client = clients[job.provider_id] = provider_client(job.provider)
        return poll.job_fetch_status(job=job, client=client)

    def _pool(self, provider) -> ThreadPoolExecutor:
        pool = self._pools.get(provider.pk)
        if pool is None:
            # One client per pool thread and provider: its connection is reused for every job
            # the thread polls (clients are not shared between threads).
            pool = self._pools[provider.pk] = ThreadPoolExecutor(
                max_workers=max(1, min(provider.concurrency_limit, MAX_POLL_THREADS)),
                thread_name_prefix=f"poll-{provider.pk}",
            )
        return pool

    def dispatch(self, jobs: list[VideoJob]) -> int:
        """Send the claimed ``jobs``' status queries; returns how many were sent."""
        sent = 0
        held: dict[int, list[int]] = {}
        for job in jobs:
            if job.pk in self.in_flight:
                continue  # asked already; its answer is on the way
            if self._held_until.get(job.provider_id, 0.0) > time.monotonic():
                held.setdefault(job.provider_id, []).append(job.pk)
                continue
            future = self._pool(job.provider).submit(self._fetch, job)
            self.in_flight[job.pk] = future
            future.add_done_callback(partial(self._answered, job))
            sent += 1
        for provider_id, job_ids in held.items():
            _unclaim(job_ids, after=self._held_until[provider_id] - time.monotonic())
        return sent

    def _answered(self, job: VideoJob, future: Future) -> None:
        with self._lock:
            if not self._closed:
                self._answers.put((job, future))
                return
        # The poller was closed while this query hung: apply its answer here, in the pool thread.
        try:
            self._apply(job, future)
        finally:
            connection.close()

    def _apply(self, job: VideoJob, future: Future) -> None:
        if future.cancelled():
            return
        try:
            outcome = future.result()
            if isinstance(outcome, ProviderError) and outcome.retry_after:
                self._held_until[job.provider_id] = time.monotonic() + outcome.retry_after
            poll.job_apply_poll(job=job, outcome=outcome)
        except Exception:
            logger.exception("job %s: unexpected error while polling", job.pk)

    def apply_answers(self, *, until: float, awaited: set[int] | None = None) -> int:
        """Apply answers as they come until the monotonic time ``until``, or until none of the
        ``awaited`` jobs (default: every job in flight) is still out."""

        def waiting() -> bool:
            if awaited is None:
                return bool(self.in_flight)
            return any(pk in self.in_flight for pk in awaited)

        applied = 0
        while waiting():
            try:
                job, future = self._answers.get(timeout=max(0.0, until - time.monotonic()))
            except queue_mod.Empty:
                break
            self.in_flight.pop(job.pk, None)
            self._apply(job, future)
            applied += 1
            if time.monotonic() >= until:
                break
        while True:  # whatever else is in already, without waiting
            try:
                job, future = self._answers.get_nowait()
            except queue_mod.Empty:
                return applied
            self.in_flight.pop(job.pk, None)
            self._apply(job, future)
            applied += 1

    def run_pass(self, *, deadline: float | None) -> int:
        """Claim the due jobs, ask about them, and apply answers until this pass's are all in or
        ``deadline`` seconds have passed (None: until all are in); a straggler of an earlier pass
        is not waited for. Returns how many queries were sent."""
        before = set(self.in_flight)
        sent = self.dispatch(poll.jobs_claim_due_polls())
        awaited = set(self.in_flight) - before
        until = math.inf if deadline is None else time.monotonic() + deadline
        while any(pk in self.in_flight for pk in awaited) and time.monotonic() < until:
            self.apply_answers(until=min(until, time.monotonic() + 1.0), awaited=awaited)
        return sent

    def close(self) -> None:
        """Stop: queries not started yet are dropped (their jobs due again), running ones finish
        in the background and apply their own answers."""
        with self._lock:
            self._closed = True
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        while True:
            try:
                job, future = self._answers.get_nowait()
            except queue_mod.Empty:
                break
            self._apply(job, future)
        dropped = [pk for pk, f in self.in_flight.items() if f.cancelled()]
        if dropped:
            _unclaim(dropped)
        self.in_flight.clear()

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unclaim(job_ids: list[int], *, after: float = 0.0) -> None:
    """Claimed jobs that were not asked about after all: due again ``after`` seconds from now."""
    VideoJob.objects.filter(pk__in=job_ids, state__in=AT_PROVIDER_STATES).update(
        lease_until=None, next_poll_at=timezone.now() + timedelta(seconds=max(0.0, after))
    )


def poll_pass(*, deadline: float | None = None) -> int:
    """Poll every due job once, each provider within its concurrency limit. Returns the count.

    Without a ``deadline`` every answer is applied before it returns; with one, queries still out
    then finish in the background and apply their own answers.
    """
    with Poller() as poller:
        return poller.run_pass(deadline=deadline)


def _seconds_until_next_due() -> float | None:
    nxt = (
        VideoJob.objects.filter(state__in=AT_PROVIDER_STATES, next_poll_at__isnull=False)
        .order_by("next_poll_at")
        .values_list("next_poll_at", flat=True)
        .first()
    )
    if nxt is None:
        return None
    return max(0.0, (nxt - timezone.now()).total_seconds())


def poll_loop(patience: float = 0.0, successor_of: str = "") -> dict:
    """Poll due jobs until the time budget is spent; see the module docstring.

    ``patience``: how long to wait for a lease whose holder may be dead (a fresh worker's loop),
    or, with ``successor_of`` (the holder of the loop this one replaces), for that loop to let go.
    """
    holder = lease.new_holder()
    budget = settings.SORAWEB_POLL_LOOP_SECONDS
    if successor_of and not _successor_here(successor_of):
        successor_of = ""  # that loop is gone already, or another successor came first
    if not _lease_acquire(holder, patience=patience, successor_of=successor_of):
        return {"ran": False}
    held_from = time.time()
    started = time.monotonic()
    polled = passes = 0
    asked = handed = False  # for a successor; it has come
    can_ask = budget > 0 and queue.worker_count() > 1
    wait_for_successor = min(HANDOVER_WAIT_SECONDS, budget)
    heartbeat = lease.Heartbeat(POLL_LEASE, holder).__enter__()
    poller = Poller()
    try:
        while True:
            recover.jobs_recover()
            outage.providers_probe_unreachable()
            polled += poller.run_pass(deadline=PASS_DEADLINE)
            passes += 1
            elapsed = time.monotonic() - started
            if heartbeat.lost.is_set():
                break
            wait = _seconds_until_next_due()
            if elapsed >= budget:
                if budget <= 0:
                    break
                if can_ask and not asked:
                    asked = _successor_wanted(holder)
                if asked and elapsed < budget + wait_for_successor:
                    handed = _successor_ready(holder)
                    if handed:
                        break
                else:
                    # No successor (yet): hand over in a quiet moment, as the next loop takes a
                    # second or so to start and a job due meanwhile would wait for it.
                    quiet = wait is None or wait >= HANDOVER_QUIET_SECONDS
                    grace = budget + HANDOVER_GRACE_SECONDS + (wait_for_successor if asked else 0)
                    if quiet or elapsed >= grace:
                        break
            if (
                wait is None
                and not poller.in_flight
                and not VideoJob.objects.filter(state__in=ACTIVE_STATES).exists()
            ):
                break
            # Until the next job is due, but at least once a second so that new jobs, refresh
            # clicks and webhooks are picked up quickly; answers of queries still out are
            # applied the moment they come.
            pause = min(1.0, wait if wait is not None else 1.0)
            if elapsed < budget:
                pause = min(pause, budget - elapsed)
            if poller.in_flight:
                poller.apply_answers(until=time.monotonic() + pause)
            elif asked and elapsed < budget + wait_for_successor:
                handed = _await_successor(holder, pause)  # it waits on this loop: let go soon
                if handed:
                    break
            else:
                time.sleep(pause)
            close_old_connections()
    finally:
        # Queries still out finish in the background: the lease is not held for them (their
        # jobs stay claimed until their answers are applied, so the next loop does not ask too).
        # Handing over to a successor that waits: no waiting for answers (those still out are
        # applied by the threads that get them, after close).
        poller.apply_answers(until=time.monotonic() + (0.0 if handed else PASS_DEADLINE))
        poller.close()
        # Taken inside the hold (before the release), as held_from is after the acquire.
        held_until = time.time()
        heartbeat.__exit__()
        if not heartbeat.lost.is_set():
            _lease_release(holder)
    # Hand over if work remains (unless a successor took over). The lease is released first, so
    # a loop enqueued meanwhile by a new job is not turned away while this one is on its way out.
    if budget > 0 and not handed and VideoJob.objects.filter(state__in=ACTIVE_STATES).exists():
        queue.enqueue("poll_loop")
    # When this loop held the lease (wall clock): loops of several workers can be checked for
    # overlap from their task results alone.
    return {
        "ran": True,
        "passes": passes,
        "polled": polled,
        "held": [held_from, held_until],
        "holder": holder,
        "handed_over": handed,
    }
