"""Pieces shared by the wire-format clients: the client skeleton and small payload helpers."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests

from .base import (
    CheckResult,
    ContentStream,
    CreateResult,
    ImageInput,
    JobStatus,
    ProviderConfig,
    ProviderError,
    RemoteState,
    TaskSummary,
    WireFormat,
)
from .http import HttpClient, ResponseStream, shorten
from .normalise import find_error_text, is_moderation, normalise_status

_REASON_LIMIT = 500
# The result's source when a finished status names no URL: GET {base}/videos/{id}/content,
# which OpenAI-style relays and new-api gateways (rc.30) both serve.
CONTENT_ENDPOINT = "content endpoint"
MODERATION_PREFIX = "Refused by content moderation"

# Where relays put a finished video's URL, after the format's own fields (path, label).
_URL_PATHS: tuple[tuple[tuple[str | int, ...], str], ...] = (
    (("video_url",), "video_url"),
    (("url",), "url"),
    (("result_url",), "result_url"),
    (("download_url",), "download_url"),
    (("output_url",), "output_url"),
    (("metadata", "url"), "metadata.url"),
    (("metadata", "video_url"), "metadata.video_url"),
    (("result", "url"), "result.url"),
    (("result", "video_url"), "result.video_url"),
    (("output", 0), "output[0]"),
    (("output", 0, "url"), "output[0].url"),
    (("outputs", 0), "outputs[0]"),
    (("data", 0, "url"), "data[0].url"),
    (("videos", 0, "url"), "videos[0].url"),
    (("content", "video_url"), "content.video_url"),
)
# The first bytes of the image formats a thumbnail may come in.
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM")


def image_url(image: ImageInput) -> str:
    """The URL a relay is given for an image: its public URL, else the bytes as a data URL."""
    if image.url:
        return image.url
    encoded = base64.b64encode(image.data).decode("ascii")
    return f"data:{image.content_type or 'application/octet-stream'};base64,{encoded}"


def path_id(remote_id: str) -> str:
    """A remote id made safe to sit in a URL path (ids may contain ':' or '/')."""
    return quote(remote_id, safe="")


def _walk(data: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if isinstance(step, int):
            data = data[step] if isinstance(data, list) and len(data) > step else None
        else:
            data = data.get(step) if isinstance(data, dict) else None
    return data


def find_video_url(data: dict[str, Any], *first: str) -> tuple[str | None, str | None]:
    """(URL, the field it came from) for a finished job: the format's own fields ``first``,
    then every other place relays were seen to use; (None, None) when there is no http(s) URL."""
    paths = [((key,), key) for key in first] + list(_URL_PATHS)
    for path, label in paths:
        value = _walk(data, path)
        if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
            return value.strip(), label
    return None, None


def looks_like_video(content_type: str, head: bytes) -> bool:
    """True when a download is clearly a video (an MP4's ``ftyp`` box or a video/* type) and
    not an image: what a gateway that drops ``?variant=thumbnail`` sends."""
    if head.startswith(_IMAGE_MAGIC):
        return False
    return head[4:8] == b"ftyp" or content_type.lower().startswith("video/")


class _SniffedStream:
    """A ContentStream whose first chunk was already read (to check what it is)."""

    def __init__(self, stream: ResponseStream, first: bytes, rest: Any) -> None:
        self._stream = stream
        self._first = first
        self._rest = rest
        self.content_type = stream.content_type
        self.content_length = stream.content_length

    def chunks(self, chunk_size: int = 1 << 16) -> Any:
        if self._first:
            yield self._first
        yield from self._rest

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _SniffedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def first_text(data: dict[str, Any], *keys: str) -> str | None:
    """The first non-empty string among ``keys`` of ``data``."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def failure_reason(
    state: RemoteState, data: dict[str, Any], *, secrets: tuple[str, ...] = ()
) -> str | None:
    """The provider's reason, but only for a job that did not go well.

    Fields like ``message`` often hold "ok" or "success" on healthy jobs; showing that as an
    error would mislead, so queued, running and succeeded jobs get None.
    """
    if state in (RemoteState.QUEUED, RemoteState.RUNNING, RemoteState.SUCCEEDED):
        return None
    text = find_error_text(data)
    if text:
        # One wording for every content filter's refusal, English or Chinese, so the studio and
        # the failure report recognise it; the provider's own words follow.
        if is_moderation(text) and "moderation" not in text.lower():
            text = f"{MODERATION_PREFIX}: {text}"
        return shorten(text, _REASON_LIMIT, secrets=secrets)
    if state is RemoteState.EXPIRED:
        return "The video's files have expired on the provider."
    if state is RemoteState.FAILED:
        return "The provider reported the job as failed without giving a reason."
    return None


