"""The poll loop and its lease.

Polling has two layers: a django-q2 schedule runs ``poll_loop`` every minute as the safety net,
and each accepted job also enqueues ``poll_loop`` at once. The loop holds a lease (one loop at a
time, across workers and machines), polls whatever is due, sleeps until the next job is due, and
before its time budget ends hands over to a fresh task if work remains. So a finished job is
noticed within about one poll interval, not within the schedule's minute.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from soraweb.videos.models import ACTIVE_STATES, AT_PROVIDER_STATES, VideoJob, WorkerLease
from soraweb.videos.pipeline import poll, queue, recover
from soraweb.videos.pipeline.common import provider_client

logger = logging.getLogger(__name__)

POLL_LEASE = "poll-loop"


def _lease_seconds() -> float:
    # Long enough to outlast one pass whose slowest request runs to the read timeout, so a
    # second loop cannot start while the first is still inside a pass.
    return max(20.0, settings.SORAWEB_PROVIDER_READ_TIMEOUT + 15.0)


MAX_POLL_THREADS = 32


def _lease_acquire(holder: str) -> bool:
    now = timezone.now()
    until = now + timedelta(seconds=_lease_seconds())
    WorkerLease.objects.get_or_create(
        name=POLL_LEASE, defaults={"until": now - timedelta(seconds=1)}
    )
    taken = WorkerLease.objects.filter(name=POLL_LEASE, until__lt=now).update(
        holder=holder, until=until
    )
    return bool(taken)


def _lease_renew(holder: str) -> bool:
    until = timezone.now() + timedelta(seconds=_lease_seconds())
    return bool(WorkerLease.objects.filter(name=POLL_LEASE, holder=holder).update(until=until))


def _lease_release(holder: str) -> None:
    WorkerLease.objects.filter(name=POLL_LEASE, holder=holder).update(
        until=timezone.now() - timedelta(seconds=1)
    )


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


def poll_loop() -> dict:
    """Poll due jobs until the time budget is spent; see the module docstring."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:6]}"
    budget = settings.SORAWEB_POLL_LOOP_SECONDS
    if not _lease_acquire(holder):
        return {"ran": False}
    started = time.monotonic()
    polled = passes = 0
    try:
        while True:
            recover.jobs_recover()
            polled += poll_pass()
            passes += 1
            elapsed = time.monotonic() - started
            if elapsed >= budget or not _lease_renew(holder):
                break
            wait = _seconds_until_next_due()
            if wait is None and not VideoJob.objects.filter(state__in=ACTIVE_STATES).exists():
                break
            # Sleep until the next job is due, but wake at least once a second so that new
            # jobs, refresh clicks and webhooks are picked up quickly.
            time.sleep(min(1.0, wait if wait is not None else 1.0, max(0.0, budget - elapsed)))
            close_old_connections()
    finally:
        _lease_release(holder)
    # Hand over if work remains. The lease is released first, so a loop enqueued meanwhile by a
    # new job is not turned away while this one is on its way out.
    if budget > 0 and VideoJob.objects.filter(state__in=ACTIVE_STATES).exists():
        queue.enqueue("poll_loop")
    return {"ran": True, "passes": passes, "polled": polled}
