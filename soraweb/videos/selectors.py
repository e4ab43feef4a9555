"""Reads: the queries pages use, shaped so a page costs a fixed number of SQL queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core import signing
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils import timezone

from soraweb.catalogue.schema import Label, SpecError
from soraweb.catalogue.wire import SHORT_SIDE
from soraweb.providers import ProviderError, client_class, openai_size
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


# --- Keyset paging --------------------------------------------------------------------------------
#
# A page is "the rows after this one in this order", never "skip N rows": the database walks
# the index from the cursor, so page 400 costs what page 1 costs. A cursor holds the ordering
# values of the last row shown (not its id, which would cost a lookup and break when the row is
# deleted), signed so that a link that was cut, edited or made under another secret key reads
# as "no cursor": the first page.

JOBS_ORDER = ("-created_at", "-id")


@dataclass(frozen=True)
class Cursor:
    order: tuple[str, ...]
    values: tuple
    page: int  # which page this cursor opens (for "back to the start" and focus), never an offset


def _cursor_signer(kind: str) -> signing.Signer:
    return signing.Signer(salt=f"soraweb.paging.{kind}")


def cursor_encode(*, kind: str, order: tuple[str, ...], row, page: int) -> str:
    """The opaque token for the page after ``row`` (the last row of page ``page - 1``)."""
    values = []
    for field in order:
        value = getattr(row, field.lstrip("-"))
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return _cursor_signer(kind).sign_object([list(order), values, page], compress=False)


def cursor_decode(token: str | None, *, kind: str, order: tuple[str, ...]) -> Cursor | None:
    """The cursor in ``token``, or None for none, a forged or stale one, or another ordering."""
    if not token or len(token) > 500:
        return None
    try:
        raw_order, raw_values, page = _cursor_signer(kind).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if tuple(raw_order) != order or len(raw_values) != len(order) or not isinstance(page, int):
        return None
    values = []
    for field, value in zip(order, raw_values, strict=True):
        name = field.lstrip("-")
        if name in ("created_at", "finished_at"):
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                return None
        elif not isinstance(value, int) or isinstance(value, bool):
            return None
        values.append(value)
    return Cursor(order=order, values=tuple(values), page=max(2, page))


def _after(cursor: Cursor) -> Q:
    """Rows strictly after the cursor's row in its ordering (ties broken by the last field).

    ``first <= v1 AND (first, second, ...) < (v1, v2, ...)``: the leading range lets the
    database start its index walk at the cursor; the row comparison keeps it there on
    PostgreSQL (a native row comparison is an index condition: no rows of the same length are
    walked past on "longest") and is spelled out as ``first < v1 OR (first = v1 AND ...)``
    where the database has none (SQLite). Django 5.2's tuple lookups (from its composite keys)
    write both.
    """
    names = [field.lstrip("-") for field in cursor.order]
    descending = [field.startswith("-") for field in cursor.order]
    first = f"{names[0]}__{'lte' if descending[0] else 'gte'}"
    lead = Q(**{first: cursor.values[0]})
    if all(descending) or not any(descending):
        lookup = TupleLessThan if descending[0] else TupleGreaterThan
        return lead & Q(lookup(Tuple(*(F(name) for name in names)), cursor.values))
    rest, equal = Q(), Q()
    for name, down, value in zip(names, descending, cursor.values, strict=True):
        rest |= equal & Q(**{f"{name}__{'lt' if down else 'gt'}": value})
        equal &= Q(**{name: value})
    return lead & rest


@dataclass(frozen=True)
class Page:
    rows: list
    number: int  # 1 for the first page
    next_cursor: str | None  # the token for the page after this one, None on the last page

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def _keyset_page(
    qs: QuerySet, *, kind: str, order: tuple[str, ...], after: str | None, size: int
) -> Page:
    cursor = cursor_decode(after, kind=kind, order=order)
    base = qs.order_by(*order)
    rows = list((base.filter(_after(cursor)) if cursor else base)[: size + 1])
    if cursor and not rows:
        # Past the end (the rows after it were deleted, or the link is old): the first page.
        cursor = None
        rows = list(base[: size + 1])
    number = cursor.page if cursor else 1
    more = len(rows) > size
    rows = rows[:size]
    token = cursor_encode(kind=kind, order=order, row=rows[-1], page=number + 1) if more else None
    return Page(rows=rows, number=number, next_cursor=token)


def jobs_for_owner(*, owner, limit: int = 30) -> list[VideoJob]:
    """A person's newest jobs."""
    return jobs_page(owner=owner, per_page=limit).rows


