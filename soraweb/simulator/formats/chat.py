"""Format 2, chat: ``POST /v1/chat/completions``, the video made inside a chat completion
(``stream: true`` as SSE progress lines, ``false`` as one completion at the end).

Ids are ``chatcmpl-...``; orientation and length come from the model name, else the prompt.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from .. import drift
from .. import faults as faults_mod
from ..http import Abort, BaseHandler, Route, api_error
from ..store import Job, JobView
from .shared import chat_completion_body, media_of

QUEUED_LINE = "> ⌛️ 任务正在队列中，请耐心等待...\n\n"
PROGRESS_PREFIX = "> 🏃 进度 "

ROUTES: list[Route] = [
    ("POST", re.compile(r"/v1/chat/completions"), "chat_completions", True),
]


class ChatRoutes(BaseHandler):
    """The chat format's handler: the create answers only once the job has ended."""

    def h_chat_completions(self) -> None:
        sim = self.sim
        data = self._json()
        model = data.get("model")
        if not isinstance(model, str) or not model.strip():
            raise api_error(400, "Field 'model' is required.", param="model")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise api_error(400, "Field 'messages' must be a non-empty array.", param="messages")
        prompt, images = _chat_prompt(messages)
        if not prompt:
            raise api_error(400, "No user message with text found in 'messages'.", param="messages")
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise api_error(400, "Field 'stream' must be a boolean.", param="stream")
        orientation, seconds, large = _chat_params(model, prompt)
        refusal = drift.string_tools_error(
            faults_mod.parse(sim.drift_markers + prompt), data.get("tools")
        )
        if refusal:
            raise api_error(400, refusal, param="tools", code="invalid_type")
        faults = self._create_gate(prompt)
        job = sim._new_job(
            format="chat",
            job_id=drift.job_id(faults, f"chatcmpl-{secrets.token_hex(14)}"),
            prompt=prompt,
            model=model,
            orientation=orientation,
            size="large" if large else "small",
            seconds=seconds,
            large=large,
            images=images,
            faults=faults,
            media=media_of(sim.rule_for(model), "chat", {"content": images}),
        )
        self._after_store(job)
        if stream:
            self._chat_stream(job)
        else:
            self._chat_blocking(job)

    def _result_text(self, job: Job, view: JobView) -> str:
        if view.state == "failed":
            return f"❌ 生成失败: {view.error}\n"
        url = self.sim.file_url(job, "mp4")
        parts = []
        if self.sim.chat_result_style in ("both", "markdown"):
            parts.append(f"> ✅ 视频生成成功，[点击这里]({url}) 查看视频~~~\n\n")
        if self.sim.chat_result_style in ("both", "html"):
            parts.append(f"```html\n<video src='{url}' controls></video>\n```\n")
        return "".join(parts)

    def _wait_terminal(self, job: Job, on_tick: Callable[[JobView], None] | None) -> JobView:
        while True:
            view = self.sim.view(job)
            if on_tick is not None:
                on_tick(view)
            if view.terminal:
                return view
            if self.sim._sleep(0.25):
                raise Abort

    def _chat_blocking(self, job: Job) -> None:
        def watch(view: JobView) -> None:
            if job.faults.drop and (view.progress >= 0.4 or view.terminal):
                raise Abort

        view = self._wait_terminal(job, watch)
        text = QUEUED_LINE + PROGRESS_PREFIX + f"{int(view.progress * 100)}..\n\n"
        text += self._result_text(job, view)
        self._send(200, chat_completion_body(job.id, job.model, text))

    def _chat_stream(self, job: Job) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        created = int(self.sim.clock.now())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            payload = {
                "id": job.id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": job.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            line = "data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            self._write_chunk((line + "\n\n").encode())
            state["last_write"] = time.monotonic()

        state: dict[str, Any] = {"last_write": time.monotonic(), "pct": -1, "quarter": 0}
        self._write_chunk(b": keep-alive\n\n")
        chunk({"role": "assistant", "content": ""})
        chunk({"reasoning_content": QUEUED_LINE})

        def on_tick(view: JobView) -> None:
            if job.faults.drop and (view.progress >= 0.4 or view.terminal):
                # Cut the stream the way a dying proxy does: no [DONE], no final chunk.
                raise Abort
            if view.state == "running":
                if state["pct"] < 0:
                    chunk({"reasoning_content": PROGRESS_PREFIX})
                pct = int(view.progress * 100)
                if pct > state["pct"]:
                    chunk({"reasoning_content": f"{pct}.."})
                    state["pct"] = pct
                    # The wall time it was written, to compare with when a client showed it.
                    job.progress_sent.append((time.time(), pct))
                if pct // 25 > state["quarter"]:
                    state["quarter"] = pct // 25
                    chunk({"content": f"**Video Generation Progress**: {pct}% (processing)\n\n"})
            if time.monotonic() - state["last_write"] >= 0.5:
                chunk({"content": ""})

        view = self._wait_terminal(job, on_tick)
        if view.state != "failed":
            chunk({"reasoning_content": "100..\n\n"})
        chunk({"content": self._result_text(job, view)})
        chunk({}, finish="stop")
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        # Chunked transfer encoding, like a real gateway; an empty chunk ends the body.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def _chat_prompt(messages: list[Any]) -> tuple[str, list[str]]:
    """Text and image URLs of the last user message (string or multi-part content)."""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content.strip(), []
        texts: list[str] = []
        images: list[str] = []
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "image_url":
                    ref = part.get("image_url")
                    url = ref.get("url") if isinstance(ref, dict) else ref
                    if isinstance(url, str):
                        images.append(url)
        return "\n".join(texts).strip(), images
    return "", []


def _chat_params(model: str, prompt: str) -> tuple[str, int, bool]:
    """Orientation, seconds and size from a model name like ``sora2-landscape-10s``,
    falling back to words in the prompt, then to portrait / 10 s (15 s for pro)."""
    name = model.lower()
    if "landscape" in name or "横屏" in name:
        orientation = "landscape"
    elif "portrait" in name or "竖屏" in name:
        orientation = "portrait"
    elif re.search(r"\blandscape\b|横屏|16:9", prompt, re.IGNORECASE):
        orientation = "landscape"
    else:
        orientation = "portrait"
    large = "pro" in name or "hd" in name or "large" in name
    match = re.search(r"(\d{1,2})s\b", name)
    seconds = int(match.group(1)) if match else (15 if "pro" in name else 10)
    return orientation, seconds, large
