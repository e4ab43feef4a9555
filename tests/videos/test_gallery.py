"""The gallery: filters, search, sort, favourites, paging, and a fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta
from html import escape, unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from soraweb.videos.models import Favourite, JobState, ReviewState, VideoJob
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def tiles(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="tile" id="tile-(\d+)"', html)]


@pytest.fixture
def videos(member, other_member):
    now = timezone.now()
    return {
        "kite": job_row(
            member,
            text="a red kite over green hills",
            finished_at=now - timedelta(days=3),
            remote_id="sora-2:task_1",
            with_video=True,
        ),
        "boat": job_row(
            other_member,
            text="a paper boat in the rain",
            model="sora-2-pro",
            orientation="portrait",
            size="large",
            duration=15,
            finished_at=now - timedelta(days=1),
            review_state=ReviewState.APPROVED,
            remote_id="sora-2-pro:task_1",
            with_video=True,
        ),
        "tree": job_row(
            member,
            text="a green tree in the wind",
            finished_at=now,
            review_state=ReviewState.REJECTED,
            remote_id="sora-2:task_1",
            with_video=True,
        ),
        "running": job_row(
            member, text="still running kite", state=JobState.RUNNING, remote_id="sora-2:task_1"
        ),
    }


def get(client, **params):
    return client.get(reverse("videos:gallery"), params).content.decode()


def test_it_shows_finished_videos_newest_first_to_everyone_on_the_team(
    client, other_member, videos
):
    client.force_login(other_member)
    html = get(client)
    assert tiles(html) == [videos["tree"].pk, videos["boat"].pk, videos["kite"].pk]
    assert 'preload="none"' in html  # a grid of posters: no video is fetched until played
    assert f'poster="/jobs/{videos["kite"].pk}/poster.jpg"' in html


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"q": "kite"}, ["kite"]),
        ({"q": "GREEN"}, ["tree", "kite"]),
        ({"q": "green hills"}, ["kite"]),
        ({"review": "approved"}, ["boat"]),
        ({"review": "unreviewed"}, ["kite"]),
        ({"orientation": "portrait"}, ["boat"]),
        ({"sort": "oldest"}, ["kite", "boat", "tree"]),
        ({"sort": "longest"}, ["boat", "tree", "kite"]),
    ],
)
def test_filters_search_and_sort(client, member, videos, params, expected):
    client.force_login(member)
    assert tiles(get(client, **params)) == [videos[name].pk for name in expected]


def test_model_author_and_date_filters(client, member, other_member, videos):
    client.force_login(member)
    pro = videos["boat"].video_model_id
    assert tiles(get(client, model=pro)) == [videos["boat"].pk]
    assert tiles(get(client, author=other_member.pk)) == [videos["boat"].pk]
    day = timezone.localdate() - timedelta(days=1)
    assert tiles(get(client, date_from=day.isoformat(), date_to=day.isoformat())) == [
        videos["boat"].pk
    ]
    assert tiles(get(client, date_from=timezone.localdate().isoformat())) == [videos["tree"].pk]


def test_a_bad_filter_value_is_explained_and_ignored(client, member, videos):
    client.force_login(member)
    html = get(client, date_from="yesterday-ish", q="kite")
    assert "Enter a valid date." in html
    assert tiles(html) == [videos["kite"].pk]


def test_no_match_offers_to_clear_the_filters(client, member, videos):
    client.force_login(member)
    html = get(client, q="submarine")
    assert "No videos match these filters." in html and ">Clear the filters</a>" in html


def test_favourites_are_per_person(client, member, other_member, videos):
    client.force_login(member)
    url = reverse("videos:job_favourite", args=[videos["boat"].pk])
    html = client.post(url, {"on": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-pressed="true"' in html and 'name="on" value="0"' in html
    client.post(url, {"on": "1"}, HTTP_HX_REQUEST="true")  # a double click changes nothing
    assert Favourite.objects.filter(user=member).count() == 1
    assert tiles(get(client, favourites="on")) == [videos["boat"].pk]
    assert 'class="fav-btn" aria-pressed="true"' in get(client, q="paper boat")
    client.force_login(other_member)
    assert tiles(get(client, favourites="on")) == []
    assert 'class="fav-btn" aria-pressed="false"' in get(client, q="paper boat")
    client.force_login(member)
    client.post(url, {"on": "0"})
    assert not Favourite.objects.exists()


def test_favourite_without_javascript_returns_to_the_page(client, member, videos):
    client.force_login(member)
    url = reverse("videos:job_favourite", args=[videos["kite"].pk])
    response = client.post(url, {"on": "1", "next": "/gallery/?q=kite"})
    assert response.status_code == 302 and response["Location"] == "/gallery/?q=kite"
    response = client.post(url, {"on": "1", "next": "https://evil.example/"})
    assert response["Location"] == reverse("videos:job_detail", args=[videos["kite"].pk])


def next_link(html: str) -> str | None:
    """The "Load more" link's address (the real href, as a browser without JavaScript follows)."""
    match = re.search(r'<div class="load-more"[^>]*>\s*<a class="btn" href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


def test_load_more_pages_with_htmx_and_with_real_links(client, member):
    now = timezone.now()
    jobs = [
        job_row(
            member,
            text=f"video {i}",
            finished_at=now - timedelta(minutes=i),
            remote_id="sora-2:task_1",
            with_video=True,
        )
        for i in range(30)
    ]
    client.force_login(member)
    first = get(client, q="video")
    assert tiles(first) == [j.pk for j in jobs[:24]]
    link = next_link(first)
    # A cursor, with the filters kept beside it.
    assert link.startswith("/gallery/?q=video&after=") and "page=" not in link
    assert f'hx-get="{escape(link)}"' in first
    more = client.get(link, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="load-more").content.decode()
    assert tiles(more) == [j.pk for j in jobs[24:]]
    assert "<html" not in more and "Load more" not in more
    plain = client.get(link).content.decode()  # without JavaScript: a whole page, with a way back
    assert "<html" in plain and tiles(plain) == [j.pk for j in jobs[24:]]
    assert "Back to the newest videos" in plain
    assert 'data-page="2"' in plain


def walk(client, **params) -> tuple[list[int], int]:
    """Every tile, page after page by following the real links; and how many pages."""
    html = get(client, **params)
    seen, pages = tiles(html), 1
    while link := next_link(html):
        html = client.get(link).content.decode()
        seen += tiles(html)
        pages += 1
        assert pages < 20
    return seen, pages


@pytest.mark.parametrize("sort", ["newest", "oldest", "longest"])
def test_paging_shows_every_video_once_in_every_order_even_when_times_tie(client, member, sort):
    now = timezone.now()
    # Ties everywhere: four jobs share each moment, and lengths repeat.
    jobs = [
        job_row(
            member,
            text=f"tie {i}",
            finished_at=now - timedelta(minutes=i // 4),
            duration=[5, 10, 15][i % 3],
            review_state=ReviewState.APPROVED if i % 2 else ReviewState.UNREVIEWED,
            remote_id="sora-2:task_1",
            with_video=True,
        )
        for i in range(70)
    ]
    client.force_login(member)
    key = {
        "newest": lambda j: (-j.finished_at.timestamp(), -j.pk),
        "oldest": lambda j: (j.finished_at.timestamp(), j.pk),
        "longest": lambda j: (-j.duration, -j.finished_at.timestamp(), -j.pk),
    }[sort]
    seen, pages = walk(client, sort=sort)
    assert pages == 3 and seen == [j.pk for j in sorted(jobs, key=key)]
    # A filter pages together with the cursor.
    approved = [j for j in sorted(jobs, key=key) if j.review_state == ReviewState.APPROVED]
    seen, pages = walk(client, sort=sort, review=ReviewState.APPROVED)
    assert pages == 2 and seen == [j.pk for j in approved]


def test_a_forged_stale_or_old_style_link_opens_the_first_page(client, member):
    from django.core import signing

    now = timezone.now()
    jobs = [
        job_row(
            member,
            text=f"v {i}",
            finished_at=now - timedelta(minutes=i),
            remote_id="sora-2:task_1",
            with_video=True,
        )
        for i in range(30)
    ]
    client.force_login(member)
    first = tiles(get(client))
    assert first == [j.pk for j in jobs[:24]]
    token = parse_qs(urlsplit(next_link(get(client))).query)["after"][0]
    signer = signing.Signer(salt="soraweb.paging.gallery")
    forged = [
        "garbage",
        token[:-3] + "abc",  # the signature no longer matches
        token + "x" * 600,
        signing.Signer(salt="another").sign_object([["-finished_at", "-id"], ["x", 1], 2]),
        signer.sign_object([["-finished_at", "-id"], ["not a date", 1], 2]),
        signer.sign_object([["-finished_at", "-id"], [now.isoformat(), "1 OR 1=1"], 2]),
        signer.sign_object({"a": 1}),
    ]
    for after in forged:
        response = client.get(reverse("videos:gallery"), {"after": after})
        assert response.status_code == 200, after
        assert tiles(response.content.decode()) == first, after
    # A cursor of another order opens that order's first page, not a skewed one.
    assert tiles(get(client, sort="oldest", after=token))[0] == jobs[-1].pk
    # Old bookmarks said ?page=2: the first page, not an error.
    assert tiles(get(client, page="2")) == first
    # Every video after the cursor is gone: the first page again.
    VideoJob.objects.filter(pk__in=[j.pk for j in jobs[24:]]).delete()
    assert tiles(get(client, after=token)) == first


def test_a_deep_page_costs_the_same_queries_as_the_first(client, member):
    now = timezone.now()
    for i in range(80):
        job_row(
            member,
            text=f"deep {i}",
            finished_at=now - timedelta(minutes=i),
            remote_id="sora-2:task_1",
            with_video=True,
        )
    client.force_login(member)
    html = get(client)

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    first = count(reverse("videos:gallery"))
    link = next_link(html)
    for _ in range(2):
        link = next_link(client.get(link).content.decode())
    assert tiles(client.get(link).content.decode())  # page 4 still shows videos
    assert count(link) == first


def test_the_orderings_are_served_by_an_index_from_the_cursor():
    """The plan for a deep page starts at the cursor in an index (no sort of all the rows)."""
    from soraweb.videos.selectors import SORTS, Cursor, _after

    now = timezone.now()
    for sort, order in SORTS.items():
        values = {"-duration": 10, "duration": 10, "-id": 5, "id": 5}
        cursor = Cursor(order=order, values=tuple(values.get(f, now) for f in order), page=2)
        qs = (
            VideoJob.objects.filter(state=JobState.SUCCEEDED, finished_at__isnull=False)
            .filter(_after(cursor))
            .order_by(*order)[:25]
        )
        plan = qs.explain()
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, (sort, plan)


def test_filtering_with_htmx_returns_only_the_results(client, member, videos):
    client.force_login(member)
    response = client.get(
        reverse("videos:gallery"),
        {"q": "kite"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="gallery-results",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="gallery-results"')
    assert tiles(html) == [videos["kite"].pk]
    assert "HX-Request" in response["Vary"]


def test_the_first_page_costs_the_same_queries_for_5_or_40_videos(client, member, other_member):
    client.force_login(member)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("videos:gallery")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        job_row(
            member if i % 2 else other_member,
            text=f"few {i}",
            remote_id="sora-2:task_1",
            seconds=0,
            with_video=True,
        )
    count_queries()  # a person's first page also stores their preferences, once
    few = count_queries()
    for i in range(35):
        job = job_row(
            other_member,
            text=f"many {i}",
            review_state=ReviewState.APPROVED,
            remote_id="sora-2:task_1",
            seconds=0,
            with_video=True,
        )
        Favourite.objects.create(user=member, job=job)
    assert count_queries() == few, few
    assert few > 3, few


# --- resolution, aspect ratio and sound ---------------------------------------------------------


@pytest.fixture
def seedance():
    """Seedance 2.0 from the shipped presets, attached to the built-in provider: its labels
    name 480p and 1:1, which the seeded sora-2 rows do not offer."""
    import json

    from soraweb.catalogue.presets import PRESETS_FILE
    from soraweb.videos.models import Provider, VideoModel

    doc = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    entry = next(m for m in doc["models"] if m["id"] == "seedance-2.0")
    return VideoModel.objects.create(
        name=entry["name"],
        display_name="Seedance 2.0",
        provider=Provider.objects.get(from_environment=True),
        spec=entry,
        sizes=["large"],  # the old columns, which job_row reads
        durations=[5],
    )


@pytest.fixture
def facet_videos(member, seedance):
    now = timezone.now()
    return {
        # Made before settings were stored: read from the old orientation / size tokens.
        "old": job_row(
            member,
            text="old wide",
            finished_at=now - timedelta(minutes=4),
            remote_id="sora-2:task_1",
            with_video=True,
        ),
        "tall": job_row(
            member,
            text="tall with sound",
            orientation="portrait",
            size="large",
            params={"aspect_ratio": "9:16", "resolution": "1080p", "audio": True, "duration": 8},
            finished_at=now - timedelta(minutes=3),
            remote_id="sora-2:task_1",
            with_video=True,
        ),
        "square": job_row(
            member,
            text="square silent",
            orientation="square",
            params={"aspect_ratio": "1:1", "resolution": "480p", "audio": False},
            finished_at=now - timedelta(minutes=2),
            remote_id="sora-2:task_1",
            with_video=True,
        ),
        "wide": job_row(
            member,
            text="wide with sound",
            params={"aspect_ratio": "16:9", "resolution": "1080p", "audio": True},
            finished_at=now - timedelta(minutes=1),
            remote_id="sora-2:task_1",
            with_video=True,
        ),
        # Not finished: its 21:9 is offered nowhere.
        "running": job_row(
            member,
            text="cinema running",
            state=JobState.RUNNING,
            params={"aspect_ratio": "21:9", "resolution": "4k", "audio": True},
            remote_id="sora-2:task_1",
        ),
    }


def menu(html: str, name: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, name
    return [
        (value, unescape(label.strip()))
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select[1])
    ]


def test_jobs_keep_their_facets_in_columns_from_settings_or_old_tokens(facet_videos):
    old, tall = facet_videos["old"], facet_videos["tall"]
    old.refresh_from_db()
    assert (old.aspect_ratio, old.resolution, old.audio) == ("16:9", "720p", None)
    assert (tall.aspect_ratio, tall.resolution, tall.audio) == ("9:16", "1080p", True)


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"resolution": "1080p"}, ["wide", "tall"]),
        ({"resolution": "720p"}, ["old"]),
        ({"aspect_ratio": "16:9"}, ["wide", "old"]),
        ({"aspect_ratio": "1:1"}, ["square"]),
        ({"audio": "on"}, ["wide", "tall"]),
        ({"audio": "off"}, ["square"]),
        ({"audio": "on", "aspect_ratio": "9:16"}, ["tall"]),
        ({"resolution": "1080p", "audio": "on", "q": "wide"}, ["wide"]),
        ({"resolution": "1080p", "sort": "oldest"}, ["tall", "wide"]),
        ({"resolution": "4k"}, []),  # only a running job has it
    ],
)
def test_resolution_aspect_ratio_and_sound_filters_combine(
    client, member, facet_videos, params, expected
):
    client.force_login(member)
    assert tiles(get(client, **params)) == [facet_videos[name].pk for name in expected]


