"""The gallery: filters, search, sort, favourites, paging, and a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from soraweb.videos.models import Favourite, JobState, ReviewState
from tests.videos.test_studio import make_job

pytestmark = pytest.mark.django_db


def tiles(html: str) -> list[int]:
    import re

    return [int(n) for n in re.findall(r'<article class="tile" id="tile-(\d+)"', html)]


@pytest.fixture
def videos(member, other_member):
    now = timezone.now()
    return {
        "kite": make_job(
            member, "a red kite over green hills", finished_at=now - timedelta(days=3)
        ),
        "boat": make_job(
            other_member,
            "a paper boat in the rain",
            model="sora-2-pro",
            orientation="portrait",
            size="large",
            duration=15,
            finished_at=now - timedelta(days=1),
            review_state=ReviewState.APPROVED,
        ),
        "tree": make_job(
            member, "a green tree in the wind", finished_at=now, review_state=ReviewState.REJECTED
        ),
        "running": make_job(member, "still running kite", state=JobState.RUNNING),
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


def test_load_more_pages_with_htmx_and_with_real_links(client, member):
    now = timezone.now()
    jobs = [
        make_job(member, f"video {i}", finished_at=now - timedelta(minutes=i)) for i in range(30)
    ]
    client.force_login(member)
    first = get(client, q="video")
    assert tiles(first) == [j.pk for j in jobs[:24]]
    assert 'href="/gallery/?q=video&amp;page=2"' in first
    more = client.get(
        reverse("videos:gallery"),
        {"q": "video", "page": 2},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="load-more",
    ).content.decode()
    assert tiles(more) == [j.pk for j in jobs[24:]]
    assert "<html" not in more and "Load more" not in more
    plain = get(client, q="video", page=2)  # without JavaScript: a whole page, with a way back
    assert "<html" in plain and tiles(plain) == [j.pk for j in jobs[24:]]
    assert "Back to the newest videos" in plain


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
        make_job(member if i % 2 else other_member, f"few {i}")
    few = count_queries()
    for i in range(35):
        job = make_job(other_member, f"many {i}", review_state=ReviewState.APPROVED)
        Favourite.objects.create(user=member, job=job)
    assert count_queries() == few, few
    assert few > 3, few
