"""Small helpers shared by the simulator tests."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import av
import requests


def wait_until(
    check: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    *,
    what: str = "condition not met",
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def advance_until(
    sim: Any,
    check: Callable[[], Any],
    step: float = 0.1,
    limit: float = 30.0,
    *,
    what: str = "condition not met",
) -> Any:
    """Call ``check``, moving the simulator's fake clock ``step`` seconds between calls, until
    it returns something truthy; fail naming ``what`` after ``limit`` simulated seconds."""
    moved = 0.0
    while True:
        value = check()
        if value:
            return value
        if moved >= limit:
            raise AssertionError(f"{what}: not within {limit} simulated seconds")
        sim.clock.advance(step)
        moved += step


def unified_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "images": [],
        "model": "sora-2",
        "orientation": "portrait",
        "prompt": "a paper boat on a rainy street",
        "size": "small",
        "duration": 10,
    }
    body.update(overrides)
    return body


def probe(data: bytes) -> dict[str, Any]:
    """What PyAV reads from an MP4: codec, pixel format, size, duration, stream kinds."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        return {
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
            "duration": container.duration / 1_000_000 if container.duration else 0.0,
            "frames": frames,
            "kinds": sorted(s.type for s in container.streams),
        }


def sse_events(response: requests.Response) -> list[str]:
    """The ``data:`` payloads of an SSE response, in order."""
    return [
        line[len("data: ") :]
        for line in response.iter_lines(decode_unicode=True)
        if line and line.startswith("data: ")
    ]
