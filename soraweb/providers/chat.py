"""The chat-completions format: the whole generation streams out of one ``create`` call.

``POST /chat/completions`` answers with Server-Sent Events for minutes. Progress and the result
arrive as free text meant for a chat window (spec section 2), so this module reads that text
the way a person would: queue notices, ``进度 42..54..67``, a markdown link or ``<video src>``
when done, ``❌`` / ``失败`` when not. There is nothing to poll afterwards.

Some relays bill a chat generation whether or not it succeeds, and a dropped stream tells us
nothing about what happened upstream, so such drops are reported with ``outcome_unknown`` and
are never resubmitted.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from .base import (
    ChatTools,
    CreateRequest,
    CreateResult,
    JobStatus,
    ProgressCallback,
    ProviderError,
    RemoteState,
    WireFormat,
)
from .common import MODERATION_PREFIX, BaseClient, image_url
from .http import shorten
from .normalise import find_error_text, is_moderation, parse_progress

log = logging.getLogger(__name__)

_MAX_TEXT = 1_000_000  # characters of chat text kept; the result is at the end
_PROGRESS_WINDOW = 4000  # characters of each channel's tail searched for progress
_MAX_JSON_BODY = 4 * 1024 * 1024  # bytes of a non-streamed answer we are willing to read

# "进度 42..54..67.." : the digits and separators right after the word; the last number counts.
_CN_PROGRESS = re.compile(r"进度[ \t:：]*([0-9.%…,，、 \t]*)")
# "**Video Generation Progress**: 42% (processing)"
_EN_PROGRESS = re.compile(r"progress\W{0,6}?(\d+(?:\.\d+)?)\s*%", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

_MARKDOWN_LINK = re.compile(
    r"!?\[[^\]\n]*\]\(\s*<?(https?://[^)\s>]+)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)"
)
_VIDEO_SRC = re.compile(
    r"<(?:video|source)\b[^>]*?\bsrc\s*=\s*[\"']?(https?://[^\"'\s>]+)", re.IGNORECASE
)
_BARE_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&*+,;=%]+")
_VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".m4v")
_FAILURE_MARKERS = ("❌", "失败")

# The tools field in its two forms (spec section 2 and 8): the seeds' strings, and the OpenAI
# object form that LiteLLM-style relays require.
_TOOL_NAME = "generate_animate"
_TOOL_STRINGS = [f"function:{_TOOL_NAME}"]
_TOOL_OBJECTS = [
    {
        "type": "function",
        "function": {
            "name": _TOOL_NAME,
            "description": "Generate a video from the user's prompt.",
            "parameters": {
                "type": "object",
                "properties": {"prompt": {"type": "string"}},
                "required": ["prompt"],
            },
        },
    }
]
_TOOL_CHOICE = {"type": "function", "function": {"name": _TOOL_NAME}}


def _pick(urls: list[str]) -> str | None:
    """The last URL that looks like a video file, else the last URL: results come at the end."""
    if not urls:
        return None
    for url in reversed(urls):
        if url.split("?", 1)[0].split("#", 1)[0].lower().endswith(_VIDEO_EXTENSIONS):
            return url
    return urls[-1]


def extract_video_url(text: str) -> str | None:
    """The result URL in chat text: a markdown link target, else ``<video src>``, else a bare
    URL (preferring ``.mp4``-like ones)."""
    found = _pick(_MARKDOWN_LINK.findall(text))
    if found:
        return found
    found = _pick([html.unescape(url) for url in _VIDEO_SRC.findall(text)])
    if found:
        return found
    # Decorations like "~~~" or a full stop often follow a bare link in chat text.
    return _pick([url.rstrip(".,;:!?~*") for url in _BARE_URL.findall(text)])


def progress_from_text(text: str) -> int | None:
    """The latest progress percent in chat text, or None when it mentions none."""
    best: tuple[int, int] | None = None  # (position, percent)
    for match in _CN_PROGRESS.finditer(text):
        numbers = _NUMBER.findall(match.group(1))
        if numbers:
            percent = parse_progress(numbers[-1], fraction=False)
            if percent is not None:
                best = max(best or (-1, 0), (match.end(), percent))
    for match in _EN_PROGRESS.finditer(text):
        percent = parse_progress(match.group(1), fraction=False)
        if percent is not None:
            best = max(best or (-1, 0), (match.end(), percent))
    return best[1] if best else None


def find_failure(text: str) -> tuple[str, int] | None:
    """(reason, end of the failure's line) for the last line saying ❌ or 失败, else None."""
    position = max(text.rfind(marker) for marker in _FAILURE_MARKERS)
    if position < 0:
        return None
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    end = len(text) if end < 0 else end
    line = text[start:end]
    marker = "失败" if "失败" in line else "❌"
    reason = line[line.find(marker) + len(marker) :].strip(" \t:：,，-—。.!！*`>")
    if not reason:
        # "❌ 生成失败:" with the reason on the next line.
        following = [part.strip(" \t>*`") for part in text[end:].splitlines()]
        reason = next((part for part in following if part), "")
    if not reason:
        reason = line.strip(" \t>*`") or "the provider reported a failure"
    return shorten(reason, 500), end


def interpret(text: str) -> JobStatus | None:
    """The final verdict in chat text, or None while the text decides nothing yet.

    A failure line counts unless a result link follows it (a relay may report a failed attempt
    and then succeed on its own retry); a link inside the failure line itself (a help page) does
    not make the job a success.
    """
    failure = find_failure(text)
    url = extract_video_url(text[failure[1] :] if failure else text)
    if url:
        return JobStatus(RemoteState.SUCCEEDED, raw_status="completed", progress=100, video_url=url)
    if failure:
        reason = failure[0]
        moderated = is_moderation(reason)
        if moderated and "moderation" not in reason.lower():
            reason = f"{MODERATION_PREFIX}: {reason}"  # the same wording as the polled formats
        return JobStatus(
            RemoteState.FAILED, raw_status="failed", error=reason, moderation=moderated
        )
    return None


@dataclass
class _Transcript:
    """What has been read so far from one chat answer."""

    chat_id: str | None = None
    text: str = ""  # everything, in arrival order: the verdict is read from this
    # The tail of each channel (content, reasoning_content) on its own: relays interleave them,
    # and a "进度 42..54.." run in one must not be broken up by a line in the other.
    channels: dict[str, str] = field(default_factory=dict)
    done: bool = False  # [DONE] seen, or a complete non-streamed answer read
    stream_error: str | None = None  # an {"error": ...} object inside the stream
    interruption: str | None = None  # why reading stopped early (timeout, drop, too long)
    last_report: tuple[RemoteState, int | None] | None = None

    def add(self, piece: str, channel: str = "content") -> None:
        if not piece:
            return
        self.text += piece
        if len(self.text) > _MAX_TEXT:
            # Keep the tail: progress and the result come last.
            self.text = self.text[-_MAX_TEXT // 2 :]
        self.channels[channel] = (self.channels.get(channel, "") + piece)[-_PROGRESS_WINDOW:]

    @property
    def progress(self) -> int | None:
        found = [p for p in map(progress_from_text, self.channels.values()) if p is not None]
        return max(found, default=None)


def _add_choice(choice: dict[str, Any], transcript: _Transcript) -> None:
    """Text of one choice: streamed ``delta`` or a full ``message``; content or reasoning."""
    for key in ("delta", "message"):
        part = choice.get(key)
        if isinstance(part, dict):
            for channel in ("reasoning_content", "content"):
                value = part.get(channel)
                if isinstance(value, str):
                    transcript.add(value, channel)


class ChatClient(BaseClient):
    wire_format = WireFormat.CHAT
    polls = False
    supports_remix = False
    supports_cancel = False

    def wire_body(self, request: CreateRequest) -> dict[str, Any]:
        """The JSON body ``create`` sends: this format's transport fields (stream, tools) with
        the catalogue's model name and messages over them."""
        content: str | list[dict[str, Any]] = request.prompt
        if request.images and request.body is None:
            content = [{"type": "text", "text": request.prompt}] + [
                {"type": "image_url", "image_url": {"url": image_url(image)}}
                for image in request.images
            ]
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": "user", "content": content}],
            "stream": True,
            "max_tokens": 1000,
        }
        setting = ChatTools(self.config.chat_tools or ChatTools.AUTO)
        if setting is not ChatTools.NONE:
            body["tool_choice"] = _TOOL_CHOICE
            body["tools"] = _TOOL_OBJECTS if setting is ChatTools.OBJECTS else _TOOL_STRINGS
        if request.body is not None:
            body.update(request.body)
        body.update(request.extra)
        return body

    def create(
        self, request: CreateRequest, *, on_progress: ProgressCallback | None = None
    ) -> CreateResult:
        body = self.wire_body(request)
        try:
            response = self._post(body)
        except ProviderError as exc:
            # A relay that wants tool objects (LiteLLM and others) refuses the seeds' strings
            # with a 400 before anything starts, so sending the object form once more cannot
            # start (or bill) a second generation.
            auto = ChatTools(self.config.chat_tools or ChatTools.AUTO) is ChatTools.AUTO
            refused = exc.status_code in (400, 422) and not exc.outcome_unknown
            chosen = "tools" in request.extra or "tools" in (request.body or {})
            if not (auto and refused and not chosen):
                raise
            log.info("chat relay refused string tools (%s); sending tool objects", exc.message)
            response = self._post({**body, "tools": _TOOL_OBJECTS})
        transcript = _Transcript()
        # A relay that ignores "stream": true answers with one chat.completion.
        whole_json = "json" in response.headers.get("Content-Type", "").lower()
        try:
            self._read(response, transcript, on_progress, whole_json=whole_json)
        finally:
            response.close()
        return self._result(transcript)

    def _post(self, body: dict[str, Any]) -> requests.Response:
        # The read timeout applies to each read from the socket, not to the whole answer, so a
        # stream that keeps talking for ten minutes is fine and one that goes quiet is not.
        return self.http.request(
            "POST",
            "/chat/completions",
            json_body=body,
            create=True,
            stream=True,
            read_timeout=self.config.stream_read_timeout,
            accept="text/event-stream, application/json",
        )

    def status(self, remote_id: str) -> JobStatus:
        raise ProviderError(
            "Chat-format jobs finish inside the create call and cannot be queried afterwards.",
            permanent=True,
        )

    # -- reading the answer ----------------------------------------------------------------

    def _read(
        self,
        response: requests.Response,
        transcript: _Transcript,
        on_progress: ProgressCallback | None,
        *,
        whole_json: bool,
    ) -> None:
        deadline = time.monotonic() + self.config.stream_max_seconds
        lines = self._lines(response, transcript, deadline)
        if whole_json:
            self._read_whole_json(lines, transcript)
            return
        data_lines: list[str] = []
        first = True
        for line in lines:
            stripped = line.strip()
            if first and stripped:
                first = False
                if stripped.startswith(("{", "[")):
                    # A whole JSON answer under another content type.
                    self._read_whole_json(itertools.chain([line], lines), transcript)
                    return
            if not stripped:
                if data_lines:
                    self._event("\n".join(data_lines), transcript, on_progress)
                    data_lines = []
            elif stripped.startswith(":") or stripped.split(":", 1)[0] in ("event", "id", "retry"):
                pass  # keep-alive comment or an SSE field we do not need
            elif stripped.startswith("data:"):
                payload = stripped[5:].strip()
                # Relays usually send one JSON per data line; some omit the blank separator
                # line, so a line that is complete on its own is handled at once.
                if data_lines or not self._event(payload, transcript, on_progress, whole=True):
                    data_lines.append(payload)
            else:
                self._event(line, transcript, on_progress)  # text outside SSE framing: keep it
            if transcript.done:
                return
        if data_lines:
            self._event("\n".join(data_lines), transcript, on_progress)

    def _lines(
        self, response: requests.Response, transcript: _Transcript, deadline: float
    ) -> Iterator[str]:
        """Lines of the body as they arrive (``iter_lines`` would wait for a full buffer).

        A timeout or a dropped connection ends the lines and is noted in the transcript: a
        result that arrived before the drop still counts.
        """
        pending = b""
        while True:
            if time.monotonic() > deadline:
                transcript.interruption = (
                    f"The provider's answer ran longer than "
                    f"{self.config.stream_max_seconds / 60:g} minutes, so soraweb stopped waiting."
                )
                return
            try:
                data = response.raw.read1(65536, decode_content=True)
            except ReadTimeoutError:
                transcript.interruption = (
                    f"The provider's stream went quiet for more than "
                    f"{self.config.stream_read_timeout:g} s."
                )
                return
            except (Urllib3Error, OSError):
                transcript.interruption = "The provider's stream dropped."
                return
            if not data:
                break
            pending += data
            *complete, pending = pending.split(b"\n")
            for raw_line in complete:
                yield raw_line.rstrip(b"\r").decode("utf-8", errors="replace")
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", errors="replace")

    def _read_whole_json(self, lines: Iterator[str], transcript: _Transcript) -> None:
        parts: list[str] = []
        size = 0
        for line in lines:
            parts.append(line)
            size += len(line)
            if size > _MAX_JSON_BODY:
                break
        if transcript.interruption:
            return  # cut off mid-answer: reported as such, not as bad JSON
        data = self.http.parse_json("\n".join(parts), create=True)
        self._chunk(data, transcript)
        transcript.done = True

    def _event(
        self,
        payload: str,
        transcript: _Transcript,
        on_progress: ProgressCallback | None,
        *,
        whole: bool = False,
    ) -> bool:
        """Take in one event's data. With ``whole=True``, only a payload that is complete on
        its own ([DONE] or valid JSON) is taken, and False says it was left alone."""
        if payload == "[DONE]":
            transcript.done = True
            return True
        try:
            data = json.loads(payload)
        except ValueError:
            if whole:
                return False
            transcript.add(payload + "\n", "text")  # a relay that streams plain text
        else:
            if isinstance(data, dict):
                self._chunk(data, transcript)
        self._report(transcript, on_progress)
        return True

    @staticmethod
    def _chunk(data: dict[str, Any], transcript: _Transcript) -> None:
        if transcript.chat_id is None and isinstance(data.get("id"), str) and data["id"]:
            transcript.chat_id = data["id"]
        choices = data.get("choices")
        if isinstance(choices, list) and choices:
            if isinstance(choices[0], dict):
                _add_choice(choices[0], transcript)
        elif data.get("error"):
            transcript.stream_error = find_error_text(data) or "the provider reported an error"

    def _report(self, transcript: _Transcript, on_progress: ProgressCallback | None) -> None:
        if on_progress is None:
            return
        progress = transcript.progress
        state = RemoteState.QUEUED if progress is None else RemoteState.RUNNING
        if transcript.last_report == (state, progress):
            return
        transcript.last_report = (state, progress)
        status = JobStatus(state, raw_status=state.value, progress=progress)
        if transcript.chat_id:
            status.raw = {"id": transcript.chat_id}
        try:
            on_progress(status)
        except Exception:
            # The video is being generated (and maybe billed) whatever the callback's trouble;
            # abandoning the stream now would lose the result.
            log.exception("Progress callback failed; the chat stream continues")

    # -- the verdict -----------------------------------------------------------------------

    def _result(self, transcript: _Transcript) -> CreateResult:
        remote_id = transcript.chat_id or f"chat-{uuid.uuid4().hex}"
        text = transcript.text
        status = interpret(text)
        if status is None and transcript.stream_error:
            status = JobStatus(
                RemoteState.FAILED, raw_status="failed", error=transcript.stream_error
            )
        if status is None and transcript.done:
            last = next((ln.strip(" >*`") for ln in reversed(text.splitlines()) if ln.strip()), "")
            said = f' Its last words: "{self.http.shorten(last, 200)}"' if last else ""
            status = JobStatus(
                RemoteState.FAILED,
                raw_status="failed",
                error="The provider finished its answer without a link to a video." + said,
            )
        if status is None:
            raise self._unknown(
                transcript,
                transcript.interruption or "The provider's stream ended before the video was done.",
            )
        status.raw = {"id": remote_id, "text": self.http.tail(text, 4000)}
        return CreateResult(remote_id=remote_id, status=self._scrubbed(status))

    def _unknown(self, transcript: _Transcript, what: str) -> ProviderError:
        """A stream that stopped without a verdict: the video may exist and be billed."""
        progress = transcript.progress
        facts = []
        if transcript.chat_id:
            facts.append(f"chat id {transcript.chat_id}")
        if progress is not None:
            facts.append(f"last progress {progress}%")
        known = f" ({', '.join(facts)})" if facts else ""
        return self.http.error(
            f"{what} The video may still have been generated and billed{known}; "
            "check the provider before retrying.",
            permanent=False,
            outcome_unknown=True,
        )
