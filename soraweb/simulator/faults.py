"""Fault markers: tokens in a prompt that make the simulator misbehave on purpose.

A marker is ``[sim:name]`` or ``[sim:name=value]`` anywhere in the prompt (case-insensitive).
Every format reads them from the prompt it receives, so a test or a person at the web form can
provoke a failure without any other channel to the simulator. Unknown names are ignored, so an
ordinary prompt that happens to contain brackets is never rejected.

This module is the only place that knows the marker syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER_RE = re.compile(r"\[sim:([a-z0-9_-]+)(?:=([^\]]*))?\]", re.IGNORECASE)

DEFAULT_MODERATION_REASON = "The prompt was flagged by content moderation: depicts a real person"
DEFAULT_FAIL_REASON = "Video generation failed: the upstream render worker crashed (internal error)"

# name -> one line of documentation (README.md mirrors this table).
MARKERS: dict[str, str] = {
    "moderation": "job ends failed with a moderation reason (=text overrides the reason)",
    "fail": "job ends failed with a generic reason (=text overrides the reason)",
    "429": "first N create attempts (=N, default 1) get 429 + Retry-After; not stored",
    "poll429": "first N status queries (=N, default 1) of the job get 429 + Retry-After",
    "502": "first N create attempts (=N, default 1) get 502 with an HTML body; not stored",
    "poll502": "first N status queries (=N, default 1) get 502 with an HTML body",
    "garbage": "first N create attempts (=N, default 1) get 200 with a non-JSON body; not stored",
    "pollgarbage": "first N status queries (=N, default 1) get 200 with a non-JSON body",
    "hang": "first N accepted creates (=N, default 1) are stored, then the answer hangs",
    "pollhang": "first N status queries (=N, default 1) hang before answering",
    "expire": "the result URL expires S seconds (=S, default 3) after completion",
    "drop": "chat format: the stream is cut mid-way, without [DONE]",
    "slow": "the job takes S seconds (=S) instead of job_seconds (default 4 x job_seconds)",
    "stuck": "the job never finishes (progress stalls at 50%)",
    "oddstatus": "while running, the status is a word clients do not know",
    "noid": "unified format: create answers 200 with a chat-completion body and no task id",
    # Gateway and relay drift (spec section 8); drift.py shapes the answers.
    "longid": "the job's id is N characters long (=N, default 1200) with = : / % + in it",
    "nourl": "a finished job's status carries no URL; the bytes are at /v1/videos/{id}/content "
    "(openai and GET /v1/videos/{id} answer in new-api rc.30's {task_id, status, progress} shape)",
    "metaurl": "a finished job's URL is only in metadata.url",
    "novariant": "the content route ignores ?variant= and always serves the MP4",
    "nodelete": "DELETE /v1/videos/{id} answers 405, as gateways without a delete route do",
    "unknown": "while running, the status is the word unknown",
    "emptystatus": "while running, the status is an empty string",
    "refusal": "job fails with the reason only in detail.failure_reason (=text sets it)",
    "progress": 'progress is sent as =percent (100), =string ("100%"), =fraction (1.0), '
    "=none (absent) or =zero (0 even on success)",
    "objecttools": "chat format: string tools are refused with 400, as LiteLLM-style relays do",
    # The shape of the result file (real relays hand out both); no effect on the job's life.
    "bigfile": "the MP4 is N MB (=N, default 1024, at most 4000), grown by a free box players "
    "skip: a large download that is still a valid video",
    "moovlast": "the MP4's index (moov box) comes after the media, as encoders without "
    "faststart write it",
}

DEFAULT_REFUSAL_REASON = "This content may violate our content policies."
LONG_ID_DEFAULT = 1200
BIG_FILE_DEFAULT_MB = 1024
BIG_FILE_MAX_MB = 4000  # a free box's 32-bit size
PROGRESS_STYLES = ("percent", "string", "fraction", "none", "zero")


@dataclass(frozen=True)
class Faults:
    moderation: str | None = None  # the reason, when the job must fail moderation
    fail: str | None = None  # the reason, when the job must fail generically
    create_429: int = 0
    poll_429: int = 0
    create_502: int = 0
    poll_502: int = 0
    create_garbage: int = 0
    poll_garbage: int = 0
    create_hang: int = 0
    poll_hang: int = 0
    expire_after: float | None = None
    drop: bool = False
    slow_seconds: float | None = None  # 0.0 means "the default slow-down"
    stuck: bool = False
    odd_status: bool = False
    no_id: bool = False
    long_id: int = 0  # length of the id handed out; 0 = the format's usual id
    no_url: bool = False
    meta_url: bool = False
    no_variant: bool = False
    no_delete: bool = False
    running_status: str | None = None  # "unknown" or "" while running
    refusal: str | None = None  # reason given only in detail.failure_reason
    progress_style: str | None = None  # one of PROGRESS_STYLES
    object_tools: bool = False
    file_mb: int = 0  # 0 = the clip as rendered
    moov_last: bool = False

    @property
    def failure_reason(self) -> str | None:
        return self.moderation or self.refusal or self.fail

    @property
    def create_rejections(self) -> tuple[tuple[str, int], ...]:
        """Create-time faults in the order they are served, attempt after attempt."""
        return (
            ("429", self.create_429),
            ("502", self.create_502),
            ("garbage", self.create_garbage),
        )

    @property
    def poll_rejections(self) -> tuple[tuple[str, int], ...]:
        return (
            ("429", self.poll_429),
            ("502", self.poll_502),
            ("garbage", self.poll_garbage),
            ("hang", self.poll_hang),
        )


_DRIFT_FLAGS = {
    "nourl": "no_url",
    "metaurl": "meta_url",
    "novariant": "no_variant",
    "nodelete": "no_delete",
    "objecttools": "object_tools",
}


def _count(value: str | None) -> int:
    if value is None or not value.strip():
        return 1
    try:
        return max(0, int(value))
    except ValueError:
        return 1


def _seconds(value: str | None, default: float) -> float:
    if value is None or not value.strip():
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def parse(prompt: str) -> Faults:
    """Read every marker in ``prompt``. A later marker of the same name wins."""
    found: dict[str, object] = {}
    for match in MARKER_RE.finditer(prompt or ""):
        name = match.group(1).lower().replace("-", "").replace("_", "")
        value = match.group(2)
        if name == "moderation":
            found["moderation"] = (value or "").strip() or DEFAULT_MODERATION_REASON
        elif name == "fail":
            found["fail"] = (value or "").strip() or DEFAULT_FAIL_REASON
        elif name in ("429", "502", "garbage", "hang"):
            found[f"create_{name}"] = _count(value)
        elif name in ("poll429", "poll502", "pollgarbage", "pollhang"):
            found[f"poll_{name[4:]}"] = _count(value)
        elif name == "expire":
            found["expire_after"] = _seconds(value, 3.0)
        elif name == "slow":
            found["slow_seconds"] = _seconds(value, 0.0)
        elif name in ("drop", "stuck", "noid"):
            found[{"noid": "no_id"}.get(name, name)] = True
        elif name == "oddstatus":
            found["odd_status"] = True
        elif name == "longid":
            found["long_id"] = _count(value) if value and value.strip() else LONG_ID_DEFAULT
        elif name == "bigfile":
            mb = _count(value) if value and value.strip() else BIG_FILE_DEFAULT_MB
            found["file_mb"] = min(mb, BIG_FILE_MAX_MB)
        elif name == "moovlast":
            found["moov_last"] = True
        elif name in _DRIFT_FLAGS:
            found[_DRIFT_FLAGS[name]] = True
        elif name == "unknown":
            found["running_status"] = "unknown"
        elif name == "emptystatus":
            found["running_status"] = ""
        elif name == "refusal":
            found["refusal"] = (value or "").strip() or DEFAULT_REFUSAL_REASON
        elif name == "progress" and (value or "").strip().lower() in PROGRESS_STYLES:
            found["progress_style"] = (value or "").strip().lower()
    return Faults(**found)  # type: ignore[arg-type]  # each value parsed for its field above


def strip_markers(prompt: str) -> str:
    """The prompt as a person would read it, for drawing on the clip."""
    return " ".join(MARKER_RE.sub(" ", prompt or "").split())
