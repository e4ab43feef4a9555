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
    for pk in rearchive:
        queue.enqueue("archive_job", pk)
    return {
        "resubmitted": resubmit,
        "rearchived": rearchive,
        "interrupted": [j.pk for j in interrupted],
    }
