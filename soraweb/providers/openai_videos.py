"""The OpenAI-style Videos format (``/videos``), official until 2026-09 and kept by relays."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import requests

from . import gateway_ids
from .base import (
    ContentStream,
    CreateRequest,
    CreateResult,
    JobStatus,
    ProgressCallback,
    ProviderConfig,
    ProviderError,
    RemoteState,
    TaskSummary,
    WireFormat,
)
from .common import CONTENT_ENDPOINT, BaseClient, find_video_url, first_text, path_id
from .normalise import normalise_status, parse_progress

# The catalogue's size tokens in OpenAI's terms: small is 720p, large is pro's 1792-pixel size.
_SIZES = {
    ("small", "portrait"): "720x1280",
    ("small", "landscape"): "1280x720",
    ("large", "portrait"): "1024x1792",
    ("large", "landscape"): "1792x1024",
}
_WXH = re.compile(r"(\d{2,5})\s*[xX×]\s*(\d{2,5})")
_VARIANTS = ("video", "thumbnail", "spritesheet")


def openai_size(size: str, orientation: str) -> str:
    """``small``/``large`` plus an orientation as ``WxH``; a ``WxH`` token passes through."""
    match = _WXH.fullmatch(size.strip())
    if match:
        return f"{match.group(1)}x{match.group(2)}"
    try:
        return _SIZES[(size.strip().lower(), orientation.strip().lower())]
    except KeyError:
        raise ProviderError(
            f'The size "{size}" with orientation "{orientation}" has no OpenAI equivalent; '
            "use small, large or an explicit WIDTHxHEIGHT.",
            permanent=True,
        ) from None


def _form_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)  # booleans as true/false, objects as JSON


def _poll_after(header: str | None) -> float | None:
    """Seconds from the ``openai-poll-after-ms`` header; None when absent or unreadable."""
    try:
        value = float(header or "")
    except ValueError:
        return None
    return value / 1000 if math.isfinite(value) and value >= 0 else None


class OpenAIVideosClient(BaseClient):
    wire_format = WireFormat.OPENAI
    polls = True
    supports_remix = True
    supports_cancel = True
    needs_exact_image_size = True
    offers_thumbnail = True
    can_list_tasks = True

    def __init__(
        self,
        config: ProviderConfig,
        session: requests.Session | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config, session)
        self._clock = clock  # injectable so expiry can be tested without waiting

    def wire_body(self, request: CreateRequest) -> dict[str, Any]:
        """The form fields ``create`` sends (file parts are listed in ``request.files``)."""
        if request.body is not None:
            return {**request.body, **request.extra}
        return {
            "prompt": request.prompt,
            "model": request.model,
            # The API rejects an integer here: seconds is a string ("4", "8", "12").
            "seconds": str(int(request.duration)),
            "size": openai_size(request.size, request.orientation),
            **request.extra,
        }

    def create(
        self, request: CreateRequest, *, on_progress: ProgressCallback | None = None
    ) -> CreateResult:
        fields = self.wire_body(request)
        # (None, value) parts make requests send multipart/form-data even without a file.
        files: list[tuple[str, tuple[str | None, Any] | tuple[str, bytes, str]]] = [
            (name, (None, _form_value(value))) for name, value in fields.items()
        ]
        attached = list(request.files)
        if request.body is None and request.images:
            # One reference image only; it must already match ``size`` exactly.
            attached = [("input_reference", request.images[0])]
        for name, image in attached:
            files.append((name, (image.filename, image.data, image.content_type)))
        response = self.http.request("POST", "/videos", files=files, create=True)
        return self._created(self.http.json(response, create=True))

    def status(self, remote_id: str) -> JobStatus:
        response = self.http.request("GET", f"/videos/{path_id(remote_id)}")
        status = self._parse(self.http.json(response))
        status.poll_after = _poll_after(response.headers.get("openai-poll-after-ms"))
        return status

    def list_tasks(self, *, limit: int = 50) -> list[TaskSummary]:
        """``GET /videos?order=desc``: the newest tasks first, at most ``limit`` (1-100)."""
        limit = min(max(int(limit), 1), 100)
        data = self.http.json(self.http.request("GET", f"/videos?order=desc&limit={limit}"))
        items = data.get("data") if isinstance(data, dict) else None
        tasks = []
        for item in items or []:
            remote_id = first_text(item, "id", "task_id") if isinstance(item, dict) else None
            if not remote_id:
                continue
            created = item.get("created_at")
            tasks.append(
                TaskSummary(
                    remote_id=remote_id,
                    status=self._parse(item),
                    created_at=float(created) if isinstance(created, int | float) else None,
                    prompt=str(item.get("prompt") or ""),
                    model=str(item.get("model") or ""),
                )
            )
        return tasks

    def open_content(
        self, remote_id: str, *, video_url: str | None = None, variant: str = "video"
    ) -> ContentStream:
        """Stream ``/videos/{id}/content``; ``video_url`` is not needed for this format."""
        if variant not in _VARIANTS:
            raise ProviderError(
                f'Unknown content variant "{variant}"; expected one of {", ".join(_VARIANTS)}.',
                permanent=True,
            )
        url = self.http.url(f"/videos/{path_id(remote_id)}/content?variant={variant}")
        # The endpoint may redirect to a CDN: the guard checks each hop and keeps the API key
        # on our provider's origin.
        try:
            return self.checked(self.http.download(url), variant)
        except ProviderError as exc:
            # A gateway whose content route is missing (404/405) may still have named the file
            # in the status (new-api's metadata.url): that link is the second choice.
            if not video_url or variant != "video" or exc.status_code not in (404, 405, 501):
                raise
        return self.http.download(video_url)

    def remix(self, remote_id: str, prompt: str) -> CreateResult:
        response = self.http.request(
            "POST", f"/videos/{path_id(remote_id)}/remix", json_body={"prompt": prompt}, create=True
        )
        created = self._created(self.http.json(response, create=True))
        return replace(
            created, remote_id=gateway_ids.remix_id(created.remote_id, source_id=remote_id)
        )

    def cancel(self, remote_id: str) -> None:
        try:
            self.http.request("DELETE", f"/videos/{path_id(remote_id)}").close()
        except ProviderError as exc:
            if exc.status_code == 404:
                return  # already gone: deleting is idempotent
            if exc.status_code in (405, 501):
                # LiteLLM's proxy and other gateways have no DELETE route.
                raise self.http.error(
                    f"The gateway could not cancel the job upstream (DELETE answered HTTP "
                    f"{exc.status_code}): the video may still be made, and billed, at the "
                    "provider.",
                    permanent=True,
                    status_code=exc.status_code,
                ) from None
            raise

    def _created(self, data: dict[str, Any]) -> CreateResult:
        remote_id = first_text(data, "id", "task_id")
        if not remote_id:
            raise self.http.error(
                "The provider accepted the request but returned no video id.", permanent=True
            )
        return self._accepted(remote_id, self._parse(data))

    def _parse(self, data: dict[str, Any]) -> JobStatus:
        state = normalise_status(data.get("status"))
        # The official API deletes assets at ``expires_at`` (about an hour after completion)
        # yet still reports "completed"; calling that expired lets the pipeline show the real
        # state instead of failing a download. Clock skew between us and the provider only
        # shifts that verdict by seconds on an hour-long window.
        expires_at = data.get("expires_at")
        if (
            state is RemoteState.SUCCEEDED
            and isinstance(expires_at, int | float)
            and not isinstance(expires_at, bool)
            and expires_at <= self._clock()
        ):
            state = RemoteState.EXPIRED
        # The content endpoint is this format's source; a URL in the object is kept as a
        # fallback for gateways whose content route is broken.
        url, _source = find_video_url(data)
        return self._job_status(
            data,
            state=state,
            progress=parse_progress(data.get("progress")),
            video_url=url,
            video_source=CONTENT_ENDPOINT,
        )
