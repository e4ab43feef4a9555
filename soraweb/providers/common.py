"""Pieces shared by the wire-format clients: the client skeleton and small payload helpers."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import requests

from .base import (
    CreateResult,
    ImageInput,
    JobStatus,
    ProviderConfig,
    ProviderError,
    RemoteState,
    WireFormat,
)
from .http import HttpClient, ResponseStream, shorten
from .normalise import find_error_text, normalise_status

_REASON_LIMIT = 500


def image_url(image: ImageInput) -> str:
    """The URL a relay is given for an image: its public URL, else the bytes as a data URL."""
    if image.url:
        return image.url
    encoded = base64.b64encode(image.data).decode("ascii")
    return f"data:{image.content_type or 'application/octet-stream'};base64,{encoded}"


def path_id(remote_id: str) -> str:
    """A remote id made safe to sit in a URL path (ids may contain ':' or '/')."""
    return quote(remote_id, safe="")


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

    def __init__(self, config: ProviderConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.http = HttpClient(config, session)

    def open_content(
        self, remote_id: str, *, video_url: str | None, variant: str = "video"
    ) -> ResponseStream:
        """Download the asset at ``video_url`` (for a thumbnail, pass the thumbnail's URL).

        The URL came from the provider, so it goes through the SSRF guard; only the provider's
        own base origin may be a private address.
        """
        if not video_url:
            raise self.http.error(
                f"The provider has given no link to the {variant} of job {remote_id}.",
                permanent=True,
            )
        return self.http.download(video_url)

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
        state: RemoteState | None = None,
    ) -> JobStatus:
        """A JobStatus from one task object: its status word normalised (unless ``state`` is
        given), progress 100 once it succeeded, and the reason only when it went wrong."""
        raw_status = data.get("status")
        if state is None:
            state = normalise_status(raw_status)
        return self._scrubbed(
            JobStatus(
                state=state,
                raw_status=str(raw_status or ""),
                progress=100 if state is RemoteState.SUCCEEDED else progress,
                video_url=video_url,
                thumbnail_url=first_text(data, "thumbnail_url", "cover_url"),
                error=failure_reason(state, data, secrets=self.http.secrets),
                raw=data,
            )
        )

    @staticmethod
    def _accepted(remote_id: str, status: JobStatus) -> CreateResult:
        """The result of a create the provider accepted; no status word means queued."""
        if status.state is RemoteState.UNKNOWN and not status.raw_status:
            status.state = RemoteState.QUEUED
        return CreateResult(remote_id=remote_id, status=status)
