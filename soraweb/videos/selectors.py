"""Reads: the queries pages use, shaped so a page costs a fixed number of SQL queries."""

from __future__ import annotations

from django.db.models import QuerySet

from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel


def _with_related(qs: QuerySet[VideoJob]) -> QuerySet[VideoJob]:
    return qs.select_related("owner", "prompt", "video_model", "provider")


def jobs_for_owner(*, owner, limit: int = 30) -> list[VideoJob]:
    return list(
        _with_related(VideoJob.objects.filter(owner=owner)).order_by("-created_at", "-id")[:limit]
    )


def job_get(*, pk: int) -> VideoJob | None:
    return _with_related(VideoJob.objects.filter(pk=pk)).first()


def gallery_list(*, page: int = 1, per_page: int = 24) -> tuple[list[VideoJob], bool]:
    """One page of finished videos, newest first, and whether there is a next page."""
    start = (max(1, page) - 1) * per_page
    rows = list(
        _with_related(VideoJob.objects.filter(state=JobState.SUCCEEDED)).order_by(
            "-finished_at", "-id"
        )[start : start + per_page + 1]
    )
    return rows[:per_page], len(rows) > per_page


def catalogue_models() -> list[VideoModel]:
    return list(
        VideoModel.objects.filter(enabled=True, provider__enabled=True).select_related("provider")
    )


def demo_provider_in_use() -> bool:
    """True while any usable model is served by the built-in simulator."""
    return any(
        p.is_simulator
        for p in Provider.objects.filter(
            enabled=True, from_environment=True, models__enabled=True
        ).distinct()
    )
