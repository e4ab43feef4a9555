"""The one way tests make a job row, and the one way they make a job through the service.

``job_row`` writes a VideoJob straight to the database (no pipeline, no provider): a landscape
``sora-2`` job that has succeeded, with nothing else unless asked for. Every extra is an
explicit keyword: ``seconds`` (finished that long after it was created), ``cost``, ``events``
(its history), ``ledger`` (a ledger entry) and ``with_video`` (a video and a poster file).
Any other keyword is a VideoJob field.

``service_job`` makes a job the way a person does, through ``services.job_create``.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from soraweb.videos import services
from soraweb.videos.models import JobState, VideoJob, VideoModel

__all__ = ["ago", "job_fields", "job_row", "seeded_model", "service_job"]


def ago(**delta: float) -> datetime:
    """Now minus a ``timedelta(**delta)``: ``ago(minutes=5)``."""
    return timezone.now() - timedelta(**delta)


def seeded_model(name: str = "sora-2") -> VideoModel:
    """The seeded model ``name`` of the provider configured from the environment."""
    return VideoModel.objects.get(name=name, provider__from_environment=True)


def job_fields(
    owner,
    video_model: VideoModel | None = None,
    *,
    model: str = "sora-2",
    text: str = "a job",
    state: str = JobState.SUCCEEDED,
    orientation: str = "landscape",
    **fields: Any,
) -> dict[str, Any]:
    """Keyword arguments for ``VideoJob.objects.create`` (creates the prompt row)."""
    from soraweb.videos.models import Prompt

    vm = video_model or seeded_model(model)
    return {
        "owner": owner,
        "prompt": Prompt.objects.create(text=text, author=owner),
        "provider": vm.provider,
        "video_model": vm,
        "model_name": vm.name,
        "orientation": orientation,
        "size": vm.sizes[0],
        "duration": vm.durations[0],
        "state": state,
        **fields,
    }


def job_row(
    owner,
    video_model: VideoModel | None = None,
    *,
    model: str = "sora-2",
    text: str = "a job",
    state: str = JobState.SUCCEEDED,
    orientation: str = "landscape",
    created_at: datetime | None = None,
    seconds: float | None = None,
    cost: str | None = None,
    events: bool = False,
    ledger: str | None = None,
    with_video: bool = False,
    **fields: Any,
) -> VideoJob:
    """A job written straight to the database.

    ``video_model`` (or the seeded ``model`` by name); ``text``: its prompt.
    ``created_at``: when it was made (default now). ``seconds``: finished that many seconds
    after ``created_at`` (default: no ``finished_at``, unless passed as a field).
    ``cost``: its estimated cost, e.g. ``"1.00"`` (default the model's default, 0).
    ``events``: add its history, "Created" (to pending) at ``created_at`` and, unless it is
    pending, a move from running into ``state`` at its finish (or creation) with its ``cause``.
    ``ledger``: add a ledger entry with this status for its estimated cost, dated ``created_at``.
    ``with_video``: save a small video and a JPEG poster file on it.
    """
    from soraweb.ops.models import LedgerEntry
    from soraweb.videos.causes import history_line
    from soraweb.videos.models import JobEvent

    vm = video_model or seeded_model(model)
    created_at = created_at or timezone.now()
    if seconds is not None:
        assert "finished_at" not in fields, "pass seconds or finished_at, not both"
        fields["finished_at"] = created_at + timedelta(seconds=seconds)
    if cost is not None:
        fields["estimated_cost"] = Decimal(cost)
    job = VideoJob.objects.create(
        **job_fields(
            owner,
            vm,
            text=text,
            state=state,
            orientation=orientation,
            created_at=created_at,
            **fields,
        )
    )
    if events:
        JobEvent.objects.create(
            job=job, at=created_at, to_state=JobState.PENDING, message="Created"
        )
        if state != JobState.PENDING:
            JobEvent.objects.create(
                job=job,
                at=job.finished_at or created_at,
                from_state=JobState.RUNNING,
                to_state=state,
                cause=job.cause,
                message=history_line(job.cause) if job.cause else "seeded",
            )
    if ledger:
        LedgerEntry.objects.create(
            job=job,
            user=owner,
            username=owner.get_username(),
            video_model=vm,
            model_name=vm.display_name,
            provider=vm.provider,
            amount=job.estimated_cost,
            status=ledger,
            created_at=created_at,
        )
    if with_video:
        poster = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 30)).save(poster, "JPEG")
        job.video.save("v.mp4", ContentFile(b"\0\0\0\x18ftypmp42fake"), save=False)
        job.poster.save("p.jpg", ContentFile(poster.getvalue()), save=False)
        job.save(update_fields=["video", "poster"])
    return job


def seeded_row(owner, video_model: VideoModel | None = None, **fields: Any) -> VideoJob:
    """``job_row`` as the operations tests seed jobs: prompt "a seeded job", an estimate of
    1.00 and its history (``events``); any of them can still be given."""
    return job_row(
        owner, video_model, **{"text": "a seeded job", "cost": "1.00", "events": True, **fields}
    )


def service_job(owner, prompt: str, model: str = "sora-2", **kwargs: Any) -> VideoJob:
    """A job made through ``services.job_create``: portrait, the model's first size and
    duration unless given; any other keyword goes to ``job_create``."""
    video_model = VideoModel.objects.get(name=model)
    params = {
        "orientation": "portrait",
        "size": video_model.sizes[0],
        "duration": video_model.durations[0],
    }
    params.update(kwargs)
    return services.job_create(owner=owner, video_model=video_model, prompt_text=prompt, **params)
