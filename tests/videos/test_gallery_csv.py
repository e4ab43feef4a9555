"""The gallery's CSV download: the ticked videos, or every video the filters find; only what the
gallery shows; a spreadsheet opens it as text (UTF-8 with a BOM, formulas kept as text)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import translation

from soraweb.videos.models import JobState
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def rows(response) -> list[list[str]]:
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff"), "Excel needs the BOM to read Chinese names"
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.fixture
def videos(member, other_member):
    return {
        "kite": job_row(
            member,
            text="a red kite over green hills",
            remote_id="sora-2:task_1",
            seconds=0,
            with_video=True,
        ),
        "formula": job_row(
            other_member,
            text='=HYPERLINK("http://x") a kite at dusk',
            remote_id="sora-2:task_1",
            seconds=0,
            with_video=True,
        ),
        "boat": job_row(
            other_member,
            text="a paper boat in the rain",
            remote_id="sora-2:task_1",
            seconds=0,
            with_video=True,
        ),
        "running": job_row(
            member,
            text="a kite still being made",
            state=JobState.RUNNING,
            remote_id="sora-2:task_1",
        ),
        "failed": job_row(
            other_member,
            text="a kite that failed",
            state=JobState.FAILED,
            remote_id="sora-2:task_1",
        ),
    }


def test_it_lists_just_the_ticked_videos_and_keeps_formulas_as_text(client, member, videos):
    client.force_login(member)
    picked = [videos["kite"].pk, videos["formula"].pk]
    response = client.get(reverse("videos:gallery_csv"), {"job": picked})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="soraweb-videos-')
    header, *body = rows(response)
    assert header[:5] == ["job", header[1], "person", "model", "prompt"]
    assert sorted(int(r[0]) for r in body) == sorted(picked)
    by_id = {int(r[0]): r for r in body}
    assert by_id[videos["formula"].pk][4] == '\'=HYPERLINK("http://x") a kite at dusk'
    assert by_id[videos["kite"].pk][2] == "mia"
    assert by_id[videos["kite"].pk][7].endswith(f"/jobs/{videos['kite'].pk}/")


def test_videos_the_gallery_does_not_show_are_left_out_whatever_is_asked(client, member, videos):
    client.force_login(member)
    asked = [videos["running"].pk, videos["failed"].pk, videos["boat"].pk, 999999, "x"]
    response = client.get(reverse("videos:gallery_csv"), {"job": asked})
    _header, *body = rows(response)
    assert [int(r[0]) for r in body] == [videos["boat"].pk]


def test_with_nothing_ticked_it_lists_what_the_filters_find(client, member, videos):
    client.force_login(member)
    response = client.get(reverse("videos:gallery_csv"), {"q": "kite"})
    _header, *body = rows(response)
    # The running and failed kites are not in the gallery; the two finished kites are.
    assert {int(r[0]) for r in body} == {videos["kite"].pk, videos["formula"].pk}


def test_it_needs_a_signed_in_person(client, videos):
    response = client.get(reverse("videos:gallery_csv"), {"job": [videos["kite"].pk]})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_its_columns_are_in_chinese_for_a_chinese_reader(client, member, videos):
    client.force_login(member)
    with translation.override("zh-hans"):
        response = client.get(
            reverse("videos:gallery_csv"),
            {"job": [videos["kite"].pk]},
            HTTP_ACCEPT_LANGUAGE="zh-CN",
        )
    header, *_body = rows(response)
    assert header[0] == "任务" and header[4] == "提示词", header


def test_the_gallery_offers_the_download_with_a_box_on_each_video(client, member, videos):
    client.force_login(member)
    html = client.get(reverse("videos:gallery"), {"q": "kite"}).content.decode()
    assert f'action="{reverse("videos:gallery_csv")}"' in html
    assert '<input type="hidden" name="q" value="kite">' in html
    assert f'name="job" value="{videos["kite"].pk}" form="gallery-selection"' in html
