"""Gateway and relay drift (spec section 8), reproduced on purpose.

Each drift is a fault marker in the prompt (``[sim:longid]``, ``[sim:nourl]``, ...; see
faults.py) or, for the whole simulator, ``Simulator(drift=("longid", ...))`` /
``--drift longid,nourl``. The routes in server.py build their usual answer and pass it through
the functions here, so every drift lives in this one module and the formats stay readable.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .faults import Faults

# What a LiteLLM-style relay says to string tools (an OpenAI-style validation error).
STRING_TOOLS_REFUSAL = (
    "Invalid type for 'tools[{index}]': expected an object, but got a string instead."
)


def long_id(base: str, length: int) -> str:
    """An id of exactly ``length`` characters (at least the base plus some), starting with the
    unique ``base`` and full of the characters that break careless code: ``= : / % +``."""
    digest = base64.b64encode(hashlib.sha256(base.encode()).digest() * 4).decode()
    unit = f":gw=litellm/proxy%2Fvideo%25+{digest}"
    length = max(length, len(base) + 16)
    text = base + unit * (length // len(unit) + 1)
    return text[: length - 1] + "="  # base64-style padding at the end, like LiteLLM's ids


def job_id(faults: Faults, usual: str) -> str:
    return long_id(usual, faults.long_id) if faults.long_id else usual


def status_word(faults: Faults, state: str, usual: str) -> str:
    """The status word of a job: chained gateways pass ``unknown`` (or nothing) through."""
    if state == "running" and faults.running_status is not None:
        return faults.running_status
    return usual


def set_progress(body: dict[str, Any], key: str, faults: Faults, state: str, fraction: float):
    """Write progress the way the drift says: 100, "100%", 1.0, absent, or 0 even when done."""
    style = faults.progress_style
    if style is None:
        return
    done = state in ("completed", "expired")
    value = 1.0 if done else fraction
    body.pop(key, None)
    if style == "percent":
        body[key] = int(round(value * 100))
    elif style == "string":
        body[key] = f"{int(round(value * 100))}%"
    elif style == "fraction":
        body[key] = float(round(value, 4))
    elif style == "zero":
        body[key] = 0


def place_url(body: dict[str, Any], keys: tuple[str, ...], faults: Faults, empty: Any) -> None:
    """Take the result URL out of ``keys`` (``nourl``) or move it to ``metadata.url``."""
    if not (faults.no_url or faults.meta_url):
        return
    url = next((body[k] for k in keys if body.get(k)), None)
    for key in keys:
        if key in body:
            body[key] = empty
    if faults.meta_url and url:
        metadata = body.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        body["metadata"] = {**metadata, "url": url}


def place_refusal(body: dict[str, Any], keys: tuple[str, ...], faults: Faults, empty: Any) -> None:
    """A unified relay's refusal: the reason only in ``detail.failure_reason``."""
    if not faults.refusal:
        return
    for key in keys:
        if key in body:
            body[key] = empty
    detail = body.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    body["detail"] = {**detail, "failure_reason": faults.refusal}


def rc30_object(faults: Faults, job_id: str, state: str, fraction: float, error: str | None):
    """new-api rc.30's answer to ``GET /v1/videos/{task_id}``: no URL, progress as "NN%"."""
    status = {
        "queued": "QUEUED",
        "running": "IN_PROGRESS",
        "completed": "SUCCESS",
        "expired": "SUCCESS",
        "failed": "FAILURE",
    }[state]
    body: dict[str, Any] = {
        "task_id": job_id,
        "status": status_word(faults, state, status),
        "progress": "100%" if state in ("completed", "expired") else f"{int(fraction * 100)}%",
        "fail_reason": error or "",
    }
    set_progress(body, "progress", faults, state, fraction)
    return body


def string_tools_error(faults: Faults, tools: Any) -> str | None:
    """The refusal a strict relay gives to ``tools: ["function:..."]``, or None."""
    if not faults.object_tools or not isinstance(tools, list):
        return None
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            return STRING_TOOLS_REFUSAL.format(index=index)
    return None
