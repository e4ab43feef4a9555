"""The chat-completions format: reading a generation out of a Server-Sent-Events stream."""

from __future__ import annotations

import json
import threading
import time

import pytest

from soraweb.providers import (
    CreateRequest,
    ImageInput,
    JobStatus,
    ProviderError,
    RemoteState,
    WireFormat,
    make_client,
)
from soraweb.providers.chat import extract_video_url, find_failure, interpret, progress_from_text

# The spec's real example lines (section 2).
QUEUED = "> ⌛️ 任务正在队列中，请耐心等待...\n\n"
PROGRESS = "> 🏃 进度 42..54..67..\n\n"
DONE_LINK = "> ✅ 视频生成成功，[点击这里](https://cdn.example.com/v/x.mp4) 查看视频~~~\n"
DONE_VIDEO = "```html\n<video src='https://cdn.example.com/v/y.mp4' controls></video>\n```\n"
FAILED = "❌ 生成失败: 内容不符合安全策略\n"
EN_PROGRESS = "**Video Generation Progress**: 42% (processing)\n"

ROLE_CHUNK = json.dumps(
    {"id": "chatcmpl-abc", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
)
REQUEST = CreateRequest(
    model="sora2-landscape-10s", prompt="a fox", orientation="landscape", size="small", duration=10
)


# -- reading the text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PROGRESS, 67),
        ("> 🏃 进度 42..", 42),
        ("> 🏃 进度 42..54..67..\n> 🏃 进度 88..", 88),
        ("进度：12% ", 12),
        ("进度 42..54 (预计 3 分钟)", 54),  # a number after the run is not progress
        (EN_PROGRESS, 42),
        (
            EN_PROGRESS + "**Video Generation Progress**: 90% (processing)",
            90,
        ),
        ("进度 30..\n**Video Generation Progress**: 61% (processing)", 61),
        ("**Video Generation Progress**: 20% (processing)\n进度 70..", 70),
        (QUEUED, None),
        ("a prompt about 50% off sales", None),
        ("", None),
    ],
)
def test_it_reads_progress_from_chat_text(text, expected):
    assert progress_from_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DONE_LINK, "https://cdn.example.com/v/x.mp4"),
        (DONE_VIDEO, "https://cdn.example.com/v/y.mp4"),
        (
            '<video controls src="https://cdn.example.com/a.mp4?x=1&amp;y=2"></video>',
            "https://cdn.example.com/a.mp4?x=1&y=2",
        ),
        ("视频地址: https://cdn.example.com/v/z.mp4~~~", "https://cdn.example.com/v/z.mp4"),
        (
            "see https://help.example.com/faq. result https://cdn.example.com/v/z.mp4.",
            "https://cdn.example.com/v/z.mp4",
        ),
        ("only https://cdn.example.com/v/page here", "https://cdn.example.com/v/page"),
        # The markdown link wins over a bare .mp4 elsewhere; the video tag over a bare URL.
        (
            "https://cdn.example.com/preview.mp4 then [final](https://cdn.example.com/final)",
            "https://cdn.example.com/final",
        ),
        (DONE_VIDEO + " https://cdn.example.com/other.mp4", "https://cdn.example.com/v/y.mp4"),
        ('[看这里](<https://cdn.example.com/b.mp4> "title")', "https://cdn.example.com/b.mp4"),
        ("[local](/relative/x.mp4) and javascript:alert(1)", None),
        (QUEUED + PROGRESS, None),
    ],
)
def test_it_extracts_the_result_url_in_the_spec_order(text, expected):
    assert extract_video_url(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (FAILED, "内容不符合安全策略"),
        ("> ❌ 生成失败：face detected in the input image\n", "face detected in the input image"),
        ("❌ timeout upstream", "timeout upstream"),
        ("视频生成失败，原因: 违规内容", "原因: 违规内容"),
        ("❌ 生成失败:\n> 图片包含真人\n", "图片包含真人"),
        ("❌", "❌"),
    ],
)
def test_it_reads_the_failure_reason(text, reason):
    assert find_failure(text)[0] == reason


