from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from soraweb.ops.models import BudgetPolicy, LedgerEntry, LedgerStatus
from soraweb.videos.causes import history_line
from soraweb.videos.models import JobEvent, JobState, Prompt, VideoJob, VideoModel


def seeded_job(
    owner,
    *,
    state: str = JobState.SUCCEEDED,
    model: str = "sora-2",
    created_at: datetime | None = None,
    seconds: float | None = None,
    cost: str = "1.00",
    error: str = "",
    cause: str = "",
    prompt: str = "a seeded job",
    ledger: str | None = None,
    **fields,
) -> VideoJob:
    """A job written straight to the database, in a known state at a known time.

    ``seconds``: how long it took from created to finished. ``cause``: the ``Cause`` of the
    event that moved it into ``state`` (also kept on the job). ``ledger``: add a ledger entry with this status.
    """
    video_model = VideoModel.objects.get(name=model)
    created_at = created_at or timezone.now() - timedelta(minutes=5)
    finished_at = created_at + timedelta(seconds=seconds) if seconds is not None else None
    if finished_at is None and state not in (
        JobState.PENDING,
        JobState.SUBMITTING,
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.ARCHIVING,
    ):
        finished_at = created_at + timedelta(seconds=60)
    job = VideoJob.objects.create(
        owner=owner,
        prompt=Prompt.objects.create(text=prompt, author=owner),
        provider=fields.pop("provider", video_model.provider),
        video_model=video_model,
        model_name=video_model.name,
        orientation="landscape",
        size=fields.pop("size", video_model.sizes[0]),
        duration=fields.pop("duration", video_model.durations[0]),
        estimated_cost=Decimal(cost),
        state=state,
        error_message=error,
        cause=cause,
        created_at=created_at,
        finished_at=finished_at,
        **fields,
    )
    JobEvent.objects.create(job=job, at=created_at, to_state=JobState.PENDING, message="Created")
    if state != JobState.PENDING:
        JobEvent.objects.create(
            job=job,
            at=finished_at or created_at,
            from_state=JobState.RUNNING,
            to_state=state,
            cause=cause,
            message=history_line(cause) if cause else "seeded",
        )
    if ledger:
        LedgerEntry.objects.create(
            job=job,
            user=owner,
            username=owner.get_username(),
            video_model=video_model,
            model_name=video_model.display_name,
            provider=video_model.provider,
            amount=Decimal(cost),
            status=ledger,
            created_at=created_at,
        )
    return job


@pytest.fixture
def budget(db):
    """The team budget row, limits cleared; tests set the ones they need."""
    policy = BudgetPolicy.load()
    policy.team_daily_limit = policy.team_monthly_limit = None
    policy.user_daily_limit = policy.user_monthly_limit = None
    policy.save()
    return policy


__all__ = ["LedgerStatus", "seeded_job"]
