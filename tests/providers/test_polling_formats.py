"""The three polled formats (unified, openai, newapi): what goes on the wire, what comes back."""

from __future__ import annotations

import base64

import pytest

from soraweb.providers import (
    CreateRequest,
    ImageInput,
    ProviderError,
    RemoteState,
    WireFormat,
    make_client,
    openai_size,
)
from soraweb.providers.common import find_video_url
from soraweb.providers.openai_videos import OpenAIVideosClient

PNG = b"\x89PNG\r\n\x1a\nfake"
HOSTED = ImageInput("cat.png", "image/png", PNG, url="https://img.example.com/cat.png")
LOCAL = ImageInput("dog.png", "image/png", PNG)
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


def request(**kwargs) -> CreateRequest:
    values = {
        "model": "sora-2",
        "prompt": "a lighthouse",
        "orientation": "landscape",
        "size": "small",
        "duration": 10,
    }
    values.update(kwargs)
    return CreateRequest(**values)


# -- unified ---------------------------------------------------------------------------------


def test_it_sends_every_required_unified_field(fake):
    @fake.route("POST", "/v1/video/create")
    def create(h):
        h.reply_json(
            200,
            {"id": "sora-2:task_01k6", "status": "pending", "status_update_time": 1759763427208},
        )

    result = make_client(fake.config()).create(request())
    assert fake.seen[0].json() == {
        "images": [],
        "model": "sora-2",
        "orientation": "landscape",
        "prompt": "a lighthouse",
        "size": "small",
        "duration": 10,
    }
    assert fake.seen[0].headers["Content-Type"] == "application/json"
    assert result.remote_id == "sora-2:task_01k6"
    assert result.status.state is RemoteState.QUEUED


def test_it_sends_images_as_urls_or_data_urls_and_lets_extra_fields_override(fake):
    @fake.route("POST", "/v1/video/create")
    def create(h):
        h.reply_json(200, {"id": "t1", "status": "pending"})

    make_client(fake.config()).create(
        request(images=(HOSTED, LOCAL), extra={"watermark": False, "duration": "15"})
    )
    body = fake.seen[0].json()
    assert body["images"] == ["https://img.example.com/cat.png", DATA_URL]
    assert body["watermark"] is False
    assert body["duration"] == "15"


def test_it_refuses_a_chat_shaped_answer_to_a_unified_create(fake):
    @fake.route("POST", "/v1/video/create")
    def chatty(h):
        h.reply_json(
            200,
            {
                "id": "chatcmpl-9",
                "object": "chat.completion",
                "created": 0,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "正在处理..."}}
                ],
                "usage": {"total_tokens": 21},
            },
        )

    with pytest.raises(ProviderError) as caught:
        make_client(fake.config()).create(request())
    assert caught.value.permanent is True
    assert "chat reply instead of a task id" in caught.value.message
    assert "正在处理" in caught.value.message


def test_it_queries_a_unified_job_with_the_id_url_encoded(fake):
    @fake.route("GET", "/v1/video/query")
    def query(h):
        h.reply_json(
            200,
            {
                "id": h.seen.query["id"],
                "status": "processing",
                "video_url": None,
                "detail": {"pending_info": {"progress_pct": 0.37}},
            },
        )

    status = make_client(fake.config()).status("sora-2:task_01k6")
    assert fake.seen[0].raw_query == "id=sora-2%3Atask_01k6"
    assert status.state is RemoteState.RUNNING
    assert status.raw_status == "processing"
    assert status.progress == 37
    assert status.error is None


@pytest.mark.parametrize(
    ("body", "state", "progress", "url", "error"),
    [
        ({"status": "pending"}, RemoteState.QUEUED, None, None, None),
        ({"status": "in_progress", "progress": 55}, RemoteState.RUNNING, 55, None, None),
        (
            {"status": "completed", "video_url": "https://cdn.example.com/a.mp4", "message": "ok"},
            RemoteState.SUCCEEDED,
            100,
            "https://cdn.example.com/a.mp4",
            None,
        ),
        (
            {"status": "failed", "error": {"message": "content policy"}},
            RemoteState.FAILED,
            None,
            None,
            "Refused by content moderation: content policy",
        ),
        (
            {"status": "failed", "fail_reason": "face detected"},
            RemoteState.FAILED,
            None,
            None,
            "face detected",
        ),
        ({"status": "mystery"}, RemoteState.UNKNOWN, None, None, None),
        (
            {"status": "FAILED"},
            RemoteState.FAILED,
            None,
            None,
            "The provider reported the job as failed without giving a reason.",
        ),
    ],
)
def test_it_normalises_unified_status_answers(fake, body, state, progress, url, error):
    @fake.route("GET", "/v1/video/query")
    def query(h):
        h.reply_json(200, body)

    status = make_client(fake.config()).status("t")
    assert (status.state, status.progress, status.video_url, status.error) == (
        state,
        progress,
        url,
        error,
    )
    assert status.raw == body