def test_it_lets_a_later_result_link_overrule_an_earlier_failure():
    status = interpret("❌ 第一次生成失败，正在重试\n" + PROGRESS + DONE_LINK)
    assert status.state is RemoteState.SUCCEEDED
    assert status.video_url == "https://cdn.example.com/v/x.mp4"


def test_it_does_not_take_a_help_link_in_a_failure_line_for_the_video():
    status = interpret("❌ 生成失败: 详见 [文档](https://docs.example.com/limits)\n")
    assert status.state is RemoteState.FAILED
    assert "详见" in status.error


def test_it_decides_nothing_from_progress_alone():
    assert interpret(QUEUED + PROGRESS) is None


# -- over HTTP -------------------------------------------------------------------------------


def delta(text: str, key: str = "content", chat_id: str = "chatcmpl-abc") -> str:
    return json.dumps(
        {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "sora-2",
            "choices": [{"index": 0, "delta": {key: text}, "finish_reason": None}],
        }
    )


def sse_handler(
    *pieces: str, done: bool = True, chunked: bool = True, end: str = "close", pause: float = 0.0
):
    def handler(h):
        h.start_stream(chunked=chunked)
        h.send_part(f"data: {ROLE_CHUNK}\n\n")
        for piece in pieces:
            h.send_part(f"data: {piece}\n\n")
            if pause:
                time.sleep(pause)
        if done:
            h.send_part("data: [DONE]\n\n")
        if end == "close":
            h.end_stream()
        elif end == "drop":
            h.drop()
        elif end == "hang":
            h.hang()

    return handler


def chat_client(fake, **config):
    return make_client(fake.config(wire_format=WireFormat.CHAT, **config))


def test_it_streams_a_generation_to_its_video_link(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta(QUEUED), delta("> 🏃 进度 42.."), delta("54..67.."), delta("\n\n" + DONE_LINK)
    )
    updates: list[JobStatus] = []
    result = chat_client(fake).create(REQUEST, on_progress=updates.append)
    assert result.remote_id == "chatcmpl-abc"
    assert result.status.state is RemoteState.SUCCEEDED
    assert result.status.video_url == "https://cdn.example.com/v/x.mp4"
    assert result.status.progress == 100
    assert [(u.state, u.progress) for u in updates] == [
        (RemoteState.QUEUED, None),
        (RemoteState.RUNNING, 42),
        (RemoteState.RUNNING, 67),
    ]
    assert updates[0].raw == {"id": "chatcmpl-abc"}


