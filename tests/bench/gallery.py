"""Gallery benchmark (issue: the studio): the first page with 100 and with 10,000 finished jobs;
(issue 16, item 5) page 400 against the first page at 100,000 jobs, for the gallery and My jobs.

What must hold: the number of SQL queries for a page does not grow with the number of jobs, the
median server time at 10,000 jobs is at most 60 ms, and 10,000 jobs cost at most 1.5x the time of
100. At 100,000 jobs, page 400 (reached by its cursor, as the "Load more" / "Older jobs" links
do) costs at most 1.2x the first page's median with the same number of queries. Server time is
one whole request through Django's middleware, view and templates (Django's test client, no
network), signed in as a team member with favourites and reviews in the data. The first page and
page 400 are asked alternately, so a slow moment on the machine hits both alike. The anchor is
the OFFSET query that page 400 cost before (the query alone, without the page around it).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

SAMPLES = 40
WARMUP = 5
SUBJECTS = ["harbour", "meadow", "skyline", "forest", "desert", "glacier", "market", "lighthouse"]


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def _users():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    viewer, _ = User.objects.get_or_create(username="gallery-viewer")
    team = [User.objects.get_or_create(username=f"gallery-author-{i}")[0] for i in range(8)]
    return viewer, team


def _top_up(total: int, viewer, team) -> None:
    """Add finished jobs (with prompts, review states and some favourites) until there are
    ``total`` in the database, whatever other benchmarks left there."""
    from django.utils import timezone

    from soraweb.videos.models import (
        Favourite,
        JobState,
        Prompt,
        ReviewState,
        VideoJob,
        VideoModel,
    )

    have = VideoJob.objects.filter(state=JobState.SUCCEEDED).count()
    missing = total - have
    if missing <= 0:
        return
    models = list(VideoModel.objects.filter(provider__from_environment=True))
    reviews = [s for s, _ in ReviewState.choices]
    now = timezone.now()
    for start in range(0, missing, 2000):
        count = min(2000, missing - start)
        owners = [team[(start + i) % len(team)] for i in range(count)]
        prompts = Prompt.objects.bulk_create(
            [
                Prompt(
                    text=f"Shot {have + start + i}: a {SUBJECTS[(start + i) % len(SUBJECTS)]} at dawn, slow pan, cinematic",
                    author=owner,
                )
                for i, owner in enumerate(owners)
            ]
        )
        jobs = []
        for i, (owner, prompt) in enumerate(zip(owners, prompts, strict=True)):
            n = have + start + i
            vm = models[n % len(models)]
            finished = now - timedelta(minutes=n)
            jobs.append(
                VideoJob(
                    owner=owner,
                    prompt=prompt,
                    provider=vm.provider,
                    video_model=vm,
                    model_name=vm.name,
                    orientation="portrait" if n % 3 == 0 else "landscape",
                    size=vm.sizes[0],
                    duration=vm.durations[0],
                    state=JobState.SUCCEEDED,
                    progress=100,
                    remote_id=f"bench-{n}",
                    review_state=reviews[n % len(reviews)],
                    created_at=finished - timedelta(seconds=90),
                    finished_at=finished,
                    video=f"videos/bench/job-{n}.mp4",
                    poster=f"videos/bench/job-{n}.jpg",
                )
            )
        created = VideoJob.objects.bulk_create(jobs)
        Favourite.objects.bulk_create(
            [Favourite(user=viewer, job=job) for job in created[::10]], ignore_conflicts=True
        )


def _measure(client, path: str, headers: dict | None = None) -> tuple[int, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_HOST": "localhost", **(headers or {})}
    for _ in range(WARMUP):
        assert client.get(path, **headers).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **headers)
    queries = len(ctx.captured_queries)  # read now: every request clears Django's query log
    assert response.status_code == 200, response.status_code
    assert response.content.count(b'class="tile"') == 24
    timings = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        client.get(path, **headers)
        timings.append((time.perf_counter() - started) * 1000)
    return queries, statistics.median(timings)


def _top_up_fast(total: int, viewer, team) -> None:
    """Like ``_top_up``, for tens of thousands of rows: one prepared INSERT run with many rows
    (Django's bulk_create spends most of its time compiling each row), prompts from a pool."""
    from django.db import connection, transaction
    from django.utils import timezone

    from soraweb.videos.models import (
        Favourite,
        JobState,
        Prompt,
        ReviewState,
        VideoJob,
        VideoModel,
        remote_id_digest,
    )

    have = VideoJob.objects.filter(state=JobState.SUCCEEDED).count()
    missing = total - have
    if missing <= 0:
        return
    models = list(VideoModel.objects.filter(provider__from_environment=True))
    reviews = [s for s, _ in ReviewState.choices]
    pool = Prompt.objects.bulk_create(
        [
            Prompt(
                text=f"Take {i}: a {SUBJECTS[i % len(SUBJECTS)]} at dusk, drone shot, cinematic",
                author=team[i % len(team)],
            )
            for i in range(2000)
        ]
    )
    now = timezone.now()
    template = VideoJob(
        owner=team[0],
        prompt=pool[0],
        provider=models[0].provider,
        video_model=models[0],
        model_name=models[0].name,
        orientation="landscape",
        size=models[0].sizes[0],
        duration=models[0].durations[0],
        state=JobState.SUCCEEDED,
        progress=100,
        created_at=now,
        finished_at=now,
        video="videos/bench/x.mp4",
        poster="videos/bench/x.jpg",
    )
    fields = [f for f in VideoJob._meta.concrete_fields if not f.primary_key]
    prepared = {
        f.attname: f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields
    }
    names = list(prepared)
    table = connection.ops.quote_name(VideoJob._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    # Table and column names come from the model, quoted; every value is a parameter.
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    when = connection.ops.adapt_datetimefield_value
    first_id = (VideoJob.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    rows = []
    for i in range(missing):
        n = have + i
        vm = models[n % len(models)]
        finished = now - timedelta(minutes=n)
        remote = f"bench-{n}"
        row = dict(prepared)
        row.update(
            owner_id=team[n % len(team)].pk,
            prompt_id=pool[n % len(pool)].pk,
            provider_id=vm.provider_id,
            video_model_id=vm.pk,
            model_name=vm.name,
            size=vm.sizes[0],
            duration=vm.durations[0],
            orientation="portrait" if n % 3 == 0 else "landscape",
            review_state=reviews[n % len(reviews)],
            created_at=when(finished - timedelta(seconds=90)),
            finished_at=when(finished),
            remote_id=remote,
            remote_id_sha256=remote_id_digest(remote),
            video=f"videos/bench/job-{n}.mp4",
            poster=f"videos/bench/job-{n}.jpg",
        )
        rows.append([row[name] for name in names])
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), 10_000):
            cursor.executemany(sql, rows[start : start + 10_000])
    new_ids = VideoJob.objects.filter(id__gte=first_id).values_list("id", flat=True)
    Favourite.objects.bulk_create(
        [Favourite(user=viewer, job_id=pk) for pk in list(new_ids)[::10]], ignore_conflicts=True
    )


def _queries(client, path: str, headers: dict, marker: bytes, count: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, **headers)
    queries = len(ctx.captured_queries)
    assert response.status_code == 200, response.status_code
    assert response.content.count(marker) == count, (path, response.content.count(marker))
    return queries


def _pair(client, first: str, deep: str, marker: bytes, count: int):
    """(queries, median ms) of the first page and of a deep one, asked alternately."""
    headers = {"HTTP_HOST": "localhost"}
    for _ in range(WARMUP):
        client.get(first, **headers)
        client.get(deep, **headers)
    q_first = _queries(client, first, headers, marker, count)
    q_deep = _queries(client, deep, headers, marker, count)
    times: dict[str, list[float]] = {first: [], deep: []}
    for _ in range(SAMPLES):
        for path in (first, deep):
            started = time.perf_counter()
            client.get(path, **headers)
            times[path].append((time.perf_counter() - started) * 1000)
    return (q_first, statistics.median(times[first])), (q_deep, statistics.median(times[deep]))


def _deep_cursor(kind: str, qs, order, per_page: int, page: int) -> str:
    from soraweb.videos import selectors

    last_before = qs.order_by(*order)[(page - 1) * per_page - 1]  # setup only, not timed
    return selectors.cursor_encode(kind=kind, order=order, row=last_before, page=page)


def _offset_query_ms(page: int, per_page: int = 24) -> float:
    """What page ``page`` cost before keyset paging: the same query with OFFSET."""
    from soraweb.videos.models import JobState, VideoJob

    start = (page - 1) * per_page
    qs = (
        VideoJob.objects.filter(state=JobState.SUCCEEDED)
        .exclude(video="")
        .select_related("owner", "prompt", "video_model")
        .order_by("-finished_at", "-id")
    )
    for _ in range(WARMUP):
        list(qs[start : start + per_page + 1])
    timings = []
    for _ in range(SAMPLES // 2):
        started = time.perf_counter()
        list(qs[start : start + per_page + 1])
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def bench_deep_pages(viewer, team) -> list[tuple[str, str, str, str]]:
    from urllib.parse import quote

    from django.test import Client

    from soraweb.videos import selectors
    from soraweb.videos.models import JobState, VideoJob

    started = time.monotonic()
    _top_up_fast(100_000, viewer, team)
    seeded = time.monotonic() - started
    client = Client()
    client.force_login(viewer)
    finished = VideoJob.objects.filter(state=JobState.SUCCEEDED, finished_at__isnull=False)
    order = selectors.SORTS["newest"]
    token = _deep_cursor("gallery", finished.exclude(video=""), order, 24, 400)
    (q1, t1), (q400, t400) = _pair(
        client, "/gallery/", f"/gallery/?after={quote(token)}", b'class="tile"', 24
    )
    offset_ms = _offset_query_ms(400)

    author = team[0]
    mine = VideoJob.objects.filter(owner=author)
    author_client = Client()
    author_client.force_login(author)
    jobs_token = _deep_cursor("jobs", mine, selectors.JOBS_ORDER, 30, 400)
    (j1, s1), (j400, s400) = _pair(
        author_client, "/", f"/?jobs_after={quote(jobs_token)}", b'<article class="job-card', 30
    )
    ratio, jobs_ratio = t400 / t1, s400 / s1
    total = VideoJob.objects.count()
    return [
        (
            f"gallery at {total:,} jobs (seeded in {seeded:.0f} s): first page, median",
            f"{t1:.1f} ms ({q1} queries)",
            "-",
            "",
        ),
        (
            "gallery at 100,000 jobs: page 400 by cursor, median",
            f"{t400:.1f} ms ({q400} queries)",
            f"= {q1} queries",
            _ok(q400 == q1),
        ),
        (
            "gallery at 100,000 jobs: page 400 / first page",
            f"{ratio:.2f}",
            "<= 1.2",
            _ok(ratio <= 1.2),
        ),
        (
            "gallery at 100,000 jobs: page 400 by OFFSET (before; the query alone)",
            f"{offset_ms:.1f} ms",
            "-",
            "",
        ),
        (
            f"My jobs at {mine.count():,} of one person's jobs: first page, median",
            f"{s1:.1f} ms ({j1} queries)",
            "-",
            "",
        ),
        (
            "My jobs: page 400 by cursor, median",
            f"{s400:.1f} ms ({j400} queries)",
            f"= {j1} queries",
            _ok(j400 == j1),
        ),
        ("My jobs: page 400 / first page", f"{jobs_ratio:.2f}", "<= 1.2", _ok(jobs_ratio <= 1.2)),
    ]


def run(data_dir: str) -> list[tuple[str, str, str, str]]:
    from django.test import Client

    viewer, team = _users()
    client = Client()
    client.force_login(viewer)

    _top_up(100, viewer, team)
    q_small, t_small = _measure(client, "/gallery/")
    _top_up(10_000, viewer, team)
    q_big, t_big = _measure(client, "/gallery/")
    q_search, t_search = _measure(client, "/gallery/?q=lighthouse&review=rejected")
    from soraweb.videos import selectors

    second = selectors.gallery_list(viewer=viewer).next_cursor
    q_more, t_more = _measure(
        client,
        f"/gallery/?after={second}",
        {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "load-more"},
    )
    ratio = t_big / t_small
    return [
        ("gallery first page, 100 finished jobs: SQL queries", f"{q_small}", "-", ""),
        (
            "gallery first page, 10,000 finished jobs: SQL queries",
            f"{q_big}",
            f"= {q_small} (does not grow)",
            _ok(q_big == q_small),
        ),
        ("gallery first page, 100 finished jobs: median server time", f"{t_small:.1f} ms", "-", ""),
        (
            "gallery first page, 10,000 finished jobs: median server time",
            f"{t_big:.1f} ms",
            "<= 60 ms",
            _ok(t_big <= 60),
        ),
        ("gallery first page: time 10,000 / 100 jobs", f"{ratio:.2f}", "<= 1.5", _ok(ratio <= 1.5)),
        (
            "gallery at 10,000: search + review filter, median",
            f"{t_search:.1f} ms ({q_search} queries)",
            "-",
            "",
        ),
        (
            "gallery at 10,000: 'Load more' page 2 (htmx)",
            f"{t_more:.1f} ms ({q_more} queries)",
            "-",
            "",
        ),
        *bench_deep_pages(viewer, team),
    ]