def test_unified_clients_cannot_remix_or_cancel(fake):
    client = make_client(fake.config())
    assert (client.polls, client.supports_remix, client.supports_cancel) == (True, False, False)
    with pytest.raises(ProviderError):
        client.remix("t", "again")
    with pytest.raises(ProviderError):
        client.cancel("t")
    assert fake.seen == []


# -- openai ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "orientation", "expected"),
    [
        ("small", "portrait", "720x1280"),
        ("small", "landscape", "1280x720"),
        ("large", "portrait", "1024x1792"),
        ("large", "landscape", "1792x1024"),
        ("Large", "Landscape", "1792x1024"),
        ("1280x720", "portrait", "1280x720"),  # explicit sizes pass through
        ("1024X1792", "landscape", "1024x1792"),
    ],
)
def test_it_maps_catalogue_sizes_to_openai_sizes(size, orientation, expected):
    assert openai_size(size, orientation) == expected


@pytest.mark.parametrize(
    ("size", "orientation"), [("medium", "portrait"), ("small", "square"), ("", "")]
)
def test_it_refuses_sizes_openai_has_no_word_for(size, orientation):
    with pytest.raises(ProviderError) as caught:
        openai_size(size, orientation)
    assert caught.value.permanent is True


def video(**kwargs):
    body = {
        "id": "video_123",
        "object": "video",
        "model": "sora-2",
        "status": "queued",
        "progress": 0,
        "created_at": 1_900_000_000,
        "completed_at": None,
        "expires_at": None,
        "size": "720x1280",
        "seconds": "8",
        "error": None,
    }
    body.update(kwargs)
    return body


def test_it_creates_openai_videos_as_multipart_with_seconds_as_a_string(fake):
    @fake.route("POST", "/v1/videos")
    def create(h):
        h.reply_json(200, video())

    result = make_client(fake.config(wire_format=WireFormat.OPENAI)).create(
        request(orientation="portrait", duration=8)
    )
    seen = fake.seen[0]
    assert seen.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert seen.form() == {
        "prompt": (None, b"a lighthouse"),
        "model": (None, b"sora-2"),
        "seconds": (None, b"8"),
        "size": (None, b"720x1280"),
    }
    assert result.remote_id == "video_123"
    assert result.status.state is RemoteState.QUEUED


def test_it_sends_the_first_image_as_the_input_reference_file(fake):
    @fake.route("POST", "/v1/videos")
    def create(h):
        h.reply_json(200, video())

    make_client(fake.config(wire_format=WireFormat.OPENAI)).create(
        request(size="large", images=(LOCAL, HOSTED), extra={"private": True})
    )
    form = fake.seen[0].form()
    assert form["input_reference"] == ("dog.png", PNG)
    assert form["size"] == (None, b"1792x1024")
    assert form["private"] == (None, b"true")


def test_it_reads_an_openai_video_and_the_poll_after_header(fake):
    @fake.route("GET", "/v1/videos/video_123")
    def get(h):
        h.reply_json(
            200, video(status="in_progress", progress=42), headers={"openai-poll-after-ms": "12000"}
        )

    status = make_client(fake.config(wire_format=WireFormat.OPENAI)).status("video_123")
    assert (status.state, status.progress, status.poll_after) == (RemoteState.RUNNING, 42, 12.0)
    assert status.video_url is None  # the bytes come from /videos/{id}/content


