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

# A saving job handed to the worker again is not handed again for this long, even while its
# task still waits in the queue (``next_poll_at``, unused while saving, says until when): the
# sweep runs on every pass of the poll loop, and a backlog of saves (a burst of finished jobs,
# one busy worker) would otherwise add a copy of every waiting task each second, and each copy
# delays everything queued behind it (the poll loop's own hand-over among them).
REARCHIVE_AGAIN_SECONDS = 60


def jobs_recover(*, now=None) -> dict[str, list[int]]:
    """Find jobs whose background step was lost (worker killed) and hand them on again."""
    now = now or timezone.now()
    resubmit = list(
        VideoJob.objects.filter(state=JobState.PENDING, next_poll_at__lte=now).values_list(
            "pk", flat=True
        )[:500]
    )
    rearchive = list(
        VideoJob.objects.filter(state=JobState.ARCHIVING)
        .filter(
            Q(lease_until__lt=now)
            | Q(lease_until__isnull=True, provider_completed_at__lt=now - timedelta(seconds=15))
        )
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .values_list("pk", flat=True)[:500]
    )
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
    if rearchive:
        VideoJob.objects.filter(pk__in=rearchive, state=JobState.ARCHIVING).update(
            next_poll_at=now + timedelta(seconds=REARCHIVE_AGAIN_SECONDS)
        )
    for pk in rearchive:
        queue.enqueue("archive_job", pk)
    return {
        "resubmitted": resubmit,
        "rearchived": rearchive,
        "interrupted": [j.pk for j in interrupted],
    }
