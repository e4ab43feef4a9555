"""Handing work to the django-q2 worker: enqueue a task, kick the poll loop, hand a job over."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

from soraweb.providers.http import scrub
from soraweb.videos import lease
from soraweb.videos.causes import Cause, history_line, in_english
from soraweb.videos.models import JobEvent, JobState, VideoJob

logger = logging.getLogger(__name__)


def _broker_secrets() -> tuple[str, ...]:
    urls = [
        getattr(settings, "REDIS_URL", "") or "",
        Conf.REDIS if isinstance(Conf.REDIS, str) else "",
    ]
    parts = [urlsplit(url) for url in urls if url]
    return tuple(s for p in parts for s in (p.password, p.username) if s)


def enqueue(task: str, *args) -> bool:
    """Hand a task to the worker. Returns False, logged, when the broker cannot take it.

    Never raises: every caller runs after its rows were committed, so the work is saved and the
    sweep (``jobs_recover``, run by every poll pass) finds it again. Failing the request instead
    would make a person send the form again, and pay twice.
    """
    try:
        async_task(f"soraweb.videos.tasks.{task}", *args, task_name=f"{task}{args or ''}")
    except Exception as exc:  # any broker: Redis refused, ORM broker's database gone, ...
        logger.warning(
            "could not hand %s%s to the worker (%s: %s); the sweep will pick it up",
            task,
            args or "",
            type(exc).__name__,
            scrub(str(exc), _broker_secrets())[:300],
        )
        return False
    return True


_broker = None


def waiting_tasks() -> int:
    """Tasks waiting in the broker's queue, not yet taken by a worker (0 when unknown)."""
    if Conf.SYNC:
        return 0
    global _broker
    try:
        _broker = _broker or get_broker()
        return int(_broker.queue_size() or 0)
    except Exception:  # the broker is away: as if empty (the sweep then hands work over)
        logger.debug("could not read the queue's size", exc_info=True)
        return 0


def worker_count() -> int:
    return max(1, int(Conf.WORKERS or 1))


def kick_poll_loop() -> None:
    """Start the poll loop now rather than at the next schedule tick.

    Not in sync mode (tests): there a task runs inline inside whatever enqueued it, so a kicked
    loop would nest inside the submit that kicked it, and every inline task runs through
    worker(), whose post_spawn would kick again without end. Tests drive polling themselves.
    """
    if not Conf.SYNC:
        enqueue("poll_loop")


def kick_poll_loop_on_spawn(sender=None, proc_name: str = "", **kwargs) -> None:
    try:
        # A fresh worker may be replacing one that was killed holding the lease: this loop
        # waits for such a lease (seconds) instead of leaving polling to the next schedule tick.
        if not Conf.SYNC:
            enqueue("poll_loop", lease.lease_seconds() + 2)
    except Exception:  # a worker must start even if the database is briefly unavailable
        logger.warning("could not start the poll loop from %s", proc_name, exc_info=True)


# The JobEvent data that marks a job whose hand-over to the worker failed (see _hand_over).
HANDOVER_FAILED = {"handover": "failed"}


def hand_over(task: str, job_id: int) -> None:
    """Give a committed job's next step to the worker, after commit.

    When the broker cannot take it, the job is already saved: it is marked due at once so the
    sweep (``jobs_recover``, run by every poll pass) hands it over as soon as a worker runs,
    and its history says it waits for the worker, which is what its page tells the person.
    """
    if enqueue(task, job_id):
        return
    now = timezone.now()
    try:
        if task == "submit_job":
            state = JobState.PENDING
            waiting = VideoJob.objects.filter(pk=job_id, state=state).update(next_poll_at=now)
        elif task == "archive_job":
            state = JobState.ARCHIVING
            waiting = VideoJob.objects.filter(
                pk=job_id, state=state, lease_until__isnull=True
            ).update(lease_until=now)
        else:  # a poll: next_poll_at is already due, the poll loop takes it
            return
        if waiting:
            JobEvent.objects.create(
                job_id=job_id,
                from_state=state,
                to_state=state,
                cause=Cause.WORKER_UNREACHABLE,
                message=in_english(history_line, Cause.WORKER_UNREACHABLE),
                data=HANDOVER_FAILED,
            )
    except Exception:  # the request that saved the job must still succeed
        logger.exception("job %s: could not record the failed hand-over", job_id)
