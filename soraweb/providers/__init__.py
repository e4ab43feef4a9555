"""Provider client layer: one client per wire format behind the ``VideoProvider`` Protocol.

Plain Python with ``requests``; nothing here imports Django. Typical use::

    client = make_client(ProviderConfig(base_url=..., wire_format=WireFormat.OPENAI, api_key=...))
    result = client.create(CreateRequest(...))        # never retried automatically
    status = client.status(result.remote_id)          # the pipeline decides when to ask again
    with client.open_content(result.remote_id, video_url=status.video_url) as stream:
        for chunk in stream.chunks(): ...
"""

from __future__ import annotations

import requests

from .base import (
    CheckResult,
    ContentStream,
    CreateRequest,
    CreateResult,
    ImageInput,
    JobStatus,
    ProgressCallback,
    ProviderConfig,
    ProviderError,
    RemoteState,
    TaskSummary,
    VideoProvider,
    WireFormat,
)
from .chat import ChatClient
from .http import ResponseStream, scrub
from .newapi import NewApiClient
from .normalise import find_error_text, normalise_status, parse_progress
from .openai_videos import OpenAIVideosClient, openai_size
from .unified import UnifiedClient
from .urlguard import check_fetch_url, guarded_get

ClientClass = type[UnifiedClient | ChatClient | OpenAIVideosClient | NewApiClient]
_CLIENTS: dict[WireFormat, ClientClass] = {
    WireFormat.UNIFIED: UnifiedClient,
    WireFormat.CHAT: ChatClient,
    WireFormat.OPENAI: OpenAIVideosClient,
    WireFormat.NEWAPI: NewApiClient,
}


def make_client(config: ProviderConfig, session: requests.Session | None = None) -> VideoProvider:
    """The client for ``config.wire_format``. Cheap to make: build one per task, not per app.

    ``session`` lets a caller reuse connections or inject a test double; clients are not
    meant to be shared between threads.
    """
    return client_class(config.wire_format)(config, session)


def client_class(wire_format: WireFormat | str) -> ClientClass:
    """The client class of a wire format; its capability flags can be read without a client."""
    try:
        return _CLIENTS[WireFormat(wire_format)]
    except ValueError:
        raise ProviderError(
            f'Unknown wire format "{wire_format}"; expected one of '
            f"{', '.join(f.value for f in WireFormat)}.",
            permanent=True,
        ) from None


__all__ = [
    "CheckResult",
    "ChatClient",
    "ContentStream",
    "CreateRequest",
    "CreateResult",
    "ImageInput",
    "JobStatus",
    "NewApiClient",
    "OpenAIVideosClient",
    "ProgressCallback",
    "ProviderConfig",
    "ProviderError",
    "RemoteState",
    "TaskSummary",
    "ResponseStream",
    "UnifiedClient",
    "VideoProvider",
    "WireFormat",
    "check_fetch_url",
    "client_class",
    "find_error_text",
    "guarded_get",
    "make_client",
    "normalise_status",
    "openai_size",
    "parse_progress",
    "scrub",
]
