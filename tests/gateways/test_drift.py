"""Relay drift of 2026 (spec section 8) through the real pipeline against the simulator.

Each drift is a simulator switch (a ``[sim:...]`` marker, see soraweb/simulator/drift.py), so all
of it stays tested without a gateway in the middle.
"""

from __future__ import annotations

import io
import time
from urllib.parse import quote

import pytest
import requests
from PIL import Image, ImageChops, ImageStat

from soraweb.providers import http as provider_http
from soraweb.videos import services
from soraweb.videos.models import JobEvent, JobState, VideoJob
from soraweb.videos.pipeline import loop, poll
from tests.videos.test_formats import catalogue, submit  # noqa: F401 - fixture
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def archived_from(job: VideoJob) -> str | None:
    event = JobEvent.objects.get(job=job, to_state=JobState.ARCHIVING)
    return event.data.get("video_source")


def assert_ready(job: VideoJob, simulator) -> None:
    assert job.state == JobState.SUCCEEDED, job.error_message
    with job.video.open("rb") as fh:
        assert fh.read() == simulator.video_bytes(job.remote_id)
    assert job.poster


# -- content without a URL ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["newapi", "unified", "openai"])
def test_a_success_without_a_url_is_fetched_from_the_content_endpoint(
    fmt,
    catalogue,  # noqa: F811
    simulator,
    member,
):
    job = drive(submit(member, catalogue[fmt], f"a quiet harbour nourl-{fmt} [sim:nourl]"))
    assert_ready(job, simulator)
    assert archived_from(job) == "content endpoint"
    assert not job.remote_video_url
    content = [
        path
        for method, path in simulator.request_log
        if method == "GET"
        and path.startswith(f"/v1/videos/{quote(job.remote_id, safe='')}/content")
    ]
    assert content  # the bytes came from /videos/{id}/content


@pytest.mark.parametrize("fmt", ["newapi", "unified"])
def test_a_url_in_metadata_is_found_and_recorded(fmt, catalogue, simulator, member):  # noqa: F811
    job = drive(submit(member, catalogue[fmt], f"a paper boat metaurl-{fmt} [sim:metaurl]"))
    assert_ready(job, simulator)
    assert archived_from(job) == "metadata.url"
    assert job.remote_video_url == simulator.job(job.remote_id)["video_url"]


def test_a_newapi_url_is_recorded_by_its_field(catalogue, simulator, member):  # noqa: F811
    job = drive(submit(member, catalogue["newapi"], "a meadow at noon plain-newapi"))
    assert_ready(job, simulator)
    assert archived_from(job) == "result_url"


# -- thumbnails that are not thumbnails --------------------------------------------------------


def test_a_thumbnail_that_is_the_mp4_is_stopped_early_and_a_poster_is_made(
    catalogue,  # noqa: F811
    simulator,
    member,
    monkeypatch,
):
    read: dict[str, int] = {}
    original = provider_http.ResponseStream.chunks

    def counting(self, chunk_size=1 << 16):
        url = self._response.url
        for chunk in original(self, chunk_size):
            read[url] = read.get(url, 0) + len(chunk)
            yield chunk

    original_readinto = provider_http.ResponseStream.readinto

    def counting_readinto(self, buffer):
        n = original_readinto(self, buffer)
        read[self._response.url] = read.get(self._response.url, 0) + n
        return n

    monkeypatch.setattr(provider_http.ResponseStream, "chunks", counting)
    monkeypatch.setattr(provider_http.ResponseStream, "readinto", counting_readinto)
    job = drive(submit(member, catalogue["openai"], "a glass city novariant [sim:novariant]"))
    assert_ready(job, simulator)
    video_size = len(simulator.video_bytes(job.remote_id))
    thumbnail = [url for url in read if "variant=thumbnail" in url]
    video = [url for url in read if "variant=video" in url]
    assert len(thumbnail) == 1 and len(video) == 1
    assert read[video[0]] == video_size  # the video, downloaded once in full
    assert video_size > 2 * 65536
    assert read[thumbnail[0]] <= 65536  # the "thumbnail" stopped at the first chunk
    with job.poster.open("rb") as fh, Image.open(fh) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (job.video_width, job.video_height)  # a frame of our own copy


