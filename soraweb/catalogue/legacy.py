"""The first catalogue's three knobs (orientation, size small/large, duration) as a spec.

Rows made before the catalogue existed, and code or tests that still speak those tokens, are
converted here once, without loss: portrait / landscape become 9:16 / 16:9, small / large become
720p / 1080p (an explicit ``WxH`` size stays itself), the durations and prices stay as they were.
What each format then receives follows its documented rules, so a 10-second model behind an
openai-format relay is offered that format's 4 / 8 / 12 seconds instead of failing with a 400.
"""

from __future__ import annotations

import re
from typing import Any

from .wire import OPENAI_SECONDS

ORIENTATION_RATIO = {"portrait": "9:16", "landscape": "16:9"}
RATIO_ORIENTATION = {v: k for k, v in ORIENTATION_RATIO.items()}
SIZE_RESOLUTION = {"small": "720p", "large": "1080p"}
RESOLUTION_SIZE = {v: k for k, v in SIZE_RESOLUTION.items()}
# OpenAI's four sizes for the old tokens (what the openai client used to compute).
OPENAI_FRAMES = {
    "9:16|720p": "720x1280",
    "16:9|720p": "1280x720",
    "9:16|1080p": "1024x1792",
    "16:9|1080p": "1792x1024",
}
_WXH = re.compile(r"(\d{2,5})\s*[xX×]\s*(\d{2,5})\Z")


def resolution_token(size: str) -> str:
    return SIZE_RESOLUTION.get(size, size)


def params_from_legacy(
    *, orientation: str = "", size: str = "", duration: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if orientation:
        out["aspect_ratio"] = ORIENTATION_RATIO.get(orientation, orientation)
    if size:
        out["resolution"] = resolution_token(size)
    if duration:
        out["duration"] = int(duration)
    return out


def _frame_pairs(orientations: list[str], sizes: list[str]) -> dict[str, str]:
    pairs = {}
    for size in sizes:
        res = resolution_token(size)
        for orientation in orientations:
            ratio = ORIENTATION_RATIO.get(orientation, orientation)
            key = f"{ratio}|{res}"
            match = _WXH.match(size)
            if match:
                w, h = sorted((int(match.group(1)), int(match.group(2))))
                pairs[key] = f"{h}x{w}" if orientation == "landscape" else f"{w}x{h}"
            elif key in OPENAI_FRAMES:
                pairs[key] = OPENAI_FRAMES[key]
    return pairs


def spec_from_legacy(
    *,
    name: str,
    display_name: str,
    orientations: list[str],
    sizes: list[str],
    durations: list[int],
    default_size: str = "",
    default_duration: int | None = None,
    max_images: int = 1,
    price_per_second: dict[str, Any] | None = None,
    deadline_minutes: int = 30,
) -> dict[str, Any]:
    """A catalogue model (as JSON data) equivalent to an old-style VideoModel row."""
    ratios = [ORIENTATION_RATIO.get(o, o) for o in orientations] or ["9:16", "16:9"]
    resolutions = [resolution_token(s) for s in sizes] or ["720p"]
    durations = sorted({int(d) for d in durations}) or [10]
    default_res = resolution_token(default_size) if default_size else resolutions[0]
    if default_res not in resolutions:
        default_res = resolutions[0]
    default_dur = int(default_duration) if default_duration in durations else durations[0]
    openai_durations = [d for d in durations if d in OPENAI_SECONDS] or list(OPENAI_SECONDS)
    frames = _frame_pairs(orientations or ["portrait", "landscape"], sizes or ["small"])
    params: list[dict[str, Any]] = [
        {
            "name": "aspect_ratio",
            "type": "choice",
            "label": {"en": "Orientation", "zh": "画面方向"},
            "choices": [
                {
                    "value": r,
                    "label": {
                        "en": {"9:16": "Portrait (tall)", "16:9": "Landscape (wide)"}.get(r, r),
                        "zh": {"9:16": "竖屏", "16:9": "横屏"}.get(r, r),
                    },
                }
                for r in ratios
            ],
            "default": ratios[0],
        },
        {
            "name": "resolution",
            "type": "choice",
            "label": {"en": "Size", "zh": "尺寸"},
            "choices": [
                {
                    "value": r,
                    "label": {
                        "en": {"720p": "Small (720p)", "1080p": "Large (1080p)"}.get(r, r),
                        "zh": {"720p": "标准 (720p)", "1080p": "高清 (1080p)"}.get(r, r),
                    },
                }
                for r in resolutions
            ],
            "default": default_res,
        },
        {
            "name": "duration",
            "type": "int",
            "label": {"en": "Duration", "zh": "时长"},
            "values": sorted(set(durations) | set(openai_durations)),
            "default": default_dur,
        },
    ]
    images: list[dict[str, Any]] = []
    if max_images >= 1:
        params.append(
            {
                "name": "first_frame",
                "type": "slot",
                "label": {"en": "Picture", "zh": "参考图片"},
                "max_count": 1,
            }
        )
        images.append({"param": "first_frame", "to": "images[]"})
    if max_images > 1:
        params.append(
            {
                "name": "reference_images",
                "type": "slot",
                "label": {"en": "More pictures", "zh": "更多参考图片"},
                "max_count": max_images - 1,
            }
        )
        images.append({"param": "reference_images", "to": "images[]"})
    size_tokens = {resolution_token(s): s for s in sizes}
    rows = [
        {"when": {"resolution": [resolution_token(size)]}, "amount": str(amount)}
        for size, amount in (price_per_second or {}).items()
        if resolution_token(size) in resolutions
    ]
    seeds = [d for d in durations]
    wire: dict[str, Any] = {
        "unified": {
            "model": "{model}",
            "defaults": False,
            "fields": [
                {"param": "aspect_ratio", "to": "orientation", "write": "orientation"},
                {"param": "resolution", "to": "size", "values": size_tokens},
                {"param": "duration", "to": "duration", "write": "int"},
                *images,
            ],
            "allow": {"duration": seeds},
        },
        "openai": {
            "model": "{model}",
            "defaults": False,
            "fields": [
                {"param": "duration", "to": "seconds", "write": "string"},
                {"param": ["aspect_ratio", "resolution"], "to": "size", "values": frames},
                *(
                    [{"param": "first_frame", "to": "input_reference", "file": True}]
                    if max_images >= 1
                    else []
                ),
            ],
            "allow": {"duration": openai_durations},
            "sizes": sorted(set(frames.values())),
        },
        "newapi": {
            "model": "{model}",
            "defaults": False,
            "fields": [
                {"param": ["aspect_ratio", "resolution"], "to": "size", "values": frames},
                {"param": "duration", "to": "duration", "write": "int"},
                {"param": "aspect_ratio", "to": "metadata.orientation", "write": "orientation"},
                *images,
            ],
            "allow": {"duration": seeds},
        },
        # A chat relay learns orientation and length from the prompt's end (no name pattern is
        # known for an arbitrary model); an admin can switch to a model-name template.
        "chat": {
            "model": "{model}",
            "prompt_suffix": "\n\n({orientation}, {duration}s)",
            "allow": {"duration": seeds},
        },
    }
    if max_images < 1:
        for mapping in wire.values():
            mapping["fields"] = [f for f in mapping.get("fields", []) if "images" not in f["to"]]
    out: dict[str, Any] = {
        "id": name,
        "name": name,
        "label": {"en": display_name or name, "zh": display_name or name},
        "params": params,
        "wire": wire,
        "deadline_minutes": max(1, int(deadline_minutes or 30)),
    }
    if rows:
        out["price"] = {"per": "second", "currency": "USD", "rows": rows}
    return out