def test_it_reads_an_openai_failure_reason(fake):
    @fake.route("GET", "/v1/videos/video_123")
    def get(h):
        h.reply_json(
            200,
            video(
                status="failed",
                error={"code": "moderation_blocked", "message": "Your request was blocked."},
            ),
        )

    status = make_client(fake.config(wire_format=WireFormat.OPENAI)).status("video_123")
    assert status.state is RemoteState.FAILED
    assert status.error == "Your request was blocked."
    assert status.poll_after is None


@pytest.mark.parametrize(
    ("body", "state"),
    [
        (video(status="completed", progress=100, expires_at=1_000), RemoteState.EXPIRED),
        (video(status="completed", progress=100, expires_at=3_000), RemoteState.SUCCEEDED),
        (video(status="completed", progress=100, expires_at=None), RemoteState.SUCCEEDED),
        (video(status="expired"), RemoteState.EXPIRED),
        (video(status="in_progress", expires_at=1_000), RemoteState.RUNNING),
    ],
)
def test_it_calls_a_completed_video_past_expires_at_expired(fake, body, state):
    @fake.route("GET", "/v1/videos/video_123")
    def get(h):
        h.reply_json(200, body)

    client = OpenAIVideosClient(fake.config(wire_format=WireFormat.OPENAI), clock=lambda: 2_000.0)
    status = client.status("video_123")
    assert status.state is state
    if state is RemoteState.EXPIRED:
        assert status.error


def test_it_puts_awkward_ids_safely_into_the_path(fake):
    @fake.route("GET", "/v1/videos/a%2Fb%3Ac")
    def get(h):
        h.reply_json(200, video(id="a/b:c"))

    assert (
        make_client(fake.config(wire_format=WireFormat.OPENAI)).status("a/b:c").state
        is RemoteState.QUEUED
    )


def test_it_remixes_and_cancels_openai_videos(fake):
    @fake.route("POST", "/v1/videos/video_123/remix")
    def remix(h):
        h.reply_json(200, video(id="video_456", remixed_from_video_id="video_123"))

    @fake.route("DELETE", "/v1/videos/video_123")
    def delete(h):
        h.reply_json(200, {"id": "video_123", "object": "video.deleted", "deleted": True})

    client = make_client(fake.config(wire_format=WireFormat.OPENAI))
    assert (client.supports_remix, client.supports_cancel) == (True, True)
    assert client.remix("video_123", "make it night").remote_id == "video_456"
    assert fake.seen[0].json() == {"prompt": "make it night"}
    client.cancel("video_123")
    assert fake.seen[1].method == "DELETE"


def test_it_treats_cancelling_a_gone_video_as_done_but_not_other_errors(fake):
    @fake.route("DELETE", "/v1/videos/gone")
    def gone(h):
        h.reply_json(404, {"error": {"message": "not found"}})

    @fake.route("DELETE", "/v1/videos/locked")
    def locked(h):
        h.reply_json(409, {"error": {"message": "cannot delete a running video"}})

    client = make_client(fake.config(wire_format=WireFormat.OPENAI))
    client.cancel("gone")
    with pytest.raises(ProviderError) as caught:
        client.cancel("locked")
    assert "cannot delete a running video" in caught.value.message


def test_it_refuses_an_unknown_content_variant(fake):
    with pytest.raises(ProviderError):
        make_client(fake.config(wire_format=WireFormat.OPENAI)).open_content(
            "v", video_url=None, variant="poster"
        )
    assert fake.seen == []


# -- newapi ----------------------------------------------------------------------------------


def test_it_sends_the_newapi_create_body(fake):
    @fake.route("POST", "/v1/video/generations")
    def create(h):
        h.reply_json(200, {"task_id": "task_abc", "status": "queued"})

    result = make_client(fake.config(wire_format=WireFormat.NEWAPI)).create(
        request(images=(HOSTED, LOCAL), orientation="portrait", duration=15)
    )
    assert fake.seen[0].json() == {
        "prompt": "a lighthouse",
        "model": "sora-2",
        "images": ["https://img.example.com/cat.png", DATA_URL],
        "image": "https://img.example.com/cat.png",
        "size": "small",
        "duration": 15,
        "metadata": {"orientation": "portrait"},
    }
    assert result.remote_id == "task_abc"
    assert result.status.state is RemoteState.QUEUED


