"""Batches: prompts one per line or a CSV with per-row settings; a report row for every row."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from soraweb.videos.forms import BATCH_MAX_ROWS, read_csv_rows
from soraweb.videos.models import JobState, VideoJob, VideoModel

pytestmark = pytest.mark.django_db


def batch_data(**overrides) -> dict:
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    data = {
        "prompts": "",
        "video_model": str(vm.pk),
        "orientation": "landscape",
        "size": "small",
        "duration": "10",
        "idempotency_key": "batch-key-1",
    }
    data.update(overrides)
    return data


def post(client, data, **headers):
    return client.post(reverse("videos:batch"), data, **headers)


def csv_upload(text: str, encoding: str = "utf-8", name: str = "prompts.csv"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


@pytest.fixture
def no_submit():
    """Test transactions never commit, so no job is handed to the worker (nothing is sent)."""


def test_each_line_becomes_a_job_with_the_shared_settings(client, member, no_submit):
    client.force_login(member)
    response = post(
        client,
        batch_data(prompts="a red kite\n\n  a blue boat  \na green tree\n"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    jobs = list(VideoJob.objects.order_by("id"))
    assert [j.prompt.text for j in jobs] == ["a red kite", "a blue boat", "a green tree"]
    assert {(j.orientation, j.size, j.duration, j.owner_id) for j in jobs} == {
        ("landscape", "small", 10, member.pk)
    }
    html = response.content.decode()
    assert "3 videos started" in html
    assert "rejected" not in html.lower().split("batch report")[1].split("</table>")[0].replace(
        "row-ok", ""
    )
    for job in jobs:  # the new cards arrive in "My jobs" at once
        assert f'id="job-{job.pk}"' in html
    assert 'hx-swap-oob="afterbegin:#job-list"' in html


def test_a_csv_with_per_row_settings_and_a_rejected_row(client, member, no_submit):
    client.force_login(member)
    text = (
        "prompt,model,orientation,size,duration,mood\n"
        "A red kite over green hills,,portrait,,,happy\n"
        "A lighthouse in a storm,Sora 2 Pro,landscape,large,15,\n"
        "A tiny pro clip,sora-2-pro,,small,,\n"
        "A boat,Veo 9,,,,\n"
        ",,,,,\n"
        "A quick one,,,,10s,\n"
    )
    response = post(client, batch_data(csv_file=csv_upload(text)), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    jobs = {j.prompt.text: j for j in VideoJob.objects.all()}
    assert set(jobs) == {"A red kite over green hills", "A lighthouse in a storm", "A quick one"}
    kite, lighthouse = jobs["A red kite over green hills"], jobs["A lighthouse in a storm"]
    assert (kite.video_model.name, kite.orientation, kite.size, kite.duration) == (
        "sora-2",
        "portrait",
        "small",
        10,
    )
    assert (
        lighthouse.video_model.name,
        lighthouse.orientation,
        lighthouse.size,
        lighthouse.duration,
    ) == (
        "sora-2-pro",
        "landscape",
        "large",
        15,
    )
    assert "3 videos started" in html and "2 rows rejected" in html
    # Each rejected row says which row and why, in words the person can act on.
    assert "<td>4</td>" in html and "Sora 2 Pro offers these for Resolution: 1080p Full HD." in html
    assert "<td>5</td>" in html and "Unknown model “Veo 9”; use one of: Sora 2, Sora 2 Pro." in html
    assert "Ignored columns (not known to soraweb): mood" in html


def test_a_csv_without_a_header_is_one_prompt_per_row_and_chinese_excel_files_are_read(
    client, member, no_submit
):
    client.force_login(member)
    text = "一只红色的风筝飞过绿色的山丘\n海上的灯塔，暴风雨\n"
    response = post(
        client, batch_data(csv_file=csv_upload(text, "gb18030")), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert sorted(j.prompt.text for j in VideoJob.objects.all()) == sorted(
        ["一只红色的风筝飞过绿色的山丘", "海上的灯塔，暴风雨"]
    )


def test_chinese_headers_and_values_and_semicolons_are_understood():
    rows, ignored = read_csv_rows("提示词;方向;时长\n小猫;竖屏;15秒\n".encode("utf-8-sig"))
    assert ignored == []
    assert rows[0].row == 2 and rows[0].prompt == "小猫"
    assert rows[0].values == {"orientation": "竖屏", "duration": "15秒"}


def test_sending_the_same_batch_twice_creates_each_job_once(client, member, no_submit):
    client.force_login(member)
    data = batch_data(prompts="one\ntwo")
    post(client, data, HTTP_HX_REQUEST="true")
    post(client, data, HTTP_HX_REQUEST="true")
    assert VideoJob.objects.count() == 2


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"prompts": ""}, "Write at least one prompt (one per line) or choose a CSV file."),
        (
            {"prompts": "x\n" * (BATCH_MAX_ROWS + 1)},
            f"A batch can have at most {BATCH_MAX_ROWS} rows; this one has {BATCH_MAX_ROWS + 1}.",
        ),
        (
            {"prompts": "a", "csv_file": "CSV"},
            "Use either the list of prompts or a CSV file, not both.",
        ),
        (
            {"prompts": "a", "size": "huge"},
            "Sora 2 offers these for Resolution: 720p HD, 1080p Full HD.",
        ),
    ],
)
def test_a_batch_that_cannot_start_says_why_and_creates_nothing(client, member, overrides, message):
    client.force_login(member)
    if overrides.get("csv_file") == "CSV":
        overrides["csv_file"] = csv_upload("prompt\nb\n")
    response = post(client, batch_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert VideoJob.objects.count() == 0


def test_the_batch_estimate_counts_the_lines(client, member):
    client.force_login(member)
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    html = client.get(
        reverse("videos:estimate"),
        {
            "kind": "batch",
            "video_model": vm.pk,
            "size": "small",
            "duration": "10",
            "prompts": "a\nb\n\nc",
        },
    ).content.decode()
    assert "Estimated cost: <strong>$3.00</strong> for 3 videos ($1.00 each)" in html


def test_the_batch_page_works_without_javascript(client, member, no_submit):
    client.force_login(member)
    response = post(client, batch_data(prompts="a red kite\nA boat [x]"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Batch report" in html and "2 videos started" in html
    assert VideoJob.objects.filter(state=JobState.PENDING).count() == 2
