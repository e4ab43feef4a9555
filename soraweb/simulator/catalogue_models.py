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
class Place:
    """Where one setting or picture arrives in a format's body: a dotted path (``to``); an
    array path ends in ``[]`` and is read by ``role`` when given, else at ``index``."""

    to: str
    write: str = ""
    role: str = ""
    file: bool = False  # an openai multipart file part named ``to``
    index: int = 0


# Image slots in the order the formats' default mappings place them.
_IMAGE_ORDER = ("first_frame", "last_frame", "reference_images")


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
    # Per format: where "audio", "first_frame" and "last_frame" arrive (the wire mapping).
    media: dict[str, dict[str, Place]] = field(default_factory=dict)
    audio_default: bool | None = None  # None: the model has no sound setting


def _values(param: dict[str, Any]) -> list[Any]:
    if param.get("type") == "choice":
        return [c["value"] if isinstance(c, dict) else c for c in param.get("choices", [])]
    if param.get("type") == "int":
        if "values" in param:
            return list(param["values"])
        return list(range(param["min"], param["max"] + 1, param.get("step", 1)))
    return []


def _media_places(params: dict[str, dict[str, Any]], fmt: str, mapping: dict[str, Any]) -> dict:
    """Where audio and the first / last frames arrive in ``fmt``: the mapping's own fields,
    then each format's documented default placement for what they leave out."""
    entries: list[dict[str, Any]] = []
    for entry in mapping.get("fields", []):
        name = entry.get("param", entry.get("params"))
        names = list(name) if isinstance(name, list | tuple) else [name]
        entries.extend({**entry, "param": str(n)} for n in names[:1] if n)
    covered = {e["param"] for e in entries}
    if mapping.get("defaults", True):
        images = sorted(
            (
                n
                for n, p in params.items()
                if p.get("type") == "slot" and p.get("kind", "image") == "image"
            ),
            key=lambda n: _IMAGE_ORDER.index(n) if n in _IMAGE_ORDER else len(_IMAGE_ORDER),
        )
        for i, name in enumerate(images):
            if name in covered:
                continue
            if fmt == "openai":
                to, file = ("input_reference", True) if i == 0 else (name, True)
                entries.append({"param": name, "to": to, "file": file})
            else:
                entries.append({"param": name, "to": "content[]" if fmt == "chat" else "images[]"})
        if "audio" in params and "audio" not in covered and fmt != "chat":
            entries.append(
                {"param": "audio", "to": "metadata.audio" if fmt == "newapi" else "audio"}
            )
    places: dict[str, Place] = {}
    seen: dict[str, int] = {}  # pictures placed before, per array without roles
    for entry in entries:
        to, role = str(entry["to"]), str(entry.get("role") or "")
        index = 0
        if to.endswith("[]") and not role:
            index = seen.get(to, 0)
            seen[to] = index + 1
        if entry["param"] in ("audio", "first_frame", "last_frame"):
            places.setdefault(
                entry["param"],
                Place(
                    to=to,
                    write=str(entry.get("write") or ""),
                    role=role,
                    file=bool(entry.get("file")),
                    index=index,
                ),
            )
    return places


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
    audio = params.get("audio")
    return CatalogueModel(
        media={fmt: _media_places(params, fmt, mapping) for fmt, mapping in wire.items()},
        audio_default=bool(audio.get("default")) if audio is not None else None,
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
