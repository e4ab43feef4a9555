"""The poll loop and its lease.

Polling has two layers: a django-q2 schedule runs ``poll_loop`` every minute as the safety net,
and each accepted job also enqueues ``poll_loop`` at once. The loop holds a lease (one loop at a
time, across workers and machines), polls whatever is due, sleeps until the next job is due, and
before its time budget ends hands over to a fresh task if work remains. So a finished job is
noticed within about one poll interval, not within the schedule's minute. The lease is short and
renewed by a heartbeat (``soraweb.videos.lease``), so a loop whose worker was killed blocks the
next one for seconds, not for its whole budget.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from soraweb.videos import lease
from soraweb.videos.models import ACTIVE_STATES, AT_PROVIDER_STATES, VideoJob
from soraweb.videos.pipeline import outage, poll, queue, recover
from soraweb.videos.pipeline.common import provider_client

logger = logging.getLogger(__name__)

POLL_LEASE = "poll-loop"


MAX_POLL_THREADS = 32


def _lease_acquire(holder: str, *, patience: float = 0.0) -> bool:
    taken, previous = lease.acquire(POLL_LEASE, holder, patience=patience)
    if previous is not None:
        # Its holder died or stalled: the jobs it had claimed for a pass (pushed a minute on)
        # may never have been asked about. Ask about them now.
        pulled = VideoJob.objects.filter(
            state__in=AT_PROVIDER_STATES,
            next_poll_at__gt=timezone.now(),
            next_poll_at__lte=previous["until"] + timedelta(seconds=poll.POLL_CLAIM_SECONDS),
        ).update(next_poll_at=timezone.now())
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


def poll_pass() -> int:
    """Poll every due job once, each provider within its concurrency limit. Returns the count.

    Threads do the network calls only; this thread applies every answer to the database. One
    writer means no lock contention on SQLite (whose busy handler backs off in coarse sleeps) and
    few connections on PostgreSQL, while the slow part, waiting for providers, still overlaps.
    """
    due = poll.jobs_claim_due_polls()
    if not due:
        return 0
    by_provider: dict[int, list[VideoJob]] = {}
    for job in due:
        by_provider.setdefault(job.provider_id, []).append(job)
    # One client per pool thread and provider: its connection is reused for every job the
    # thread polls (clients are not shared between threads).
    local = threading.local()

    def fetch(job: VideoJob):
        clients = local.__dict__.setdefault("clients", {})
        client = clients.get(job.provider_id)
        if client is None:
            client = clients[job.provider_id] = provider_client(job.provider)
        return poll.job_fetch_status(job=job, client=client)

    pools = [
        ThreadPoolExecutor(
            max_workers=max(1, min(jobs[0].provider.concurrency_limit, MAX_POLL_THREADS)),
            thread_name_prefix="poll",
        )
        for jobs in by_provider.values()
    ]
    try:
        futures = {
            pool.submit(fetch, job): job
            for pool, jobs in zip(pools, by_provider.values(), strict=True)
            for job in jobs
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                poll.job_apply_poll(job=job, outcome=future.result())
            except Exception:
                logger.exception("job %s: unexpected error while polling", job.pk)
    finally:
        for pool in pools:
            pool.shutdown(wait=True)
    return len(due)


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


def poll_loop(patience: float = 0.0) -> dict:
    """Poll due jobs until the time budget is spent; see the module docstring.

    ``patience``: how long to wait for a lease whose holder may be dead (a fresh worker's loop).
    """
    holder = lease.new_holder()
    budget = settings.SORAWEB_POLL_LOOP_SECONDS
    if not _lease_acquire(holder, patience=patience):
        return {"ran": False}
    held_from = time.time()
    started = time.monotonic()
    polled = passes = 0
    heartbeat = lease.Heartbeat(POLL_LEASE, holder).__enter__()
    try:
        while True:
            recover.jobs_recover()
            outage.providers_probe_unreachable()
            polled += poll_pass()
            passes += 1
            elapsed = time.monotonic() - started
            if elapsed >= budget or heartbeat.lost.is_set():
                break
            wait = _seconds_until_next_due()
            if wait is None and not VideoJob.objects.filter(state__in=ACTIVE_STATES).exists():
                break
            # Sleep until the next job is due, but wake at least once a second so that new
            # jobs, refresh clicks and webhooks are picked up quickly.
            time.sleep(min(1.0, wait if wait is not None else 1.0, max(0.0, budget - elapsed)))
            close_old_connections()
    finally:
        # Taken inside the hold (before the release), as held_from is after the acquire.
        held_until = time.time()
        heartbeat.__exit__()
        if not heartbeat.lost.is_set():
            _lease_release(holder)
    # Hand over if work remains. The lease is released first, so a loop enqueued meanwhile by a
    # new job is not turned away while this one is on its way out.
    if budget > 0 and VideoJob.objects.filter(state__in=ACTIVE_STATES).exists():
        queue.enqueue("poll_loop")
    # When this loop held the lease (wall clock): loops of several workers can be checked for
    # overlap from their task results alone.
    return {"ran": True, "passes": passes, "polled": polled, "held": [held_from, held_until]}