def test_a_real_thumbnail_is_still_used(catalogue, simulator, member):  # noqa: F811
    job = drive(submit(member, catalogue["openai"], "a glass city with its own thumbnail"))
    assert_ready(job, simulator)
    asked = f"/v1/videos/{job.remote_id}/content?variant=thumbnail"
    assert simulator.request_log.count(("GET", asked)) == 1
    served = requests.get(simulator.base_url + asked[3:], timeout=10).content
    with (
        Image.open(io.BytesIO(served)) as thumb,
        job.poster.open("rb") as fh,
        Image.open(fh) as poster,
    ):
        assert poster.format == "JPEG"
        assert poster.size == thumb.size
        diff = ImageChops.difference(poster.convert("RGB"), thumb.convert("RGB"))
        assert max(ImageStat.Stat(diff).mean) < 8  # the provider's picture, re-encoded


# -- cancel without DELETE -----------------------------------------------------------------------


def test_a_cancel_the_gateway_cannot_pass_on_says_so(catalogue, simulator, member):  # noqa: F811
    job = submit(member, catalogue["openai"], "a long night nodelete [sim:nodelete][sim:slow=60]")
    assert job.remote_id
    assert services.job_cancel(job=job, by=member)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    said = JobEvent.objects.filter(job=job, message__startswith="Remote cancel failed").get()
    assert "could not cancel the job upstream" in said.message
    assert "405" in said.message
    assert ("DELETE", f"/v1/videos/{job.remote_id}") in simulator.request_log


# -- tolerant statuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(("marker", "raw"), [("unknown", "unknown"), ("emptystatus", "")])
@pytest.mark.parametrize("fmt", ["unified", "openai", "newapi"])
def test_an_unknown_or_empty_status_keeps_polling_with_the_raw_value(
    fmt,
    marker,
    raw,
    catalogue,  # noqa: F811
    simulator,
    member,
):
    job = submit(member, catalogue[fmt], f"a slow fog {marker}-{fmt} [sim:{marker}][sim:slow=4]")
    # Poll while the simulator says it is running, then see what soraweb recorded.
    while simulator.job(job.remote_id)["state"] != "running":
        time.sleep(0.1)
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=None)
    poll.job_poll(job=VideoJob.objects.get(pk=job.pk))
    job.refresh_from_db()
    assert job.is_active and job.state in (JobState.QUEUED, JobState.RUNNING)
    assert job.raw_status == raw
    job = drive(job)
    assert_ready(job, simulator)


@pytest.mark.parametrize("style", ["percent", "string", "fraction", "none", "zero"])
@pytest.mark.parametrize("fmt", ["openai", "newapi"])
def test_every_progress_shape_reaches_ready(fmt, style, catalogue, simulator, member):  # noqa: F811
    job = drive(submit(member, catalogue[fmt], f"a lamp {style}-{fmt} [sim:progress={style}]"))
    assert_ready(job, simulator)
    assert job.progress == 100


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["unified", "openai", "newapi", "chat"])
def test_a_refusal_in_detail_failure_reason_is_shown(fmt, catalogue, member):  # noqa: F811
    job = drive(submit(member, catalogue[fmt], f"a famous face refusal-{fmt} [sim:refusal]"))
    assert job.state == JobState.FAILED
    assert "This content may violate our content policies" in job.error_message
    assert job.error_message.startswith("Refused by content moderation")


def test_a_chinese_refusal_is_recognised_as_moderation(catalogue, member):  # noqa: F811
    job = drive(
        submit(member, catalogue["newapi"], "一个名人 [sim:refusal=内容违规，请修改提示词]")
    )
    assert job.state == JobState.FAILED
    assert job.error_message == "Refused by content moderation: 内容违规，请修改提示词"


def test_the_poll_loop_keeps_working_with_drift(catalogue, simulator, member):  # noqa: F811
    # One pass of the real worker loop over a drifted job and an ordinary one.
    drifted = submit(member, catalogue["newapi"], "a loop drift [sim:nourl][sim:longid]")
    plain = submit(member, catalogue["unified"], "a loop plain")
    for job in (drifted, plain):
        simulator.complete_now(job.remote_id)
    VideoJob.objects.update(next_poll_at=None)
    loop.poll_pass()
    for job in (drifted, plain):
        assert_ready(drive(job), simulator)
