"""Sending a pending job to its provider, exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from soraweb.providers.base import CreateRequest, ImageInput, JobStatus, ProviderError
from soraweb.videos.images import fit_image
from soraweb.videos.models import JobState, VideoJob
from soraweb.videos.pipeline.common import (
    provider_client,
    reference_fit_for,
)
from soraweb.videos.pipeline.outcome import Step, job_apply_answer

logger = logging.getLogger(__name__)


def _create_request(job: VideoJob) -> CreateRequest:
    images = []
    fit, frame = reference_fit_for(job)
    for image in job.images.all().order_by("id"):
        with image.file.open("rb") as fh:
            data = fh.read()
        content_type = image.content_type
        # Sent inline (a data: URL, or a file for multipart formats): nothing of ours has to be
        # reachable from the provider, and no public address can leak a team's pictures.
        url = None
        if fit and frame and (image.width, image.height) != frame:
            # The stored original stays as uploaded; the provider gets a copy cut to the frame.
            data, content_type = fit_image(data, size=frame, mode=fit)
        images.append(
            ImageInput(
                filename=image.original_name or f"{image.sha256}.png",
                content_type=content_type,
                data=data,
                url=url,
            )
        )
    return CreateRequest(
        model=job.model_name,
        prompt=job.prompt.text,
        orientation=job.orientation,
        size=job.size,
        duration=job.duration,
        images=tuple(images),
    )


def job_submit(*, job_id: int) -> None:
    """Send a pending job to its provider, exactly once."""
    job = VideoJob.objects.select_related("provider", "prompt").filter(pk=job_id).first()
    if job is None or job.state != JobState.PENDING:
        return
    now = timezone.now()
    claimed = job.transition(
        JobState.SUBMITTING,
        message="Sending to the provider",
        lease_until=now + timedelta(seconds=settings.SORAWEB_SUBMIT_LEASE_SECONDS),
        submit_attempts=F("submit_attempts") + 1,
        next_poll_at=None,
    )
    if not claimed:
        return
    job.refresh_from_db(fields=["submit_attempts"])
    client = provider_client(job.provider)

    def on_progress(status: JobStatus) -> None:
        # Long streams report progress as they go; keep the card moving and the lease fresh.
        VideoJob.objects.filter(pk=job.pk, state=JobState.SUBMITTING).update(
            progress=status.progress or 0,
            raw_status=status.raw_status[:100],
            lease_until=timezone.now() + timedelta(seconds=settings.SORAWEB_SUBMIT_LEASE_SECONDS),
        )

    try:
        if job.remix_remote_id:
            result = client.remix(job.remix_remote_id, job.prompt.text)
        else:
            result = client.create(_create_request(job), on_progress=on_progress)
    except ProviderError as exc:
        job_apply_answer(job=job, answer=exc, step=Step.SUBMIT)
        return
    except Exception as exc:  # a bug must not leave the job spinning forever
        logger.exception("job %s: unexpected error while submitting", job.pk)
        job.transition(
            JobState.NEEDS_ATTENTION,
            message=f"Unexpected error while starting: {type(exc).__name__}",
            error_message=_(
                "Something went wrong while starting this video. An administrator can check the job's history."
            ),
        )
        return
    job_apply_answer(job=job, answer=result.status, step=Step.SUBMIT, remote_id=result.remote_id)
