"""The chat-completions format (spec section 2): SSE progress text and a result URL."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from tests.simulator.helpers import sse_events


def chat_body(prompt, *, model="sora-2", stream=True, content=None):
    return {
        "model": model,
        "messages": [{"role": "user", "content": content if content is not None else prompt}],
        "stream": stream,
        "max_tokens": 1000,
        "tools": ["function:generate_animate"],
        "tool_choice": {"type": "function", "function": {"name": "generate_animate"}},
    }


def test_it_streams_progress_text_and_the_video_url(sim, tag):
    arrivals = []
    with requests.post(
        f"{sim.base_url}/chat/completions",
        json=chat_body(f"{tag} astronaut dog", model="sora2-landscape-10s"),
        stream=True,
        timeout=(5, 5),
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        events = []
        for line in answer.iter_lines(decode_unicode=True):
            arrivals.append(time.monotonic())
            if line.startswith("data: "):
                events.append(line[len("data: ") :])

    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks)
    assert "> ⌛️ 任务正在队列中，请耐心等待..." in reasoning
    assert re.search(r"> 🏃 进度 \d+\.\.", reasoning)
    assert re.search(r"\*\*Video Generation Progress\*\*: \d+% \(processing\)", content)
    link = re.search(r"> ✅ 视频生成成功，\[点击这里\]\((\S+?)\) 查看视频~~~", content)
    assert link
    assert f"<video src='{link.group(1)}' controls></video>" in content
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # Something arrives at least every ~0.5 s, so a per-chunk read timeout never fires.
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) < 0.8

    job = sim.job(chunks[0]["id"])
    assert job["format"] == "chat"
    assert job["orientation"] == "landscape"
    assert job["seconds"] == 10
    video = requests.get(link.group(1), timeout=10)
    assert video.status_code == 200
    assert video.content == sim.video_bytes(job["id"])


def test_it_takes_text_and_image_parts_and_answers_without_stream(sim, tag):
    content = [
        {"type": "text", "text": f"{tag} make it dance"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]

    answer = requests.post(
        f"{sim.base_url}/chat/completions",
        json=chat_body(None, stream=False, content=content),
        timeout=10,
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["object"] == "chat.completion"
    text = body["choices"][0]["message"]["content"]
    assert "视频生成成功" in text
    assert ".mp4" in text
    job = sim.job(body["id"])
    assert job["prompt"] == f"{tag} make it dance"
    assert job["images"] == ["https://example.com/cat.png"]
    assert job["orientation"] == "portrait"


def test_it_reports_a_failed_generation_in_the_stream(sim, tag):
    with requests.post(
        f"{sim.base_url}/chat/completions",
        json=chat_body(f"{tag} [sim:moderation]"),
        stream=True,
        timeout=(5, 5),
    ) as answer:
        events = sse_events(answer)

    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert events[-1] == "[DONE]"
    assert (
        "❌ 生成失败: The prompt was flagged by content moderation: depicts a real person" in text
    )
    assert ".mp4" not in text


def test_it_cuts_a_stream_midway_without_done(sim, tag):
    events = []
    with (
        requests.post(
            f"{sim.base_url}/chat/completions",
            json=chat_body(f"{tag} [sim:drop]"),
            stream=True,
            timeout=(5, 5),
        ) as answer,
        pytest.raises(requests.exceptions.ChunkedEncodingError),
    ):
        for line in answer.iter_lines(decode_unicode=True):
            events.append(line)

    assert events  # it did start streaming
    assert "data: [DONE]" not in events
    assert not any("视频生成成功" in e for e in events)
    assert sim.creates_for_prompt(tag) == 1


def test_it_rejects_a_chat_request_without_a_user_message(sim):
    answer = requests.post(
        f"{sim.base_url}/chat/completions",
        json={"model": "sora-2", "messages": [{"role": "system", "content": "hi"}]},
        timeout=5,
    )

    assert answer.status_code == 400
    assert "user message" in answer.json()["error"]["message"]


def test_it_keeps_a_quiet_stream_alive_at_least_every_half_second(sim, tag):
    # A stuck job stops making progress, so only keep-alive chunks can arrive.
    arrivals = []
    with requests.post(
        f"{sim.base_url}/chat/completions",
        json=chat_body(f"{tag} [sim:stuck]"),
        stream=True,
        timeout=(5, 5),
    ) as answer:
        for line in answer.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                arrivals.append(time.monotonic())
            if arrivals and arrivals[-1] - arrivals[0] > 2.5:
                break

    (job,) = [j for j in sim.jobs() if tag in j["prompt"]]
    assert job["progress"] == 0.5
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) < 0.8
