"""Sending a pending job to its provider, exactly once."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from soraweb.catalogue import wire
from soraweb.ops.redaction import provider_secrets
from soraweb.providers.base import (
    CreateRequest,
    CreateResult,
    ImageInput,
    JobStatus,
    ProviderError,
    VideoProvider,
)
from soraweb.providers.common import image_url
from soraweb.videos.causes import Cause
from soraweb.videos.images import fit_image
from soraweb.videos.models import JobEvent, JobState, SentImage, VideoJob
from soraweb.videos.params import assign_slots, job_values, mask_body
from soraweb.videos.pipeline import outage, streams
from soraweb.videos.pipeline.common import (
    provider_client,
    reference_fit_for,
)
from soraweb.videos.pipeline.outcome import Step, job_apply_answer

logger = logging.getLogger(__name__)


def _create_request(job: VideoJob) -> CreateRequest:
    """The create call for a job: the body its catalogue mapping writes for the provider's
    format, with each slot's pictures inline (fitted to the frame where the format needs it)."""
    spec = job.video_model.sold_spec()
    if spec is None:
        raise ProviderError(
            f"{job.video_model.display_name} is not sold in this provider's wire format.",
            permanent=True,
        )
    fmt = job.provider.config().wire_format.value
    values, slot_ids = job_values(job, spec)
    by_id = {image.pk: image for image in job.images.all()}
    if not slot_ids and by_id:  # a job whose pictures were never put in slots
        slot_ids = {
            slot: [image.pk for image in items]
            for slot, items in assign_slots(
                spec, sorted(by_id.values(), key=lambda i: i.pk)
            ).items()
            if slot != "__extra__"
        }
    try:
        frame_body = wire.build(spec, fmt, values, prompt=job.prompt.text).body
    except wire.WireError as exc:
        raise ProviderError(f"These settings cannot be sent: {exc}", permanent=True) from None
    fit, frame = reference_fit_for(job, body=frame_body, values=values)
    inputs: dict[str, list[ImageInput]] = {}
    for slot, ids in slot_ids.items():
        for position, pk in enumerate(ids):
            image = by_id.get(pk)
            if image is None:
                continue
            with image.file.open("rb") as fh:
                data = fh.read()
            content_type = image.content_type
            # Sent inline (a data: URL, or a file for multipart formats): nothing of ours has to
            # be reachable from the provider, and no public address can leak a team's pictures.
            if fit and frame and (image.width, image.height) != frame:
                # The stored original stays as uploaded; the provider gets a copy cut to the frame.
                data, content_type = fit_image(data, size=frame, mode=fit)
                _keep_sent_copy(job, slot, position, image, data, content_type, fit, frame)
            inputs.setdefault(slot, []).append(
                ImageInput(
                    filename=image.original_name or f"{image.sha256}.png",
                    content_type=content_type,
                    data=data,
                )
            )
    sent = wire.build(spec, fmt, values, prompt=job.prompt.text, inputs=inputs, url_of=image_url)
    return CreateRequest(
        model=sent.model,
        prompt=job.prompt.text,
        orientation=job.orientation,
        size=job.size,
        duration=job.duration,
        images=tuple(image for items in inputs.values() for image in items),
        body=sent.body,
        files=tuple(sent.files),
    )


