"""The simulator's model list, read from catalogue files (the app's presets.json by default).

The simulator is an outside relay: it shares the catalogue's *file format*, never the app's
code, so this module reads the JSON itself. From each model it takes what a strict relay
checks: the durations and sizes each format accepts, OpenAI's ``seconds`` strings, and the
input slots (a last frame needs a first one; no more references than declared).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRESETS_FILE = Path(__file__).resolve().parents[1] / "catalogue" / "presets.json"
OPENAI_SECONDS = ("4", "8", "12")
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
_ROLE_OF_SLOT = {
    "first_frame": "first_frame",
    "last_frame": "last_frame",
    "reference_images": "reference_image",
    "reference_videos": "reference_video",
    "reference_audios": "reference_audio",
}


@dataclass(frozen=True)
class CatalogueModel:
    """What the simulator enforces for one model name."""

    name: str
    formats: tuple[str, ...]
    unified_sizes: tuple[str, ...] = ("small", "large")
    durations: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per format
    openai_seconds: tuple[str, ...] = OPENAI_SECONDS
    openai_sizes: tuple[str, ...] | None = None
    role_limits: dict[str, int] = field(default_factory=dict)  # content[] role -> most items


def _values(param: dict[str, Any]) -> list[Any]:
    if param.get("type") == "choice":
        return [c["value"] if isinstance(c, dict) else c for c in param.get("choices", [])]
    if param.get("type") == "int":
        if "values" in param:
            return list(param["values"])
        return list(range(param["min"], param["max"] + 1, param.get("step", 1)))
    return []


def _model(data: dict[str, Any]) -> CatalogueModel:
    params = {p["name"]: p for p in data.get("params", [])}
    wire = data.get("wire", {})
    all_durations = _values(params["duration"]) if "duration" in params else []
    durations: dict[str, tuple[int, ...]] = {}
    for fmt, mapping in wire.items():
        allowed = mapping.get("allow", {}).get("duration")
        if fmt == "openai" and allowed is None:
            allowed = [int(s) for s in OPENAI_SECONDS]
        # new-api gateways hand durations on to the vendor: the model's whole range counts.
        chosen = all_durations if fmt == "newapi" or allowed is None else allowed
        durations[fmt] = tuple(d for d in chosen if d in all_durations) or tuple(chosen)
    unified_sizes: tuple[str, ...] = ("small", "large")
    unified = wire.get("unified", {})
    for entry in unified.get("fields", []):
        if entry.get("to") == "size" and entry.get("values"):
            allowed = unified.get("allow", {}).get(entry["param"])
            unified_sizes = tuple(
                dict.fromkeys(
                    v for k, v in entry["values"].items() if allowed is None or k in allowed
                )
            )
    openai = wire.get("openai")
    openai_sizes: tuple[str, ...] | None = None
    openai_seconds: tuple[str, ...] = OPENAI_SECONDS
    if openai is not None:
        openai_sizes = tuple(openai.get("sizes") or OPENAI_SIZES)
        openai_seconds = tuple(str(d) for d in durations.get("openai", ()))
    limits = {
        _ROLE_OF_SLOT.get(name, name): int(p.get("max_count", 1))
        for name, p in params.items()
        if p.get("type") == "slot"
    }
    return CatalogueModel(
        name=data["name"],
        formats=tuple(wire),
        unified_sizes=unified_sizes,
        durations=durations,
        openai_seconds=openai_seconds,
        openai_sizes=openai_sizes,
        role_limits=limits,
    )


def load(paths: Iterable[str | os.PathLike[str]] = (PRESETS_FILE,)) -> dict[str, CatalogueModel]:
    """Every model of the given catalogue files, by name (a later file wins)."""
    out: dict[str, CatalogueModel] = {}
    for path in paths:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        for data in doc.get("models", []):
            model = _model(data)
            out[model.name] = model
    return out