class BaseClient:
    """Skeleton for one wire format: holds the HTTP client; URL-based downloads by default.

    Formats that cannot remix or cancel inherit the refusals below, so every client satisfies
    the whole ``VideoProvider`` Protocol and callers check the ``supports_*`` flags first.
    """

    wire_format: WireFormat
    polls: bool = True
    supports_remix: bool = False
    supports_cancel: bool = False
    needs_exact_image_size: bool = False
    offers_thumbnail: bool = False
    can_list_tasks: bool = False

    def __init__(self, config: ProviderConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.http = HttpClient(config, session)

    def list_tasks(self, *, limit: int = 50) -> list[TaskSummary]:
        raise ProviderError(
            f"The {self.wire_format} format has no list of tasks to look in.", permanent=True
        )

    def status(self, remote_id: str) -> JobStatus:
        """Each wire format reads a job's status its own way (the Protocol's ``status``)."""
        raise NotImplementedError

    def check(self) -> CheckResult:
        """List the models (``GET /models``); where that route is missing and the format polls,
        ask about a job that does not exist: a "not found" shows the key was accepted."""
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            data = self.http.json(self.http.request("GET", "/models"))
        except ProviderError as exc:
            if exc.status_code in (404, 405) and self.polls:
                return self._probe_status(elapsed)
            return CheckResult(False, elapsed(), error=exc)
        listed = data.get("data") if isinstance(data, dict) else None
        models = frozenset(str(m.get("id")) for m in listed or [] if isinstance(m, dict))
        return CheckResult(True, elapsed(), models=models)

    def _probe_status(self, elapsed: Callable[[], int]) -> CheckResult:
        try:
            self.status("soraweb-connection-test")
        except ProviderError as exc:
            code = exc.status_code
            if code is not None and 400 <= code < 500 and code not in (401, 403, 408, 429):
                return CheckResult(True, elapsed(), probed_status=True)
            return CheckResult(False, elapsed(), error=exc)
        return CheckResult(True, elapsed())

    def open_content(
        self, remote_id: str, *, video_url: str | None, variant: str = "video"
    ) -> ContentStream:
        """Download the asset at ``video_url`` (for a thumbnail, pass the thumbnail's URL);
        without one, from the content endpoint ``/videos/{id}/content`` (new-api rc.30 and
        other gateways finish with no URL and serve the bytes there).

        The URL came from the provider, so it goes through the SSRF guard; only the provider's
        own base origin may be a private address.
        """
        if video_url:
            return self.checked(self.http.download(video_url), variant)
        try:
            return self.checked(self.content_endpoint(remote_id, variant), variant)
        except ProviderError as exc:
            if exc.status_code is None:
                raise
            # Neither a link nor a content endpoint: say both, not just "404". The id is named
            # (cut: gateway ids run to hundreds of characters) so staff can look it up.
            shown = remote_id if len(remote_id) <= 40 else remote_id[:37] + "..."
            raise self.http.error(
                f"The provider reported job {shown} as finished but gave no link to its "
                f"{variant}, and its content endpoint /videos/{{id}}/content answered: {exc.message}",
                permanent=True,
                status_code=exc.status_code,
            ) from None

    def content_endpoint(self, remote_id: str, variant: str) -> ResponseStream:
        """Open ``GET {base}/videos/{id}/content`` (``?variant=`` for anything but the video)."""
        query = "" if variant == "video" else f"?variant={variant}"
        return self.http.download(self.http.url(f"/videos/{path_id(remote_id)}/content{query}"))

    def checked(self, stream: ResponseStream, variant: str) -> ResponseStream | _SniffedStream:
        """For a thumbnail or spritesheet, read the first chunk and stop at once if it is
        clearly a video (a gateway that drops ``?variant=`` sends the whole MP4): the caller
        makes its own poster from the video it has already saved instead."""
        if variant == "video":
            return stream
        rest = stream.chunks()
        try:
            first = next(rest, b"")
        except BaseException:
            stream.close()
            raise
        if looks_like_video(stream.content_type, first):
            stream.close()
            raise self.http.error(
                f"The provider sent the video where its {variant} was asked for (it ignores "
                "the variant), so the download was stopped after the first bytes.",
                permanent=True,
            )
        return _SniffedStream(stream, first, rest)

    def remix(self, remote_id: str, prompt: str) -> CreateResult:
        raise ProviderError(
            f"Providers speaking the {self.wire_format} format cannot remix a video.",
            permanent=True,
        )

    def cancel(self, remote_id: str) -> None:
        raise ProviderError(
            f"Providers speaking the {self.wire_format} format cannot cancel a job.",
            permanent=True,
        )

    def _scrubbed(self, status: JobStatus) -> JobStatus:
        """Scrub the provider's reason (it is shown to people) before handing a status out."""
        if status.error:
            status.error = self.http.scrub(status.error)
        return status

    def _job_status(
        self,
        data: dict[str, Any],
        *,
        progress: int | None,
        video_url: str | None = None,
        video_source: str | None = None,
        state: RemoteState | None = None,
    ) -> JobStatus:
        """A JobStatus from one task object: its status word normalised (unless ``state`` is
        given), progress 100 once it succeeded, and the reason only when it went wrong."""
        raw_status = data.get("status")
        if state is None:
            state = normalise_status(raw_status)
        succeeded = state is RemoteState.SUCCEEDED
        error = failure_reason(state, data, secrets=self.http.secrets)
        return self._scrubbed(
            JobStatus(
                state=state,
                raw_status=str(raw_status or ""),
                # "SUCCESS" with progress 0 (or none) happens: done is done.
                progress=100 if succeeded else progress,
                video_url=video_url,
                thumbnail_url=first_text(data, "thumbnail_url", "cover_url"),
                error=error,
                raw=data,
                video_source=(video_source or CONTENT_ENDPOINT) if succeeded else None,
                moderation=bool(error) and is_moderation(error),
            )
        )

    @staticmethod
    def _accepted(remote_id: str, status: JobStatus) -> CreateResult:
        """The result of a create the provider accepted; no status word means queued."""
        if status.state is RemoteState.UNKNOWN and not status.raw_status:
            status.state = RemoteState.QUEUED
        return CreateResult(remote_id=remote_id, status=status)
