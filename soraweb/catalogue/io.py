"""The catalogue as a JSON file: export, import, and errors that name the line.

The file is documented in ``soraweb/catalogue/README.md``::

    {"format": "soraweb-catalogue", "version": 1, "models": [ {model}, ... ]}

A broken file is answered with every problem found, each as "line 12, column 9:
models[0].params[2].choices: ...", so a person can open the file at that line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .schema import ModelSpec, SpecError, _Checker, _parse_model, dump_model

FORMAT_NAME = "soraweb-catalogue"
VERSION = 1


@dataclass(frozen=True)
class FileProblem:
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class CatalogueFileError(ValueError):
    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def document(models: Sequence[dict[str, Any] | ModelSpec]) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": VERSION,
        "models": [m.to_dict() if isinstance(m, ModelSpec) else m for m in models],
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def export_text(models: list[ModelSpec]) -> str:
    return dumps(document(models))


# --- where each value sits in the text ------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")
_DECODER = json.JSONDecoder()


def _skip_ws(text: str, i: int) -> int:
    """Where the JSON whitespace at ``i`` ends (``_WS`` matches the empty string too)."""
    match = _WS.match(text, i)
    assert match is not None
    return match.end()


def _positions(text: str) -> dict[str, int]:
    """Offset of every value by its path ("models[0].params[1]"); the text is valid JSON."""
    out: dict[str, int] = {}

    def value(i: int, path: str) -> int:
        i = _skip_ws(text, i)
        out[path] = i
        ch = text[i]
        if ch == "{":
            i = _skip_ws(text, i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                i = _skip_ws(text, i)
                key, i = _DECODER.raw_decode(text, i)
                i = _skip_ws(text, i) + 1  # the colon
                child = f"{path}.{key}" if path else key
                i = value(i, child)
                i = _skip_ws(text, i)
                if text[i] == "}":
                    return i + 1
                i += 1  # the comma
        if ch == "[":
            i = _skip_ws(text, i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = value(i, f"{path}[{index}]")
                i = _skip_ws(text, i)
                if text[i] == "]":
                    return i + 1
                i += 1
                index += 1
        if ch == '"':
            return _DECODER.raw_decode(text, i)[1]
        scalar = _SCALAR.match(text, i)
        assert scalar is not None  # the text is valid JSON
        return scalar.end()

    value(0, "")
    return out


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _locate(text: str, positions: dict[str, int], path: str) -> tuple[int, int]:
    """The line of ``path``, or of its nearest parent that exists (a missing key)."""
    probe = path
    while probe not in positions and probe:
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return _line_col(text, positions.get(probe, 0))


# --- import ---------------------------------------------------------------------------------------


def load_text(text: str) -> list[ModelSpec]:
    """Every model of a catalogue file, or CatalogueFileError with each problem's line."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueFileError([FileProblem(exc.lineno, exc.colno, "", exc.msg)]) from None
    positions = _positions(text)
    c = _Checker()
    models: list[ModelSpec] = []
    if not isinstance(raw, dict):
        c.add("", "the file must hold one object with format, version and models")
    else:
        if raw.get("format") != FORMAT_NAME:
            c.add("format", f'must be "{FORMAT_NAME}"')
        if raw.get("version") != VERSION:
            c.add("version", f"must be {VERSION}")
        c.keys(raw, "", {"format", "version", "models"})
        items = raw.get("models")
        if not isinstance(items, list):
            c.add("models", "must be a list of models")
            items = []
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            spec = _parse_model(c, item, f"models[{i}]")
            if spec.id in seen:
                c.add(f"models[{i}].id", f'"{spec.id}" is used by models[{seen[spec.id]}] too')
            seen.setdefault(spec.id, i)
            models.append(spec)
    if c.problems:
        problems = []
        for path, message in c.problems:
            path = path.lstrip(".")
            line, col = _locate(text, positions, path)
            problems.append(FileProblem(line, col, path, message))
        raise CatalogueFileError(problems)
    return models


def load_model(data: dict[str, Any]) -> ModelSpec:
    """One model from stored JSON (a VideoModel's spec); SpecError if it is not valid."""
    c = _Checker()
    spec = _parse_model(c, data, "spec")
    if c.problems:
        raise SpecError(c.problems)
    return spec


def dump(spec: ModelSpec) -> dict[str, Any]:
    return dump_model(spec)
