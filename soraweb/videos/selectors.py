"""Reads: the queries pages use, shaped so a page costs a fixed number of SQL queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from soraweb.providers import ProviderError, make_client, openai_size
from soraweb.videos.models import (
    Favourite,
    JobState,
    Provider,
    ReferenceImage,
    Review,
    VideoJob,
    VideoModel,
)

# Wire formats whose create call refuses a reference image that is not exactly the video's size.


def _with_related(qs: QuerySet[VideoJob]) -> QuerySet[VideoJob]:
    return qs.select_related("owner", "prompt", "video_model", "provider")


def jobs_for_owner(*, owner, limit: int = 30) -> list[VideoJob]:
    return list(
        _with_related(VideoJob.objects.filter(owner=owner)).order_by("-created_at", "-id")[:limit]
    )


def job_for_idempotency_key(*, owner, key: str | None) -> VideoJob | None:
    """The job this person's earlier request with ``key`` made, if any (a resent form)."""
    if not key:
        return None
    return _with_related(VideoJob.objects.filter(owner=owner, idempotency_key=key)).first()


def job_waiting_for_worker(*, job: VideoJob) -> bool:
    """True while a saved job waits because the worker could not be reached to take it."""
    if job.state not in (JobState.PENDING, JobState.ARCHIVING):
        return False
    last = job.events.order_by("-at", "-id").values_list("data", flat=True).first()
    return isinstance(last, dict) and last.get("handover") == "failed"


def job_get(*, pk: int) -> VideoJob | None:
    return _with_related(VideoJob.objects.filter(pk=pk)).first()


# --- Gallery --------------------------------------------------------------------------------------

SORTS = {
    "newest": ("-finished_at", "-id"),
    "oldest": ("finished_at", "id"),
    "longest": ("-duration", "-finished_at", "-id"),
}


@dataclass(frozen=True)
class GalleryFilters:
    q: str = ""
    model: int | None = None
    author: int | None = None
    review: str = ""
    orientation: str = ""
    date_from: date | None = None
    date_to: date | None = None
    favourites: bool = False
    sort: str = "newest"

    @property
    def active(self) -> bool:
        return self != GalleryFilters(sort=self.sort)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def gallery_list(
    *, viewer=None, filters: GalleryFilters | None = None, page: int = 1, per_page: int = 24
) -> tuple[list[VideoJob], bool]:
    """One page of finished videos and whether there is a next page.

    One query whatever the page or the number of jobs: the owner, prompt and model come by join,
    and whether the viewer marked each video a favourite by an EXISTS per row of the page.
    """
    f = filters or GalleryFilters()
    qs = VideoJob.objects.filter(state=JobState.SUCCEEDED).exclude(video="")
    if f.q:
        for word in f.q.split()[:8]:
            qs = qs.filter(prompt__text__icontains=word)
    if f.model:
        qs = qs.filter(video_model_id=f.model)
    if f.author:
        qs = qs.filter(owner_id=f.author)
    if f.review:
        qs = qs.filter(review_state=f.review)
    if f.orientation:
        qs = qs.filter(orientation=f.orientation)
    if f.date_from:
        qs = qs.filter(finished_at__gte=_day_start(f.date_from))
    if f.date_to:
        qs = qs.filter(finished_at__lt=_day_start(f.date_to + timedelta(days=1)))
    if viewer is not None and viewer.is_authenticated:
        mine = Favourite.objects.filter(job=OuterRef("pk"), user=viewer)
        qs = qs.annotate(is_favourite=Exists(mine))
        if f.favourites:
            qs = qs.filter(is_favourite=True)
    start = (max(1, page) - 1) * per_page
    rows = list(
        qs.select_related("owner", "prompt", "video_model")
        .only(
            "id",
            "orientation",
            "duration",
            "finished_at",
            "review_state",
            "poster",
            "video",
            "owner__username",
            "prompt__text",
            "video_model__display_name",
        )
        .order_by(*SORTS.get(f.sort, SORTS["newest"]))[start : start + per_page + 1]
    )
    return rows[:per_page], len(rows) > per_page


def gallery_choices() -> dict:
    """What the gallery's filter menus offer: every model and every active team member."""
    return {
        "models": list(VideoModel.objects.only("id", "display_name").order_by("display_name")),
        "authors": list(
            get_user_model()
            .objects.filter(is_active=True)
            .only("id", "username")
            .order_by("username")
        ),
    }


# --- One job --------------------------------------------------------------------------------------


def job_reviews(*, job: VideoJob) -> list[Review]:
    return list(job.reviews.select_related("reviewer").order_by("created_at", "id"))


def job_latest_decision(*, job: VideoJob) -> Review | None:
    return (
        job.reviews.exclude(decision="comment")
        .select_related("reviewer")
        .order_by("-created_at", "-id")
        .first()
    )


def job_is_favourite(*, job: VideoJob, user) -> bool:
    return Favourite.objects.filter(job=job, user=user).exists()


def job_images(*, job: VideoJob) -> list[ReferenceImage]:
    return list(job.images.order_by("id"))


def prompt_history(*, owner, limit: int = 8) -> list[VideoJob]:
    """The person's recent prompts, each once, with the latest job that used it."""
    seen: set[str] = set()
    jobs = []
    recent = (
        VideoJob.objects.filter(owner=owner)
        .select_related("prompt", "video_model")
        .order_by("-created_at", "-id")[: limit * 5]
    )
    for job in recent:
        key = " ".join(job.prompt.text.split())
        if key in seen:
            continue
        seen.add(key)
        jobs.append(job)
        if len(jobs) == limit:
            break
    return jobs


# --- Catalogue and providers -----------------------------------------------------------------------


def demo_provider_in_use() -> bool:
    """True while any usable model is served by the built-in simulator."""
    return any(
        p.is_simulator
        for p in Provider.objects.filter(
            enabled=True, from_environment=True, models__enabled=True
        ).distinct()
    )


def video_frame(*, size: str, orientation: str) -> tuple[int, int] | None:
    """The pixel size of a video (and so of its first frame), where it is known."""
    try:
        width, height = openai_size(size, orientation).split("x")
    except (ProviderError, ValueError):
        return None
    return int(width), int(height)


def provider_needs_exact_image(provider: Provider) -> bool:
    try:
        return bool(make_client(provider.config()).needs_exact_image_size)
    except ProviderError:
        return False


def provider_can_remix(provider: Provider) -> bool:
    try:
        return bool(make_client(provider.config()).supports_remix)
    except ProviderError:
        return False