def jobs_page(*, owner, after: str | None = None, per_page: int = 30) -> Page:
    """One page of a person's jobs, newest first ("My jobs"); ``after`` is a page's cursor."""
    return _keyset_page(
        _with_related(VideoJob.objects.filter(owner=owner)),
        kind="jobs",
        order=JOBS_ORDER,
        after=after,
        size=per_page,
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


def jobs_visible_ids(*, viewer, ids: list[int]) -> list[int]:
    """Which of ``ids`` name jobs ``viewer`` may see (every signed-in team member sees every
    job's card, as ``job_get`` does); the live stream follows only those."""
    if not ids or not viewer.is_authenticated:
        return []
    return list(VideoJob.objects.filter(pk__in=ids).values_list("pk", flat=True))


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
    resolution: str = ""
    aspect_ratio: str = ""
    audio: bool | None = None  # True: with sound, False: silent, None: either
    date_from: date | None = None
    date_to: date | None = None
    favourites: bool = False
    sort: str = "newest"

    @property
    def active(self) -> bool:
        return self != GalleryFilters(sort=self.sort)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def gallery_videos(*, viewer=None, filters: GalleryFilters | None = None) -> QuerySet:
    """Every finished video the gallery shows (all of the team's: anyone signed in may watch
    them) that ``filters`` find, unordered; with a viewer, whether each is their favourite.
    The gallery's pages and its CSV download both start here, so they show the same videos."""
    f = filters or GalleryFilters()
    # finished_at is part of every ordering: a row without it could never be paged past.
    qs = VideoJob.objects.filter(state=JobState.SUCCEEDED, finished_at__isnull=False).exclude(
        video=""
    )
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
    if f.resolution:
        qs = qs.filter(resolution=f.resolution)
    if f.aspect_ratio:
        qs = qs.filter(aspect_ratio=f.aspect_ratio)
    if f.audio is not None:
        qs = qs.filter(audio=f.audio)
    if f.date_from:
        qs = qs.filter(finished_at__gte=_day_start(f.date_from))
    if f.date_to:
        qs = qs.filter(finished_at__lt=_day_start(f.date_to + timedelta(days=1)))
    if viewer is not None and viewer.is_authenticated:
        mine = Favourite.objects.filter(job=OuterRef("pk"), user=viewer)
        qs = qs.annotate(is_favourite=Exists(mine))
        if f.favourites:
            qs = qs.filter(is_favourite=True)
    return qs


def gallery_list(
    *,
    viewer=None,
    filters: GalleryFilters | None = None,
    after: str | None = None,
    per_page: int = 24,
) -> Page:
    """One page of finished videos; ``after`` is the cursor of the page before (keyset paging).

    One query whatever the page or the number of jobs: the owner, prompt and model come by join,
    whether the viewer marked each video a favourite by an EXISTS per row of the page, and a
    deep page starts its index walk at the cursor instead of counting past the rows before it.
    """
    f = filters or GalleryFilters()
    qs = gallery_videos(viewer=viewer, filters=f)
    qs = qs.select_related("owner", "prompt", "video_model").only(
        "id",
        "orientation",
        "aspect_ratio",
        "resolution",
        "audio",
        "duration",
        "finished_at",
        "review_state",
        "poster",
        "video",
        "owner__username",
        "prompt__text",
        "video_model__display_name",
    )
    order = SORTS.get(f.sort, SORTS["newest"])
    return _keyset_page(qs, kind="gallery", order=order, after=after, size=per_page)


# Menus list resolutions from small to large and aspect ratios as the catalogue's README does.
FACET_ORDER = {
    "resolution": {token: side for token, side in SHORT_SIDE.items()},
    "aspect_ratio": {
        v: i for i, v in enumerate(("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "adaptive"))
    },
}


@dataclass(frozen=True)
class Facet:
    """One value a gallery menu offers, with its words in both languages."""

    value: str
    label: Label


def _facet_labels(models: list[VideoModel]) -> dict[str, dict[str, Label]]:
    """The catalogue's words for each aspect ratio and resolution (and the sound setting's
    name), from the models' entries as the admin keeps them; the first model that names a
    value wins."""
    out: dict[str, dict[str, Label]] = {"aspect_ratio": {}, "resolution": {}, "audio": {}}
    for model in models:
        try:
            spec = model.catalogue_spec()
        except SpecError:  # a broken entry costs its labels, not the gallery
            spec = None
        if spec is None:
            continue
        for name in ("aspect_ratio", "resolution"):
            param = spec.param(name)
            for choice in param.choices if param else ():
                out[name].setdefault(choice.value, choice.label)
        audio = spec.param("audio")
        if audio is not None:
            out["audio"].setdefault("", audio.label)
    return out


def facets_present() -> QuerySet:
    """(resolution, aspect ratio, sound) combinations among finished videos: a walk of the
    facets index alone (no ordering: the default one would make every row distinct)."""
    return (
        VideoJob.objects.filter(state=JobState.SUCCEEDED)
        .order_by()
        .values_list("resolution", "aspect_ratio", "audio")
        .distinct()
    )


def gallery_choices() -> dict:
    """What the gallery's filter menus offer: every model and every active team member, and the
    resolutions, aspect ratios and sound settings present among finished videos (one query,
    read from the facets index alone), in the catalogue's words."""
    models = list(VideoModel.objects.order_by("display_name"))
    present = set(facets_present())
    labels = _facet_labels(models)

    def facets(name: str, values: set[str]) -> list[Facet]:
        known = labels[name]
        order = FACET_ORDER[name]
        ordered = sorted(values - {""}, key=lambda v: (order.get(v.lower(), 99999), v))
        return [Facet(v, known.get(v) or Label(v, v)) for v in ordered]

    return {
        "models": models,
        "authors": list(
            get_user_model()
            .objects.filter(is_active=True)
            .only("id", "username")
            .order_by("username")
        ),
        "resolutions": facets("resolution", {r for r, _a, _s in present}),
        "aspect_ratios": facets("aspect_ratio", {a for _r, a, _s in present}),
        "audio": sorted({s for _r, _a, s in present if s is not None}, reverse=True),
        "audio_label": labels["audio"].get(""),
        "labels": labels,
    }


def gallery_settings_words(job: VideoJob, labels: dict[str, dict[str, Label]], lang: str) -> list:
    """A tile's settings in words: aspect ratio, resolution, length and sound, as the
    catalogue names them (no query: the labels come with the filter menus)."""
    from django.utils.translation import gettext as _

    words = []
    for name in ("aspect_ratio", "resolution"):
        value = getattr(job, name)
        if value:
            label = labels.get(name, {}).get(value)
            words.append(label.get(lang) if label else value)
    if job.duration:
        words.append(_("%(n)d seconds") % {"n": job.duration})
    if job.audio is not None:
        words.append(_("With sound") if job.audio else _("Silent"))
    return words


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


def job_pictures(*, job: VideoJob) -> list[dict]:
    """A job's pictures slot by slot, in the catalogue's words: the original as uploaded and
    the fitted copy the provider received (None when it was sent as it was)."""
    from django.utils.translation import get_language, gettext

    from soraweb.catalogue.schema import SpecError

    images = {image.pk: image for image in job.images.all()}
    if not images:
        return []
    sent = {(s.slot, s.position): s for s in job.sent_images.all()}
    try:
        spec = job.video_model.catalogue_spec()
    except SpecError:
        spec = None
    stored = job.params or {}
    rows = []
    placed: set[int] = set()
    for param in spec.slots() if spec is not None else ():
        ids = stored.get(param.name)
        if not isinstance(ids, list):
            continue
        for position, pk in enumerate(ids):
            if pk not in images:
                continue
            label = param.label.get(get_language())
            if param.max_count > 1:
                label = gettext("%(slot)s %(n)d") % {"slot": label, "n": position + 1}
            placed.add(pk)
            rows.append(
                {
                    "label": label,
                    "image": images[pk],
                    "sent": sent.get((param.name, position)),
                }
            )
    for pk, image in sorted(images.items()):  # a job from before slots were kept
        if pk not in placed:
            match = next((s for s in sent.values() if s.original_id == pk), None)
            rows.append({"label": "", "image": image, "sent": match})
    return rows


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


def provider_can(provider: Provider, capability: str) -> bool:
    """One of the ``VideoProvider`` capability flags of the provider's wire format, read from
    its client class (no client, no session is built); False for an unknown format."""
    try:
        return bool(getattr(client_class(provider.config().wire_format), capability))
    except ProviderError:
        return False


def provider_needs_exact_image(provider: Provider) -> bool:
    return provider_can(provider, "needs_exact_image_size")


def provider_can_remix(provider: Provider) -> bool:
    return provider_can(provider, "supports_remix")
