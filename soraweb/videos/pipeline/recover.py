"""The sweep: jobs whose background step was lost (a worker killed, the broker down)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from soraweb.videos.causes import Cause
from soraweb.videos.models import JobState, VideoJob
from soraweb.videos.pipeline import queue

logger = logging.getLogger(__name__)

# A save handed to the worker again is not handed again for REARCHIVE_AGAIN_SECONDS (the mark
# is ``next_poll_at``, unused while saving), and while the queue is backlogged (at least as many
# tasks waiting as there are workers) for REARCHIVE_BACKLOGGED_SECONDS; a save never claimed yet
# is then not handed over at all the first time round, only marked: its task most likely still
# waits in that queue. The sweep runs on every pass of the poll loop, and a backlog of saves (100
# chat streams finishing together in one worker) otherwise grew by a copy of every waiting save
# each pass (1,273 queued copies), each copy delaying everything behind it, the poll loop's own
# hand-over among them. A claimed save (lease set: its task ran) has nothing left in the queue and
# is handed over again once its lease or retry delay is over, as before.
REARCHIVE_AGAIN_SECONDS = 60
REARCHIVE_BACKLOGGED_SECONDS = 600


def jobs_recover(*, now=None) -> dict[str, list[int]]:
    """Find jobs whose background step was lost (worker killed) and hand them on again."""
    now = now or timezone.now()
    resubmit = list(
        VideoJob.objects.filter(state=JobState.PENDING, next_poll_at__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    lost_saves = list(
        VideoJob.objects.filter(state=JobState.ARCHIVING)
        .filter(
            Q(lease_until__lt=now)
            | Q(lease_until__isnull=True, provider_completed_at__lt=now - timedelta(seconds=15))
        )
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("pk", "lease_until", "next_poll_at")[:500]
    )
    backlogged = bool(lost_saves) and queue.waiting_tasks() >= queue.worker_count()
    rearchive = [
        pk
        for pk, lease_until, marked in lost_saves
        if not (backlogged and lease_until is None and marked is None)
    ]
    if lost_saves:
        again = REARCHIVE_BACKLOGGED_SECONDS if backlogged else REARCHIVE_AGAIN_SECONDS
        VideoJob.objects.filter(
            pk__in=[pk for pk, *_ in lost_saves], state=JobState.ARCHIVING
        ).update(next_poll_at=now + timedelta(seconds=again))
    # A create that was under way when its worker died may or may not have reached the provider:
    # a person has to look, we never send it again on our own.
    interrupted = list(
        VideoJob.objects.filter(state=JobState.SUBMITTING, lease_until__lt=now).select_related(
            "provider"
        )[:500]
    )
    for job in interrupted:
        job.transition(
            JobState.NEEDS_ATTENTION,
            cause=Cause.WORKER_STOPPED,
            lease_until=None,
        )
    for pk in resubmit:
        if not queue.enqueue("submit_job", pk):
            # Broker still down: look again in a few seconds, not on every pass of the loop.
            VideoJob.objects.filter(pk=pk, state=JobState.PENDING).update(
                next_poll_at=now + timedelta(seconds=10)
            )
    for pk in rearchive:
        queue.enqueue("archive_job", pk)
    return {
        "resubmitted": resubmit,
        "rearchived": rearchive,
        "interrupted": [j.pk for j in interrupted],
    }