def test_the_menus_offer_only_values_finished_videos_have_in_both_languages(
    client, member, facet_videos
):
    client.force_login(member)
    html = get(client)
    assert menu(html, "resolution") == [
        ("", "Any"),
        ("480p", "480p"),
        ("720p", "720p HD"),
        ("1080p", "1080p Full HD"),
    ]
    assert menu(html, "aspect_ratio") == [
        ("", "Any"),
        ("16:9", "16:9 wide"),
        ("9:16", "9:16 tall"),
        ("1:1", "1:1 square"),
    ]
    assert menu(html, "audio") == [("", "Any"), ("on", "With sound"), ("off", "Silent")]
    # The tiles say the settings in the same words.
    assert "16:9 wide · 1080p Full HD · 10 seconds · With sound" in html
    client.cookies["django_language"] = "zh-hans"
    zh = client.get(reverse("videos:gallery"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert ("1080p", "1080p 全高清") in menu(zh, "resolution")
    assert ("9:16", "9:16 竖屏") in menu(zh, "aspect_ratio")
    assert ("on", "有声音") in menu(zh, "audio") and ("off", "无声") in menu(zh, "audio")


def test_facet_filters_page_with_the_cursor(client, member):
    now = timezone.now()
    jobs = [
        job_row(
            member,
            text=f"page {i}",
            params={"aspect_ratio": "16:9", "resolution": "1080p", "audio": i % 2 == 0},
            finished_at=now - timedelta(minutes=i),
            remote_id="sora-2:task_1",
            with_video=True,
        )
        for i in range(60)
    ]
    client.force_login(member)
    seen, pages = walk(client, audio="on", resolution="1080p", aspect_ratio="16:9")
    assert pages == 2 and seen == [j.pk for j in jobs if j.audio]
    link = next_link(get(client, audio="on"))
    assert "audio=on" in link and "after=" in link


def test_facet_filters_cost_no_more_queries_and_use_the_facets_index(client, member, facet_videos):
    client.force_login(member)

    def count(**params) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("videos:gallery"), params).status_code == 200
        return len(ctx.captured_queries)

    count()  # a person's first page also stores their preferences, once
    plain = count()
    assert count(resolution="1080p", aspect_ratio="16:9", audio="on") == plain
    for i in range(20):
        job_row(
            member,
            text=f"more {i}",
            params={"aspect_ratio": "4:3", "resolution": "720p"},
            remote_id="sora-2:task_1",
            seconds=0,
            with_video=True,
        )
    assert count() == plain
    # The menus' values come from the facets index alone (no table rows read).
    from soraweb.videos.selectors import facets_present

    sql, sql_params = facets_present().query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A few rows are read fastest without an index; say what a big table would pick.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", sql_params)
            plan = " | ".join(str(row[0]) for row in cursor.fetchall())
            assert "Index Only Scan using job_state_facets_idx" in plan, plan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", sql_params)
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert "COVERING INDEX job_state_facets_idx" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
    assert len(facets_present()) == 5  # one row per combination, not per video


def test_the_job_page_lists_the_stored_settings_in_words(client, member, seedance):
    job = job_row(
        member,
        text="a red door onto a blue sea",
        video_model=seedance,
        orientation="landscape",
        size="large",
        duration=5,
        params={
            "aspect_ratio": "16:9",
            "resolution": "1080p",
            "duration": 5,
            "audio": True,
            "watermark": False,
            "first_frame": [1],
        },
        remote_id=f"{seedance.name}:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(member)
    html = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    rows = [
        (unescape(dt), unescape(dd))
        for dt, dd in re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", html)
    ]
    assert rows[rows.index(("Aspect ratio", "16:9 wide")) :][:5] == [
        ("Aspect ratio", "16:9 wide"),
        ("Resolution", "1080p Full HD"),
        ("Duration", "5 seconds"),
        ("Sound", "on"),
        ("Watermark", "off"),
    ]
    assert "<dt>Orientation</dt>" not in html  # the old summary rows give way
