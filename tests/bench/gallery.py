"""Gallery benchmark (issue: the studio): the first page with 100 and with 10,000 finished jobs.

What must hold: the number of SQL queries for a page does not grow with the number of jobs, the
median server time at 10,000 jobs is at most 60 ms, and 10,000 jobs cost at most 1.5x the time of
100. Server time is one whole request through Django's middleware, view and templates (Django's
test client, no network), signed in as a team member with favourites and reviews in the data.
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
    q_more, t_more = _measure(
        client, "/gallery/?page=2", {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "load-more"}
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
    ]
