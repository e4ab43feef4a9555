"""The one interface every wire format implements, and the value types it speaks.

Plain Python: nothing in ``soraweb.providers`` imports Django, so clients can be used and
tested on their own and the web app depends on this package, never the other way round.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class WireFormat(enum.StrEnum):
    UNIFIED = "unified"  # POST /video/create + GET /video/query (the seeds' format)
    CHAT = "chat"  # POST /chat/completions, Server-Sent-Events stream
    OPENAI = "openai"  # POST /videos, GET /videos/{id}, /videos/{id}/content
    NEWAPI = "newapi"  # POST /video/generations, GET /video/generations/{task_id}


class ChatTools(enum.StrEnum):
    """How the chat format sends its ``tools`` field (relays disagree)."""

    AUTO = "auto"  # the seeds' strings; once more as objects if the relay refuses them (400)
    STRINGS = "strings"  # ["function:generate_animate"], as the seeds show
    OBJECTS = "objects"  # [{"type": "function", "function": {...}}], as LiteLLM requires
    NONE = "none"  # no tools and no tool_choice


class RemoteState(enum.StrEnum):
    """Normalised provider status (spec section 5)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    UNKNOWN = "unknown"  # a word we do not know: keep polling until the job's deadline

    @property
    def is_terminal(self) -> bool:
        return self in (RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.EXPIRED)


class ProviderError(Exception):
    """The single error type of the provider layer.

    ``message`` is written for a person (it is shown on the job card), never contains the API
    key, and carries the provider's own reason where there is one. ``permanent`` says whether
    trying the same call again could help. ``retry_after`` (seconds) comes from Retry-After /
    retry-after-ms. ``outcome_unknown`` is set when a create may or may not have reached the
    provider (for example a read timeout after the request was sent): such a create must never
    be retried automatically. ``expired`` is set when a result link answered 403/404/410: the
    provider no longer has the file, so the job should show the distinct "expired" state.
    ``unreachable`` is set when no connection could be made at all (refused, host not found,
    connect timeout): not one byte of the request was sent, so even a create can be sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
        expired: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        self.expired = expired
        self.unreachable = unreachable and not outcome_unknown

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ImageInput:
    """A reference image: its bytes, and a URL the provider can fetch when we have one."""

    filename: str
    content_type: str
    data: bytes
    url: str | None = None


@dataclass(frozen=True)
class CreateRequest:
    model: str  # the name sent to the provider
    prompt: str
    orientation: str = ""  # "portrait" | "landscape" (the old knobs; see ``body``)
    size: str = ""  # "small" | "large" or an explicit "WxH"
    duration: int = 0  # seconds
    images: tuple[ImageInput, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific extra body fields
    # The body the catalogue's wire mapping wrote for this format (soraweb.catalogue.wire). When
    # set, a client sends exactly this (plus only its own transport fields, e.g. chat's
    # ``stream``) and derives nothing from the fields above: what a model accepts is data.
    body: dict[str, Any] | None = None
    # Multipart file parts the mapping asked for: (form field name, the image).
    files: tuple[tuple[str, ImageInput], ...] = ()


@dataclass
class JobStatus:
    """What the provider says about one remote job, normalised."""

    state: RemoteState
    raw_status: str = ""
    progress: int | None = None  # 0..100
    video_url: str | None = None
    thumbnail_url: str | None = None
    error: str | None = None
    poll_after: float | None = None  # seconds the provider asked us to wait (openai-poll-after-ms)
    raw: dict[str, Any] = field(default_factory=dict)
    # Where the result will come from once succeeded: the field the URL was read from
    # ("result_url", "metadata.url", "output[0]", ...) or "content endpoint" when there is none.
    video_source: str | None = None
    moderation: bool = False  # the reason says a content filter refused the job


@dataclass
class CreateResult:
    remote_id: str
    status: JobStatus


# Called by long-running creates (the chat stream) with each status update as it arrives.
ProgressCallback = Callable[[JobStatus], None]


class ContentStream(AbstractContextManager["ContentStream"], Protocol):
    """An open download: iterate ``chunks`` and close it (use as a context manager)."""

    content_type: str
    content_length: int | None

    def chunks(self, chunk_size: int = ...) -> Iterator[bytes]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CheckResult:
    """What one harmless request to the provider showed (``VideoProvider.check``)."""

    ok: bool
    latency_ms: int
    # The model ids its model list named; None when it offers no list.
    models: frozenset[str] | None = None
    # No model list: a status query for a made-up job was answered "not found" instead.
    probed_status: bool = False
    error: ProviderError | None = None


@dataclass(frozen=True)
class TaskSummary:
    """One of the provider's recent tasks, as its task list shows it (``list_tasks``)."""

    remote_id: str
    status: JobStatus
    created_at: float | None = None  # seconds since the epoch
    prompt: str = ""
    model: str = ""


@runtime_checkable
class VideoProvider(Protocol):
    """One wire format. Callers ask the capabilities below, never which format it is."""

    wire_format: WireFormat
    # Formats whose create call returns a remote id at once and is then polled (unified,
    # openai, newapi). The chat format streams the whole generation out of create() instead.
    polls: bool
    supports_remix: bool
    supports_cancel: bool
    # A reference picture must have exactly the video's pixel size (openai's input_reference).
    needs_exact_image_size: bool
    # The format has its own thumbnail (``open_content(variant="thumbnail")``).
    offers_thumbnail: bool
    # The provider lists its recent tasks (openai ``GET /videos``): staff can find a job whose
    # create answer was lost.
    can_list_tasks: bool

    def list_tasks(self, *, limit: int = 50) -> list[TaskSummary]:
        """The provider's most recent tasks, newest first (where can_list_tasks)."""
        ...

    def check(self) -> CheckResult:
        """Make one harmless request and report what it showed; never raises ProviderError."""
        ...

    def create(
        self, request: CreateRequest, *, on_progress: ProgressCallback | None = None
    ) -> CreateResult:
        """Start a generation. Raises ProviderError; never retries by itself."""
        ...

    def status(self, remote_id: str) -> JobStatus:
        """Ask for the current state of a remote job."""
        ...

    def open_content(
        self, remote_id: str, *, video_url: str | None, variant: str = "video"
    ) -> ContentStream:
        """Open a streamed download of the result (``variant``: video or thumbnail)."""
        ...

    def remix(self, remote_id: str, prompt: str) -> CreateResult:
        """Start a new generation derived from a finished one (where supports_remix)."""
        ...

    def cancel(self, remote_id: str) -> None:
        """Cancel or delete the remote job (where supports_cancel)."""
        ...


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider. ``api_key`` is a secret: never log, render or echo it."""

    base_url: str
    wire_format: WireFormat = WireFormat.UNIFIED
    api_key: str = field(default="", repr=False)
    extra_headers: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # Per-chunk read timeout for streams (the chat format streams for minutes).
    stream_read_timeout: float = 120.0
    # Upper bound on one whole chat stream, so a relay that never finishes cannot hold a worker
    # forever (generations take 1-10 minutes). Keep the task queue's timeout above this.
    stream_max_seconds: float = 1800.0
    # Largest download we accept, in bytes.
    max_download_bytes: int = 1024 * 1024 * 1024
    chat_tools: ChatTools = ChatTools.AUTO