def test_it_reads_a_wrapped_newapi_create_answer_and_omits_image_without_images(fake):
    @fake.route("POST", "/v1/video/generations")
    def create(h):
        h.reply_json(
            200,
            {
                "code": "success",
                "message": "",
                "data": {"task_id": "task_w", "status": "SUBMITTED"},
            },
        )

    result = make_client(fake.config(wire_format=WireFormat.NEWAPI)).create(request())
    assert "image" not in fake.seen[0].json()
    assert result.remote_id == "task_w"
    assert result.status.state is RemoteState.QUEUED


@pytest.mark.parametrize(
    ("body", "state", "progress", "url", "error"),
    [
        (
            {"code": "success", "data": {"task_id": "t", "status": "NOT_START", "progress": "0%"}},
            RemoteState.QUEUED,
            0,
            None,
            None,
        ),
        (
            {
                "code": "success",
                "data": {"task_id": "t", "status": "IN_PROGRESS", "progress": "45%"},
            },
            RemoteState.RUNNING,
            45,
            None,
            None,
        ),
        (
            {
                "code": "success",
                "data": {
                    "task_id": "t",
                    "status": "SUCCESS",
                    "progress": "100%",
                    "result_url": "https://cdn.example.com/r.mp4",
                },
            },
            RemoteState.SUCCEEDED,
            100,
            "https://cdn.example.com/r.mp4",
            None,
        ),
        (
            {
                "code": "success",
                "data": {"task_id": "t", "status": "FAILURE", "fail_reason": "blocked"},
            },
            RemoteState.FAILED,
            None,
            None,
            "blocked",
        ),
        (
            {"code": "success", "data": {"task_id": "t", "status": "UNKNOWN"}},
            RemoteState.UNKNOWN,
            None,
            None,
            None,
        ),
        (
            {"task_id": "t", "status": "in_progress", "progress": 30},
            RemoteState.RUNNING,
            30,
            None,
            None,
        ),
        (
            {"task_id": "t", "status": "completed", "url": "https://cdn.example.com/f.mp4"},
            RemoteState.SUCCEEDED,
            100,
            "https://cdn.example.com/f.mp4",
            None,
        ),
        (
            {"task_id": "t", "status": "failed", "error": {"message": "quota"}},
            RemoteState.FAILED,
            None,
            None,
            "quota",
        ),
    ],
)
def test_it_accepts_both_newapi_status_shapes(fake, body, state, progress, url, error):
    @fake.route("GET", "/v1/video/generations/t")
    def get(h):
        h.reply_json(200, body)

    status = make_client(fake.config(wire_format=WireFormat.NEWAPI)).status("t")
    assert (status.state, status.progress, status.video_url, status.error) == (
        state,
        progress,
        url,
        error,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"code": "task_not_exist", "message": "task_not_exist", "data": None},
            "The provider reported an error (code task_not_exist)",
        ),
        (
            {"code": "quota_exceeded", "message": "余额不足", "data": None},
            "The provider reported an error (code quota_exceeded): 余额不足",
        ),
    ],
)
def test_it_raises_the_message_of_a_newapi_error_code(fake, body, message):
    @fake.route("GET", "/v1/video/generations/t")
    def get(h):
        h.reply_json(200, body)

    with pytest.raises(ProviderError) as caught:
        make_client(fake.config(wire_format=WireFormat.NEWAPI)).status("t")
    assert caught.value.permanent is True
    assert caught.value.message == message


# -- drift: content without a URL, cancel without DELETE, tolerant statuses ------------------

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


@pytest.mark.parametrize(
    ("body", "url", "source"),
    [
        ({"result_url": "https://cdn.example/a.mp4"}, "https://cdn.example/a.mp4", "result_url"),
        (
            {"metadata": {"url": "https://cdn.example/b.mp4"}},
            "https://cdn.example/b.mp4",
            "metadata.url",
        ),
        ({"output": ["https://cdn.example/c.mp4"]}, "https://cdn.example/c.mp4", "output[0]"),
        (
            {"output": [{"url": "https://cdn.example/d.mp4"}]},
            "https://cdn.example/d.mp4",
            "output[0].url",
        ),
        (
            {"data": [{"url": "https://cdn.example/e.mp4"}]},
            "https://cdn.example/e.mp4",
            "data[0].url",
        ),
        ({"result_url": "", "url": "not a link", "video_url": None}, None, None),
    ],
)
def test_it_finds_the_video_url_wherever_relays_put_it(body, url, source):
    assert find_video_url(body) == (url, source)


