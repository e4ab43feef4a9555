"""Turn the many ways relays describe a job into one vocabulary (spec section 5).

Relays copy each other loosely: the same state is spelled ``SUCCESS``, ``completed`` or
``succeeded``, progress comes as ``42``, ``"42%"`` or ``0.42``, and a failure reason may sit in
any of half a dozen fields. Everything here is pure and total: odd input gives ``UNKNOWN`` or
``None``, never an exception, because a status poll must not crash on a word we have not seen.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .base import RemoteState

_SYNONYMS: dict[str, RemoteState] = {
    **dict.fromkeys(("queued", "pending", "submitted", "not_start"), RemoteState.QUEUED),
    **dict.fromkeys(("in_progress", "processing", "running", "generating"), RemoteState.RUNNING),
    **dict.fromkeys(("completed", "complete", "success", "succeeded"), RemoteState.SUCCEEDED),
    **dict.fromkeys(("failed", "failure", "error", "cancelled", "canceled"), RemoteState.FAILED),
    "expired": RemoteState.EXPIRED,
}


def normalise_status(raw: object) -> RemoteState:
    """Map a provider's status word to a RemoteState; anything unrecognised is UNKNOWN.

    Case, surrounding blanks and the separator (``in progress``, ``in-progress``) do not matter.
    """
    if not isinstance(raw, str):
        return RemoteState.UNKNOWN
    key = re.sub(r"[\s-]+", "_", raw.strip().lower())
    return _SYNONYMS.get(key, RemoteState.UNKNOWN)


def parse_progress(value: object, *, fraction: bool | None = None) -> int | None:
    """Read a progress value as a whole percent 0..100, or None when there is none.

    The rule when the field's scale is not known (``fraction=None``): **the type decides**.
    An int, or a string of digits, is a percent (``1`` is 1 %). A float, or a string with a
    decimal point, between 0 and 1 inclusive is a fraction (``0.5`` is 50 %, ``1.0`` is 100 %);
    a float above 1 is a percent (``42.5`` is 43 %). A trailing ``%`` always means percent.
    Callers that know a field is a fraction (the unified format's ``progress_pct``) pass
    ``fraction=True``, because a JavaScript relay serialises 1.0 as ``1``. Results are rounded
    and clamped to 0..100; booleans, NaN, infinities and words give None.
    """
    if value is None or isinstance(value, bool):
        return None
    number: float
    is_fraction: bool
    if isinstance(value, int):
        number, is_fraction = float(value), False
    elif isinstance(value, float):
        number, is_fraction = value, 0.0 <= value <= 1.0
    elif isinstance(value, str):
        text = value.strip()
        percent_sign = text.endswith("%")
        text = text.rstrip("%").strip()
        try:
            number = float(text)
        except ValueError:
            return None
        is_fraction = not percent_sign and "." in text and 0.0 <= number <= 1.0
    else:
        return None
    if not math.isfinite(number):
        return None
    if fraction is not None and not (isinstance(value, str) and value.strip().endswith("%")):
        is_fraction = fraction
    if is_fraction:
        number *= 100
    # Half-up rounding (Python's round() would turn 42.5 into 42).
    return max(0, min(100, math.floor(number + 0.5)))


# Where relays put a human-readable reason, in the order we trust them.
_REASON_KEYS = (
    "error",
    "fail_reason",
    "failure_reason",
    "message",
    "msg",
    "detail",
    "reason",
    "raiMediaFilteredReasons",  # Veo's refusals: a list of sentences
)
# Inside a nested error object; ``code`` is the last resort when there is no sentence.
_NESTED_KEYS = (
    "message",
    "msg",
    "failure_reason",
    "fail_reason",
    "detail",
    "reason",
    "error",
    "description",
    "raiMediaFilteredReasons",
    "code",
)
# Fields that only ever hold a reason, looked for at any depth when the usual places are empty
# (Veo nests its refusals under response.generateVideoResponse; gateways wrap bodies in data).
_DEEP_KEYS = ("raiMediaFilteredReasons", "failure_reason", "fail_reason")
_MAX_DEPTH = 4

# How refusals by a content filter are worded, in English and Chinese (审核 review, 违规 against
# the rules, 敏感 sensitive, 不合规 non-compliant).
_MODERATION_WORDS = (
    "moderation",
    "content polic",
    "violat",
    "safety",
    "flagged",
    "nsfw",
    "inappropriate",
    "审核",
    "违规",
    "敏感",
    "不合规",
)


def is_moderation(text: str | None) -> bool:
    """Whether a provider's reason says a content filter refused the job."""
    lowered = (text or "").lower()
    return any(word in lowered for word in _MODERATION_WORDS)


# A provider refusing a reference picture because its size does not match the video's.
_PICTURE_SIZE_WORDS = ("must match", "input_reference", "inpaint image", "width and height")


def is_picture_size_refusal(text: str | None) -> bool:
    """Whether a provider's reason says the picture's size does not match the video."""
    lowered = (text or "").lower()
    return any(word in lowered for word in _PICTURE_SIZE_WORDS)


def find_error_text(obj: object) -> str | None:
    """Find the provider's own explanation in a response body, or None.

    Looks in ``error`` (a string or ``{message}``), ``fail_reason``, ``message``, ``msg``,
    ``detail`` (a string, an object or a FastAPI-style list of ``{msg}``) and ``reason``.
    """
    if not isinstance(obj, dict):
        return _text_of(obj, 0)
    for key in _REASON_KEYS:
        text = _text_of(obj.get(key), 0)
        if text:
            return text
    return _deep_reason(obj, 0)


def _deep_reason(value: Any, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    children: list[Any] = []
    if isinstance(value, dict):
        for key in _DEEP_KEYS:
            text = _text_of(value.get(key), 1)
            if text:
                return text
        children = list(value.values())
    elif isinstance(value, list):
        children = value[:5]
    for child in children:
        if isinstance(child, dict | list):
            text = _deep_reason(child, depth + 1)
            if text:
                return text
    return None


def _text_of(value: Any, depth: int) -> str | None:
    if depth > _MAX_DEPTH or value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        for key in _NESTED_KEYS:
            text = _text_of(value.get(key), depth + 1)
            if text:
                return text
        return None
    if isinstance(value, list):
        # FastAPI-style validation errors: one entry per problem; a few are enough to act on.
        texts = [t for t in (_text_of(item, depth + 1) for item in value[:3]) if t]
        return "; ".join(texts) or None
    if isinstance(value, int | float) and depth > 0:
        return str(value)  # a bare numeric error code is better than nothing
    return None
