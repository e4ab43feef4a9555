"""What the four wire formats share: reading values the way relays disagree on sending them,
the duration and content[] checks, and where sound and the first / last frames arrive, read
per model and format from the catalogue (``catalogue_models``) as soraweb's mapping writes them.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .. import catalogue_models
from .. import faults as faults_mod
from ..http import api_error
from ..store import Media, ModelRule


def int_value(value: Any) -> int | None:
    """An integer, or a string of digits (relays disagree which one to send)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def check_duration(rule: ModelRule, model: str, duration: int, fmt: str = "unified") -> None:
    durations = rule.durations_for(fmt)
    if durations is None:
        if not 1 <= duration <= 60:
            raise api_error(
                400, f"Invalid duration {duration}: use 1 to 60 seconds.", param="duration"
            )
    elif duration not in durations:
        allowed = " or ".join(str(d) for d in durations)
        raise api_error(
            400,
            f"Model {model} does not support duration {duration}: use {allowed}.",
            param="duration",
        )


def check_content_roles(rule: ModelRule, content: Any) -> None:
    """Vendor content[] items (new-api metadata): a last frame needs a first one, and no role
    may carry more items than the model declares."""
    if content is None:
        return
    if not isinstance(content, list) or not all(isinstance(i, dict) for i in content):
        raise api_error(
            400, "Field 'metadata.content' must be an array of objects.", param="content"
        )
    roles = [str(item.get("role", "")) for item in content]
    if "last_frame" in roles and "first_frame" not in roles:
        raise api_error(
            400,
            "A content item with role 'last_frame' needs one with role 'first_frame'.",
            param="content",
            code="invalid_value",
        )
    for role in dict.fromkeys(roles):
        limit = rule.role_limits.get(role)
        if limit is not None and roles.count(role) > limit:
            raise api_error(
                400,
                f"At most {limit} content item(s) with role '{role}' are allowed.",
                param="content",
                code="invalid_value",
            )


_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def _at(body: Any, path: str) -> Any:
    """The value at a dotted path of a body (``metadata.content[]`` is the list itself)."""
    node = body
    for step in path.removesuffix("[]").split("."):
        node = node.get(step) if isinstance(node, dict) else None
    return node


def _switch(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def _picture_bytes(value: Any) -> bytes | None:
    """A picture sent inline: a data: URL (bare, or in an ``image_url`` object). Outside URLs
    are not fetched: the clip then shows no picture."""
    if isinstance(value, dict):
        value = value.get("image_url", value.get("url"))
        if isinstance(value, dict):
            value = value.get("url")
    if not isinstance(value, str) or not value.startswith("data:"):
        return None
    head, _sep, payload = value.partition(",")
    try:
        return base64.b64decode(payload) if head.endswith(";base64") else payload.encode()
    except (ValueError, binascii.Error):
        return None


def media_of(
    rule: ModelRule,
    fmt: str,
    body: dict[str, Any],
    files: Mapping[str, tuple[str, str, bytes]] | None = None,
) -> Media:
    """Sound and first / last frames, read where the model's catalogue mapping puts them in
    this format (models the catalogue lacks: ``audio`` / ``generate_audio`` and the first
    picture)."""
    places = rule.media.get(fmt)
    if places is None:  # not a catalogue model: the plainest spelling
        places = {
            "audio": catalogue_models.Place(to="metadata.audio" if fmt == "newapi" else "audio"),
            "first_frame": catalogue_models.Place(
                to="input_reference"
                if fmt == "openai"
                else "content[]"
                if fmt == "chat"
                else "images[]",
                file=fmt == "openai",
            ),
        }
    audio = None
    where = places.get("audio")
    if where is not None:
        raw = _at(body, where.to)
        audio = _switch(raw)
    if audio is None:
        for name in ("generate_audio", "audio"):
            audio = _switch(body.get(name)) if isinstance(body, dict) else None
            if audio is not None:
                break
    if audio is None and where is not None:
        audio = rule.audio_default

    def picture(slot: str) -> bytes | None:
        place = places.get(slot)
        if place is None:
            return None
        if place.file:
            part = (files or {}).get(place.to.removesuffix("[]"))
            return part[2] if part else None
        value = _at(body, place.to)
        if place.to.endswith("[]") or isinstance(value, list):
            items = value if isinstance(value, list) else []
            if place.role:
                value = next(
                    (i for i in items if isinstance(i, dict) and i.get("role") == place.role), None
                )
            else:
                value = items[place.index] if len(items) > place.index else None
        return _picture_bytes(value)

    return Media(audio=audio, first=picture("first_frame"), last=picture("last_frame"))


def parse_ratio(value: Any) -> tuple[int, int] | None:
    """``"16:9"`` as (16, 9); anything else (adaptive, missing) as None."""
    match = re.fullmatch(r"(\d{1,3}):(\d{1,3})", str(value or "").strip())
    if not match or not int(match.group(1)) or not int(match.group(2)):
        return None
    return int(match.group(1)), int(match.group(2))


def parse_wxh(value: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{2,5})x(\d{2,5})", value.strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    return f"a {type(value).__name__}"


def enhanced(prompt: str) -> str:
    clean = faults_mod.strip_markers(prompt)
    return f"{clean}. Cinematic lighting, smooth camera motion, rich detail."


def chat_completion_body(completion_id: str, model: str, text: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 60, "total_tokens": 80},
    }