def test_a_newapi_success_without_url_or_content_endpoint_fails_clearly(fake):
    @fake.route("GET", "/v1/video/generations/task_1")
    def status(h):
        h.reply_json(
            200,
            {
                "code": "success",
                "data": {
                    "task_id": "task_1",
                    "status": "SUCCESS",
                    "progress": "100%",
                    "result_url": "",
                },
            },
        )

    @fake.route("GET", "/v1/videos/task_1/content")
    def content(h):
        h.reply_json(404, {"error": {"message": "route not found"}})

    client = make_client(fake.config(WireFormat.NEWAPI))
    done = client.status("task_1")
    assert done.state is RemoteState.SUCCEEDED
    assert done.video_url is None and done.video_source == "content endpoint"
    with pytest.raises(ProviderError) as caught:
        client.open_content("task_1", video_url=None)
    message = caught.value.message
    assert "gave no link" in message and "/videos/{id}/content" in message
    assert "HTTP 404" in message
    assert caught.value.permanent


def test_an_openai_gateway_without_a_content_route_falls_back_to_metadata_url(fake):
    @fake.route("GET", "/v1/videos/vid_1")
    def status(h):
        h.reply_json(
            200,
            {
                "id": "vid_1",
                "status": "completed",
                "metadata": {"url": f"{fake.base_url}/files/vid_1.mp4"},
            },
        )

    @fake.route("GET", "/v1/videos/vid_1/content")
    def content(h):
        h.reply_json(405, {"detail": "Method Not Allowed"})

    @fake.route("GET", "/v1/files/vid_1.mp4")
    def file(h):
        h.reply(200, MP4_HEAD, content_type="video/mp4")

    client = make_client(fake.config(WireFormat.OPENAI))
    done = client.status("vid_1")
    assert done.video_url == f"{fake.base_url}/files/vid_1.mp4"
    with client.open_content("vid_1", video_url=done.video_url) as stream:
        assert b"".join(stream.chunks()) == MP4_HEAD


def test_a_thumbnail_that_is_an_mp4_is_refused_after_the_first_bytes(fake):
    @fake.route("GET", "/v1/videos/vid_2/content")
    def content(h):
        h.reply(200, MP4_HEAD * 4000, content_type="application/octet-stream")

    client = make_client(fake.config(WireFormat.OPENAI))
    with pytest.raises(ProviderError, match="sent the video where its thumbnail was asked"):
        client.open_content("vid_2", variant="thumbnail")
    with client.open_content("vid_2", variant="video") as stream:
        assert len(b"".join(stream.chunks())) == len(MP4_HEAD) * 4000


def test_a_cancel_answered_405_says_the_gateway_could_not_cancel_upstream(fake):
    @fake.route("DELETE", "/v1/videos/vid_3")
    def delete(h):
        h.reply_json(405, {"detail": "Method Not Allowed"})

    with pytest.raises(ProviderError) as caught:
        make_client(fake.config(WireFormat.OPENAI)).cancel("vid_3")
    assert "could not cancel the job upstream" in caught.value.message
    assert "405" in caught.value.message


@pytest.mark.parametrize(
    ("status", "progress", "state", "percent"),
    [
        ("SUCCESS", 0, RemoteState.SUCCEEDED, 100),
        ("SUCCESS", None, RemoteState.SUCCEEDED, 100),
        ("unknown", "40%", RemoteState.UNKNOWN, 40),
        ("", 1.0, RemoteState.UNKNOWN, 100),
        ("IN_PROGRESS", 100, RemoteState.RUNNING, 100),
        ("IN_PROGRESS", "100%", RemoteState.RUNNING, 100),
    ],
)
def test_it_tolerates_odd_statuses_and_progress(fake, status, progress, state, percent):
    @fake.route("GET", "/v1/video/generations/t9")
    def query(h):
        body = {"task_id": "t9", "status": status, "result_url": "https://cdn.example/v.mp4"}
        if progress is not None:
            body["progress"] = progress
        h.reply_json(200, body)

    got = make_client(fake.config(WireFormat.NEWAPI)).status("t9")
    assert got.state is state
    assert got.raw_status == status
    assert got.progress == percent