def test_it_sends_the_spec_chat_body(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(delta(DONE_LINK))
    chat_client(fake).create(REQUEST)
    assert fake.seen[0].json() == {
        "model": "sora2-landscape-10s",
        "messages": [{"role": "user", "content": "a fox"}],
        "stream": True,
        "max_tokens": 1000,
        "tools": ["function:generate_animate"],
        "tool_choice": {"type": "function", "function": {"name": "generate_animate"}},
    }
    assert "text/event-stream" in fake.seen[0].headers["Accept"]


def test_it_sends_images_as_image_url_parts(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(delta(DONE_LINK))
    image = ImageInput("a.jpg", "image/jpeg", b"\xff\xd8\xff", url="https://img.example.com/a.jpg")
    chat_client(fake).create(
        CreateRequest(
            model="sora-2",
            prompt="animate",
            orientation="portrait",
            size="small",
            duration=10,
            images=(image,),
        )
    )
    assert fake.seen[0].json()["messages"][0]["content"] == [
        {"type": "text", "text": "animate"},
        {"type": "image_url", "image_url": {"url": "https://img.example.com/a.jpg"}},
    ]


def test_it_follows_progress_across_interleaved_channels(fake):
    # Progress numbers trickle in reasoning_content while content carries other lines.
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta("> 🏃 进度 ", key="reasoning_content"),
        delta("16..", key="reasoning_content"),
        delta("**Video Generation Progress**: 25% (processing)\n\n"),
        delta("31..", key="reasoning_content"),
        delta(DONE_LINK),
    )
    updates: list[JobStatus] = []
    chat_client(fake).create(REQUEST, on_progress=updates.append)
    assert [u.progress for u in updates if u.progress is not None] == [16, 25, 31]


def test_it_reads_reasoning_content_too(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta(EN_PROGRESS, key="reasoning_content"), delta(DONE_VIDEO, key="reasoning_content")
    )
    updates: list[JobStatus] = []
    result = chat_client(fake).create(REQUEST, on_progress=updates.append)
    assert result.status.video_url == "https://cdn.example.com/v/y.mp4"
    assert (RemoteState.RUNNING, 42) in [(u.state, u.progress) for u in updates]


def test_it_reports_progress_while_the_stream_is_still_open(fake):
    # The server sends one progress line, then waits until the client has reported it: this
    # only finishes if lines are handled as they arrive, not when a buffer fills up.
    seen_progress = threading.Event()

    @fake.route("POST", "/v1/chat/completions")
    def stream(h):
        h.start_stream(chunked=False)  # a close-delimited body, the hardest case for buffering
        h.send_part(f"data: {delta('进度 10..')}\n\n")
        seen_progress.wait(3)
        h.send_part(f"data: {delta(DONE_LINK)}\n\ndata: [DONE]\n\n")

    def on_progress(status: JobStatus) -> None:
        if status.progress == 10:
            seen_progress.set()

    started = time.monotonic()
    result = chat_client(fake).create(REQUEST, on_progress=on_progress)
    assert time.monotonic() - started < 2
    assert seen_progress.is_set()
    assert result.status.state is RemoteState.SUCCEEDED


def test_it_keeps_streaming_when_the_progress_callback_fails(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(delta("进度 5.."), delta(DONE_LINK))

    def broken(status: JobStatus) -> None:
        raise RuntimeError("database is locked")

    assert (
        chat_client(fake).create(REQUEST, on_progress=broken).status.state is RemoteState.SUCCEEDED
    )


def test_it_reports_a_failed_generation_with_its_reason(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(delta(QUEUED), delta(FAILED))
    result = chat_client(fake).create(REQUEST)
    assert result.status.state is RemoteState.FAILED
    assert result.status.error == "内容不符合安全策略"
    assert result.remote_id == "chatcmpl-abc"


def test_it_reports_an_error_object_inside_the_stream_as_a_failure(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        json.dumps({"error": {"message": "upstream quota exhausted", "type": "upstream_error"}})
    )
    result = chat_client(fake).create(REQUEST)
    assert result.status.state is RemoteState.FAILED
    assert result.status.error == "upstream quota exhausted"


def test_it_fails_an_answer_that_ended_without_a_link(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta("生成动画的参数已配置,正在处理...")
    )
    result = chat_client(fake).create(REQUEST)
    assert result.status.state is RemoteState.FAILED
    assert "without a link" in result.status.error
    assert "正在处理" in result.status.error


@pytest.mark.parametrize("end", ["drop", "close"])
def test_it_calls_a_stream_that_stopped_early_outcome_unknown(fake, end):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta(QUEUED), delta("> 🏃 进度 42..54.."), done=False, end=end
    )
    with pytest.raises(ProviderError) as caught:
        chat_client(fake).create(REQUEST)
    error = caught.value
    assert error.outcome_unknown is True
    assert error.permanent is False
    assert "may still have been generated and billed" in error.message
    assert "chatcmpl-abc" in error.message
    assert "54%" in error.message


def test_it_calls_a_close_delimited_stream_that_ended_early_outcome_unknown(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta(PROGRESS), done=False, chunked=False
    )
    with pytest.raises(ProviderError) as caught:
        chat_client(fake).create(REQUEST)
    assert caught.value.outcome_unknown is True


def test_it_keeps_a_result_that_arrived_before_the_stream_dropped(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta(DONE_LINK), done=False, end="drop"
    )
    assert chat_client(fake).create(REQUEST).status.state is RemoteState.SUCCEEDED


def test_it_times_out_per_chunk_not_per_request(fake):
    # Six progress lines 0.1 s apart outlast the 0.3 s read timeout as a whole, never per chunk.
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        *[delta(f"进度 {n}..") for n in range(10, 70, 10)], delta(DONE_LINK), pause=0.1
    )
    result = chat_client(fake, stream_read_timeout=0.3).create(REQUEST)
    assert result.status.state is RemoteState.SUCCEEDED


def test_it_calls_a_stream_that_went_quiet_outcome_unknown(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        delta(PROGRESS), done=False, end="hang"
    )
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        chat_client(fake, stream_read_timeout=0.3).create(REQUEST)
    assert time.monotonic() - started < 2
    assert caught.value.outcome_unknown is True
    assert "went quiet for more than 0.3 s" in caught.value.message


def test_it_stops_a_stream_that_runs_past_its_overall_limit(fake):
    fake.routes[("POST", "/v1/chat/completions")] = sse_handler(
        *[delta(f"进度 {n}..") for n in range(1, 20)], pause=0.05
    )
    with pytest.raises(ProviderError) as caught:
        chat_client(fake, stream_max_seconds=0.3).create(REQUEST)
    assert caught.value.outcome_unknown is True
    assert "ran longer than" in caught.value.message


def test_it_handles_data_lines_without_blank_separators_and_keepalives(fake):
    @fake.route("POST", "/v1/chat/completions")
    def stream(h):
        h.start_stream()
        h.send_part(
            f": keep-alive\nevent: message\ndata: {delta(QUEUED)}\r\ndata: {delta(PROGRESS)}\n"
        )
        h.send_part(f"data: {delta(DONE_LINK)}\ndata: [DONE]\n")
        h.end_stream()

    result = chat_client(fake).create(REQUEST)
    assert result.status.video_url == "https://cdn.example.com/v/x.mp4"


def test_it_accepts_a_non_streamed_chat_completion(fake):
    @fake.route("POST", "/v1/chat/completions")
    def whole(h):
        h.reply_json(
            200,
            {
                "id": "chatcmpl-123",
                "object": "chat.completion",
                "created": 1677652288,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": QUEUED + PROGRESS + DONE_LINK},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21},
            },
        )

    result = chat_client(fake).create(REQUEST)
    assert result.remote_id == "chatcmpl-123"
    assert result.status.video_url == "https://cdn.example.com/v/x.mp4"


def test_it_generates_a_remote_id_when_the_stream_has_none(fake):
    @fake.route("POST", "/v1/chat/completions")
    def anonymous(h):
        h.start_stream()
        h.send_part(f"data: {json.dumps({'choices': [{'delta': {'content': DONE_LINK}}]})}\n\n")
        h.end_stream()

    first = chat_client(fake).create(REQUEST)
    second = chat_client(fake).create(REQUEST)
    assert first.remote_id.startswith("chat-")
    assert first.remote_id != second.remote_id
    assert first.status.state is RemoteState.SUCCEEDED


def test_chat_jobs_cannot_be_polled(fake):
    client = chat_client(fake)
    assert client.polls is False
    with pytest.raises(ProviderError) as caught:
        client.status("chatcmpl-abc")
    assert caught.value.permanent is True
    assert fake.seen == []


def test_it_downloads_a_chat_result_from_the_providers_origin(fake):
    @fake.route("GET", "/files/x.mp4")
    def video(h):
        h.reply(200, b"\x00\x00\x00\x18ftypmp42", content_type="video/mp4")

    with chat_client(fake).open_content(
        "chatcmpl-abc", video_url=f"{fake.origin}/files/x.mp4"
    ) as stream:
        assert b"".join(stream.chunks()) == b"\x00\x00\x00\x18ftypmp42"