def _keep_sent_copy(job, slot, position, image, data, content_type, fit, frame) -> None:
    """Store the fitted copy the provider gets, once per slot, for the job's page."""
    if SentImage.objects.filter(job=job, slot=slot, position=position).exists():
        return  # a second attempt sends the same copy
    ext = {"image/jpeg": ".jpg", "image/webp": ".webp"}.get(content_type, ".png")
    sent = SentImage(
        job=job,
        original=image,
        slot=slot,
        position=position,
        content_type=content_type,
        width=frame[0],
        height=frame[1],
        fit=fit,
    )
    sent.file.save(f"sent{ext}", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            sent.save()
    except IntegrityError:  # two workers raced: the other one kept it
        sent.file.delete(save=False)


def _log_wire_body(job: VideoJob, client: VideoProvider, request: CreateRequest) -> None:
    """Keep exactly what is sent (pictures shortened, secrets masked) on the "Sending to the
    provider" entry of the job's history, the step that sent it."""
    body_for = getattr(client, "wire_body", None)
    body = body_for(request) if body_for else request.body
    data = {
        "wire_format": job.provider.config().wire_format.value,
        "body": mask_body(body, provider_secrets(job.provider)),
        "files": [
            {"field": name, "name": image.filename, "bytes": len(image.data)}
            for name, image in request.files
        ],
    }
    event = job.events.filter(to_state=JobState.SUBMITTING).order_by("-id").first()
    if event is not None:
        JobEvent.objects.filter(pk=event.pk).update(data={**(event.data or {}), **data})


def job_submit(*, job_id: int) -> None:
    """Send a pending job to its provider, exactly once."""
    job = VideoJob.objects.select_related("provider", "prompt").filter(pk=job_id).first()
    if job is None or job.state != JobState.PENDING:
        return
    now = timezone.now()
    claimed = job.transition(
        JobState.SUBMITTING,
        cause=Cause.SENDING,
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
            outcome: CreateResult | BaseException = client.remix(
                job.remix_remote_id, job.prompt.text
            )
        else:
            request = _create_request(job)
            _log_wire_body(job, client, request)
            # A format whose create streams the whole generation (chat) is read by this
            # process's stream reader, so the worker is free at once (pipeline/streams.py).
            if not client.polls and streams.hand_over(
                job,
                client,
                request,
                record=job_apply_create,
                record_seconds=RECORD_CREATE_SECONDS,
            ):
                return
            outcome = client.create(request, on_progress=on_progress)
    except Exception as exc:
        outcome = exc
    job_apply_create(job=job, outcome=outcome)


def job_apply_create(*, job: VideoJob, outcome: CreateResult | BaseException) -> None:
    """Record how a create call ended, whether it ran in the task or in the stream reader.

    An answer is recorded (retrying while the database is away); a ProviderError goes to the
    outcome mapper, which parks an unknown outcome and never sends the create again.
    """
    if isinstance(outcome, CreateResult):
        _record_created_with_retry(job, outcome)
        return
    if isinstance(outcome, ProviderError):
        job_apply_answer(job=job, answer=outcome, step=Step.SUBMIT)
        return
    # A bug must not leave the job spinning forever.
    logger.error(
        "job %s: unexpected error while submitting",
        job.pk,
        exc_info=(type(outcome), outcome, outcome.__traceback__),
    )
    job.transition(
        JobState.NEEDS_ATTENTION,
        cause=Cause.UNEXPECTED,
        facts={"error_type": type(outcome).__name__},
    )


# After the provider accepted a create, how long to keep trying to record its answer while the
# database is unreachable (inside the task's time limit): the job was billed; its id must stay.
RECORD_CREATE_SECONDS = 300.0


def _record_created_with_retry(job: VideoJob, result: CreateResult) -> None:
    """Record the provider's answer to a create, retrying while the database is unreachable.

    The provider has created (and billed) the job: losing its id to a database blip would park a
    paid video in "Needs attention". So the write is retried with backoff until the database
    answers again (within ``RECORD_CREATE_SECONDS``); the id is in the log meanwhile.
    """
    deadline = time.monotonic() + RECORD_CREATE_SECONDS
    attempt = 0
    while True:
        if attempt and job.state != JobState.SUBMITTING:
            return  # the answer was recorded; what failed came after it
        try:
            _record_created(job, result, late=bool(attempt))
            return
        except (OperationalError, InterfaceError):
            attempt += 1
            if time.monotonic() > deadline or connection.in_atomic_block:
                logger.error(
                    "job %s: created at the provider as %s, but the database could not record it",
                    job.pk,
                    result.remote_id,
                )
                raise
            logger.warning(
                "job %s: created at the provider as %s; the database is unreachable, recording "
                "it again (try %d)",
                job.pk,
                result.remote_id,
                attempt,
                exc_info=attempt == 1,
            )
            connection.close()  # a broken connection is not reused; the next query reconnects
            time.sleep(min(5.0, 0.25 * 2**attempt))


def _record_created(job: VideoJob, result: CreateResult, *, late: bool = False) -> None:
    if late:
        current = VideoJob.objects.filter(pk=job.pk).values_list("state", "remote_id").first()
        if current and current[0] == JobState.NEEDS_ATTENTION and not current[1]:
            # The sweep gave up on this create while the database was away (its lease ran out):
            # keep the id the provider gave, so a person can find the video there.
            VideoJob.objects.filter(pk=job.pk, remote_id="").update(remote_id=result.remote_id)
            job.state = current[0]
            job.note(Cause.ACCEPTED_LATE, {"remote_id": result.remote_id})
            return
    if job.provider.unreachable_since is not None:
        outage.provider_mark_reachable(provider_id=job.provider_id)
    job_apply_answer(job=job, answer=result.status, step=Step.SUBMIT, remote_id=result.remote_id)
