"""The catalogue in the admin: a model's entry edited with ordinary controls, presets attached
to a provider in two clicks, and the catalogue file imported / exported with buttons.

The editor never shows JSON as the way to edit. It turns a catalogue entry (the JSON-shaped
dict of ``soraweb/catalogue/README.md``) into rows of plain form fields, and the posted fields
back into such a dict, which ``soraweb.catalogue.schema.parse_model`` checks: its problems are
shown next to the row they belong to. Opening and saving an entry unchanged gives the same
entry back (``tests/catalogue/test_admin.py`` checks every preset).

Field names are flat (``cat-p-2-ch-0-value``) and every list says how many rows it has
(``cat-p-count``), so the page works without JavaScript (a few blank rows are always there);
``static/js/catalogue-admin.js`` only adds rows and hides the settings of other types.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from soraweb.catalogue.io import CatalogueFileError, export_text, load_text
from soraweb.catalogue.presets import load_presets
from soraweb.catalogue.schema import (
    FORMATS,
    PARAM_TYPES,
    SLOT_KINDS,
    WRITERS,
    ModelSpec,
    SpecError,
    dump_model,
    parse_model,
)
from soraweb.videos.models import Provider, VideoModel

P = "cat"  # every editor field starts with this
BLANK_PARAMS = 1
BLANK_CHOICES = 2
CONTENT_TYPES = {
    "image": ["image/png", "image/jpeg", "image/webp", "image/gif"],
    "video": ["video/mp4", "video/quicktime", "video/webm"],
    "audio": ["audio/mpeg", "audio/wav", "audio/mp4", "audio/aac"],
}
ROLES = ["", "first_frame", "last_frame", "reference_image", "reference_video", "reference_audio"]
MB = 1024 * 1024


# --- what the presets know: the chips offered for each parameter name ----------------------------


def _known() -> tuple[dict[str, list[tuple[str, dict]]], dict[str, list[int]]]:
    choices: dict[str, list[tuple[str, dict]]] = {}
    ints: dict[str, set[int]] = {}
    for spec in load_presets():
        for p in spec.params:
            if p.type == "choice":
                have = choices.setdefault(p.name, [])
                for c in p.choices:
                    if c.value not in {v for v, _l in have}:
                        have.append((c.value, c.label.to_dict()))
            elif p.type == "int" and p.values:
                ints.setdefault(p.name, set()).update(p.values)
    return choices, {k: sorted(v) for k, v in ints.items()}


_KNOWN: tuple[dict[str, list[tuple[str, dict]]], dict[str, list[int]]] | None = None


def known() -> tuple[dict[str, list[tuple[str, dict]]], dict[str, list[int]]]:
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = _known()
    return _KNOWN


# --- values as text and back --------------------------------------------------------------------


def _label(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        return {"en": raw, "zh": raw}
    if isinstance(raw, dict):
        return {"en": str(raw.get("en", "")), "zh": str(raw.get("zh", ""))}
    return {"en": "", "zh": ""}


def _scalar_text(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "" if value is None else str(value)


class Refused(str):
    """A posted value the editor does not take (what it was, in words): it stays refused when
    the page is shown again, and is never saved."""


def value_kind(value: Any) -> tuple[str, str]:
    """(kind, text) for a value typed into one cell: text, number, yes/no or a list of texts or
    of numbers (comma-separated); ("object", "") for a group of fields, edited as rows of parts
    (see ``flatten``); ("refused", what it is) for a value the editor does not take."""
    if isinstance(value, Refused):
        return "refused", str(value)
    if isinstance(value, bool):
        return "bool", "yes" if value else "no"
    if isinstance(value, int | float):
        return "number", json.dumps(value)
    if isinstance(value, str):
        return "text", value
    if isinstance(value, dict):
        return "object", ""
    if isinstance(value, list):
        if all(isinstance(v, str) and v and v == v.strip() and "," not in v for v in value):
            return "texts", ", ".join(value)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return "numbers", ", ".join(json.dumps(v) for v in value)
        if any(isinstance(v, dict) for v in value):
            return "refused", _("a list of groups of fields")
        if any(isinstance(v, list) for v in value):
            return "refused", _("a list of lists")
        return "refused", _("a list that is neither all plain texts nor all numbers")
    return "refused", _("an empty value (null)")


def flatten(group: dict, base: str = "") -> list[tuple[str, str, str]]:
    """A group of fields as rows of (path, kind, text): {"config": {"horizontal": 5}} is one
    row ("config.horizontal", "number", "5"); ``rebuild`` makes the group again."""
    out: list[tuple[str, str, str]] = []
    for key, value in group.items():
        path = f"{base}.{key}" if base else str(key)
        if not isinstance(key, str) or not key.strip() or "." in key or key != key.strip():
            out.append((path, "refused", _("a part whose name is empty or has a dot in it")))
        elif isinstance(value, dict) and value:
            out += flatten(value, path)
        elif isinstance(value, dict):
            out.append((path, "refused", _("an empty group")))
        else:
            out.append((path, *value_kind(value)))
    return out


def refused_words(path: str, what: str) -> str:
    return _(
        "“%(path)s” is %(what)s, which the editor does not take: remove it, or change it in "
        "the catalogue file."
    ) % {"path": path, "what": what}


def parse_kind(kind: str, text: str) -> tuple[Any, str]:
    """The value and "" or why it is not one."""
    if kind == "bool":
        return text.strip().lower() in ("yes", "true", "on", "1"), ""
    if kind == "number":
        try:
            number = json.loads(text)
        except ValueError:
            number = None
        if isinstance(number, bool) or not isinstance(number, int | float):
            return text, _("“%(text)s” is not a number.") % {"text": text}
        return number, ""
    if kind == "texts":
        return _split(text), ""
    if kind == "numbers":
        numbers = []
        for part in _split(text):
            number, problem = parse_kind("number", part)
            if problem:
                return text, problem
            numbers.append(number)
        return numbers, ""
    if kind == "refused":  # the caller says why, with the value's name
        return Refused(text), ""
    return text, ""


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _typed(ptype: str, text: str) -> Any:
    """One condition value typed as text, as the parameter's type (wrong ones stay text, and
    the catalogue's parser names them)."""
    if ptype == "int":
        try:
            return int(text)
        except ValueError:
            return text
    if ptype == "bool":
        low = text.lower()
        if low in ("yes", "true", "on"):
            return True
        if low in ("no", "false", "off"):
            return False
    return text


# --- the editor's rows --------------------------------------------------------------------------


@dataclass
class Editor:
    """The rows a catalogue entry is shown as, with each row's problems."""

    raw: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)  # row key -> sentences

    # -- entry -> rows -----------------------------------------------------------------------

    def context(self) -> dict[str, Any]:
        raw = self.raw
        choices_known, ints_known = known()
        params = [p for p in raw.get("params", []) if isinstance(p, dict)]
        names = [str(p.get("name", "")) for p in params]
        types = {str(p.get("name", "")): p.get("type") for p in params}
        rows = [
            self._param_row(i, p, choices_known, ints_known)
            for i, p in enumerate(params + [{}] * BLANK_PARAMS)
        ]
        rules = [r for r in raw.get("rules", []) if isinstance(r, dict)]
        price = raw.get("price") if isinstance(raw.get("price"), dict) else None
        price_rows = [r for r in (price or {}).get("rows", []) if isinstance(r, dict)]
        wire: dict[str, Any] = raw["wire"] if isinstance(raw.get("wire"), dict) else {}
        return {
            "P": P,
            "label": _label(raw.get("label", raw.get("name", ""))),
            "note": _label(raw.get("note")) if raw.get("note") else {"en": "", "zh": ""},
            "family": raw.get("family", ""),
            "id": raw.get("id", ""),
            "spec_name": raw.get("name", ""),
            "deadline": raw.get("deadline_minutes", 30),
            "params": rows,
            "param_count": len(rows),
            "param_template": self._param_row("__n__", {}, choices_known, ints_known),
            "param_names": names,
            "types": PARAM_TYPES,
            "slot_kinds": SLOT_KINDS,
            "rules": [self._rule_row(i, r, types) for i, r in enumerate(rules + [{}])],
            "rule_count": len(rules) + 1,
            "rule_template": self._rule_row("__n__", {}, types),
            "price": {
                "per": (price or {}).get("per", "second") if price else "",
                "currency": (price or {}).get("currency", "USD"),
                "seconds_param": (price or {}).get("seconds_param", "duration"),
                "errors": self.errors.get("price", []),
                "rows": [self._price_row(i, r, types) for i, r in enumerate(price_rows + [{}])],
                "count": len(price_rows) + 1,
                "template": self._price_row("__n__", {}, types),
            },
            "wire": [self._wire(fmt, wire.get(fmt), names) for fmt in FORMATS],
            "writers": WRITERS,
            "roles": ROLES,
            "top_errors": self.errors.get("", []),
            "json": json.dumps(raw, ensure_ascii=False, indent=2),
        }

    def _param_row(self, i: Any, p: dict, choices_known: dict, ints_known: dict) -> dict:
        pre = f"{P}-p-{i}"
        name = str(p.get("name", ""))
        ptype = p.get("type", "choice" if not p else "")
        current = [c for c in p.get("choices", []) if isinstance(c, str | dict)]
        chips = []
        seen = set()
        for c in current:
            value = c if isinstance(c, str) else str(c.get("value", ""))
            lab = _label(c.get("label", value) if isinstance(c, dict) else c)
            chips.append({"value": value, "label": lab, "on": True})
            seen.add(value)
        for value, lab in choices_known.get(name, []):
            if value not in seen:
                chips.append({"value": value, "label": lab, "on": False})
                seen.add(value)
        chips += [
            {"value": "", "label": {"en": "", "zh": ""}, "on": True, "new": True}
            for _blank in range(BLANK_CHOICES)
        ]
        for j, chip in enumerate(chips):
            chip["prefix"] = f"{pre}-ch-{j}"
        values = [v for v in p.get("values", []) if isinstance(v, int)]
        int_chips = sorted(set(values) | set(ints_known.get(name, [])))
        kind = p.get("kind", "image")
        types_now = [t for t in p.get("content_types", []) if isinstance(t, str)]
        offered = types_now + [t for t in CONTENT_TYPES.get(kind, []) if t not in types_now]
        default = p.get("default")
        max_bytes = p.get("max_bytes")
        return {
            "prefix": pre,
            "new": not p,
            "name": name,
            "type": ptype,
            "label": _label(p.get("label", name)) if p else {"en": "", "zh": ""},
            "help": _label(p.get("help")) if p.get("help") else {"en": "", "zh": ""},
            "default": "" if default is None else _scalar_text(default),
            "default_choices": [c["value"] for c in chips if c["value"]],
            "chips": chips,
            "choice_count": len(chips),
            "choice_template": {
                "prefix": f"{pre}-ch-__m__",
                "value": "",
                "label": {"en": "", "zh": ""},
                "on": True,
                "new": True,
            },
            "int_mode": "range" if "min" in p or "max" in p else "list",
            "int_chips": [{"value": v, "on": v in values} for v in int_chips],
            "min": p.get("min", ""),
            "max": p.get("max", ""),
            "step": p.get("step", 1),
            "max_length": p.get("max_length", ""),
            "kind": kind,
            "max_count": p.get("max_count", 1),
            "max_mb": "" if max_bytes is None else _mb(max_bytes),
            "content_types": [{"value": t, "on": t in types_now} for t in offered],
            "errors": self.errors.get(pre, []),
        }

    def _conditions(self, pre: str, raw: Any, types: dict) -> list[dict]:
        items = list(raw.items()) if isinstance(raw, dict) else []
        out = []
        for k, (param, spec) in enumerate([*items, ("", [])]):
            mode = spec if spec in ("set", "unset") else "values"
            values = spec if isinstance(spec, list) else ([] if mode != "values" else [spec])
            out.append(
                {
                    "prefix": f"{pre}-{k}",
                    "param": param,
                    "mode": mode,
                    "values": ", ".join(_scalar_text(v) for v in values),
                }
            )
        return out

    def _rule_row(self, i: Any, r: dict, types: dict) -> dict:
        pre = f"{P}-r-{i}"
        when = self._conditions(f"{pre}-w", r.get("when"), types)
        then = self._conditions(f"{pre}-t", r.get("then"), types)
        return {
            "prefix": pre,
            "when": when,
            "when_count": len(when),
            "then": then,
            "then_count": len(then),
            "message": _label(r.get("message")) if r.get("message") else {"en": "", "zh": ""},
            "errors": self.errors.get(pre, []),
        }

    def _price_row(self, i: Any, r: dict, types: dict) -> dict:
        pre = f"{P}-pr-{i}"
        when = self._conditions(f"{pre}-w", r.get("when"), types)
        return {
            "prefix": pre,
            "when": when,
            "when_count": len(when),
            "amount": r.get("amount", ""),
            "errors": self.errors.get(pre, []),
        }

    def _wire(self, fmt: str, m: Any, names: list[str]) -> dict:
        pre = f"{P}-w-{fmt}"
        on = isinstance(m, dict)
        m = m if isinstance(m, dict) else {}
        fields = [f for f in m.get("fields", []) if isinstance(f, dict)] + [{}]
        allow = list((m.get("allow") or {}).items()) + [("", [])]
        static = list((m.get("static") or {}).items()) + [("", "")]
        sizes = m.get("sizes")
        return {
            "fmt": fmt,
            "prefix": pre,
            "on": on,
            "model": m.get("model", "{model}"),
            "prompt_suffix": m.get("prompt_suffix", ""),
            "defaults": m.get("defaults", True),
            "sizes_on": sizes is not None,
            "sizes": ", ".join(sizes) if isinstance(sizes, list) else "",
            "fields": [self._field_row(f"{pre}-f-{k}", f) for k, f in enumerate(fields)],
            "field_count": len(fields),
            "field_template": self._field_row(f"{pre}-f-__m__", {}),
            "allow": [
                {
                    "prefix": f"{pre}-a-{k}",
                    "param": name,
                    "values": ", ".join(_scalar_text(v) for v in values)
                    if isinstance(values, list)
                    else "",
                }
                for k, (name, values) in enumerate(allow)
            ],
            "allow_count": len(allow),
            "static": [
                self._value(f"{pre}-s-{k}", key, value) for k, (key, value) in enumerate(static)
            ],
            "static_count": len(static),
            "errors": self.errors.get(pre, []),
        }

    def _field_row(self, pre: str, f: dict) -> dict:
        params = f.get("param", "")
        params = [params] if isinstance(params, str) else list(params or [])
        values = list((f.get("values") or {}).items()) + [("", "")]
        write = f.get("write", "map" if f.get("values") else "same")
        return {
            "prefix": pre,
            "param": params[0] if params else "",
            "param2": params[1] if len(params) > 1 else "",
            "to": f.get("to", ""),
            "write": write,
            "role": f.get("role", ""),
            "file": bool(f.get("file")),
            "values": [self._value(f"{pre}-v-{k}", key, v) for k, (key, v) in enumerate(values)],
            "value_count": len(values),
            "errors": self.errors.get(pre, []),
            "marked": bool(self.errors.get(pre))
            or any(self.errors.get(f"{pre}-v-{k}") for k in range(len(values))),
        }

    def _value(self, pre: str, key: str, value: Any) -> dict:
        """One value sent: a kind and a cell, or, for a group of fields, a table of its parts
        (one row per path, a blank row to add one)."""
        kind, text = value_kind(value) if key else ("text", "")
        errors = self.errors.get(pre, [])
        problems = [refused_words(key, text)] if kind == "refused" else []
        parts = []
        for j, (where, part_kind, part_text) in enumerate(
            flatten(value) if kind == "object" else []
        ):
            problem = refused_words(where, part_text) if part_kind == "refused" else ""
            problem = "" if problem in errors else problem  # said once, on the value
            parts.append(self._part(f"{pre}-o-{j}", where, part_kind, part_text, problem))
        parts.append(self._part(f"{pre}-o-{len(parts)}", "", "text", "", ""))
        return {
            "prefix": pre,
            "key": key,
            "kind": kind,
            "text": text,
            "parts": parts,
            "part_count": len(parts),
            "part_template": self._part(f"{pre}-o-__o__", "", "text", "", ""),
            "problems": [e for e in problems if e not in errors],
            "errors": errors,
        }

    @staticmethod
    def _part(pre: str, where: str, kind: str, text: str, problem: str) -> dict:
        return {"prefix": pre, "path": where, "kind": kind, "text": text, "problem": problem}


def _mb(n: Any) -> str:
    if not isinstance(n, int):
        return str(n)
    text = f"{n / MB:.6f}".rstrip("0").rstrip(".")
    return text


# --- posted fields -> entry ---------------------------------------------------------------------


class _Reader:
    def __init__(self, data: Any) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}
        # JSON path of each list item -> the row it came from, to put the parser's words there.
        self.where: dict[str, str] = {}

    def get(self, name: str, default: str = "") -> str:
        return str(self.data.get(name, default)).strip()

    def raw_get(self, name: str) -> str:
        return str(self.data.get(name, ""))

    def on(self, name: str) -> bool:
        return name in self.data and self.data.get(name) not in ("", "0", "off", "false")

    def many(self, name: str) -> list[str]:
        getter = getattr(self.data, "getlist", None)
        return [str(v) for v in (getter(name) if getter else self.data.get(name, []))]

    def count(self, name: str) -> int:
        try:
            return max(0, min(int(self.get(name, "0")), 500))
        except ValueError:
            return 0

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def label(self, pre: str, fallback: str = "") -> dict[str, str]:
        en, zh = self.get(f"{pre}_en"), self.get(f"{pre}_zh")
        return {"en": en or fallback, "zh": zh or en or fallback}

    def value(self, pre: str, key: str) -> Any:
        """The value a value cell (``value.html``) was given; its problems go on the cell."""
        kind = self.get(f"{pre}-kind", "text")
        if kind != "object":
            value, problem = parse_kind(kind, self.raw_get(f"{pre}-value"))
            if isinstance(value, Refused):
                self.error(pre, refused_words(key, value))
            elif problem:
                self.error(pre, problem)
            return value
        group: dict[str, Any] = {}
        for j in range(self.count(f"{pre}-o-count")):
            op = f"{pre}-o-{j}"
            path = self.get(f"{op}-path")
            if not path or self.on(f"{op}-delete"):
                continue
            keys = [k.strip() for k in path.split(".")]
            if not all(keys):
                self.error(
                    pre,
                    _("“%(path)s” is not a part name: write names joined by dots, e.g. %(e)s.")
                    % {"path": path, "e": "config.horizontal"},
                )
                continue
            value, problem = parse_kind(self.get(f"{op}-kind", "text"), self.raw_get(f"{op}-value"))
            if isinstance(value, Refused):
                self.error(pre, refused_words(path, value))
            elif problem:
                self.error(pre, f"{path}: {problem}")
            place = group
            for k in keys[:-1]:
                place = place.setdefault(k, {})
                if not isinstance(place, dict):
                    break
            if not isinstance(place, dict) or keys[-1] in place:
                self.error(
                    pre,
                    _("“%(path)s” is given twice (or as a value and as a group of parts).")
                    % {"path": path},
                )
                continue
            place[keys[-1]] = value
        if not group and not self.errors.get(pre):
            self.error(pre, _("A group of fields needs at least one part: fill in a row."))
        return group

    def conditions(self, pre: str, row: str, types: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in range(self.count(f"{pre}-count")):
            cp = f"{pre}-{k}"
            param = self.get(f"{cp}-param")
            if not param:
                continue
            mode = self.get(f"{cp}-mode", "values")
            if mode in ("set", "unset"):
                out[param] = mode
            else:
                ptype = types.get(param, "text")
                out[param] = [_typed(ptype, v) for v in _split(self.get(f"{cp}-values"))]
        return out


def read_post(data: Any) -> tuple[dict[str, Any], _Reader]:
    """The entry the editor's fields describe (as JSON-shaped data, unchecked)."""
    r = _Reader(data)
    raw: dict[str, Any] = {}
    spec_id = r.get(f"{P}-id")
    if spec_id:
        raw["id"] = spec_id
    raw["name"] = r.get(f"{P}-name")
    raw["label"] = r.label(f"{P}-label", raw["name"])
    if r.get(f"{P}-family"):
        raw["family"] = r.get(f"{P}-family")
    if r.get(f"{P}-note_en"):
        raw["note"] = r.label(f"{P}-note")
    params: list[dict[str, Any]] = []
    types: dict[str, str] = {}
    for i in range(r.count(f"{P}-p-count")):
        pre = f"{P}-p-{i}"
        name = r.get(f"{pre}-name")
        if not name or r.on(f"{pre}-delete"):
            continue
        ptype = r.get(f"{pre}-type")
        p: dict[str, Any] = {"name": name, "type": ptype, "label": r.label(f"{pre}-label", name)}
        if r.get(f"{pre}-help_en"):
            p["help"] = r.label(f"{pre}-help")
        if ptype == "choice":
            choices = []
            for j in range(r.count(f"{pre}-ch-count")):
                cp = f"{pre}-ch-{j}"
                value = r.get(f"{cp}-value")
                if value and r.on(f"{cp}-on"):
                    choices.append({"value": value, "label": r.label(f"{cp}-label", value)})
            p["choices"] = choices
        elif ptype == "int":
            if r.get(f"{pre}-int_mode", "list") == "range":
                for key in ("min", "max", "step"):
                    text = r.get(f"{pre}-{key}")
                    if text or key != "step":
                        p[key] = _typed("int", text)
            else:
                values = [_typed("int", v) for v in r.many(f"{pre}-iv")]
                values += [_typed("int", v) for v in _split(r.get(f"{pre}-iv_more"))]
                p["values"] = values
        elif ptype == "text":
            if r.get(f"{pre}-max_length"):
                p["max_length"] = _typed("int", r.get(f"{pre}-max_length"))
        elif ptype == "slot":
            p["kind"] = r.get(f"{pre}-kind", "image")
            p["max_count"] = _typed("int", r.get(f"{pre}-max_count", "1") or "1")
            mb = r.get(f"{pre}-max_mb")
            if mb:
                try:
                    p["max_bytes"] = round(Decimal(mb) * MB)
                except ArithmeticError:
                    r.error(pre, _("“%(text)s” is not a number of megabytes.") % {"text": mb})
            types_on = [t for t in r.many(f"{pre}-ct") if t]
            types_on += [t for t in _split(r.get(f"{pre}-ct_more")) if t not in types_on]
            if types_on:
                p["content_types"] = types_on
        default = r.get(f"{pre}-default")
        if default and ptype != "slot":
            p["default"] = _typed(ptype, default)
        r.where[f"params[{len(params)}]"] = pre
        params.append(p)
        types[name] = ptype
    raw["params"] = params
    rules: list[dict[str, Any]] = []
    for i in range(r.count(f"{P}-r-count")):
        pre = f"{P}-r-{i}"
        when = r.conditions(f"{pre}-w", pre, types)
        then = r.conditions(f"{pre}-t", pre, types)
        message = r.label(f"{pre}-msg")
        if r.on(f"{pre}-delete") or not (when or then or message["en"]):
            continue
        r.where[f"rules[{len(rules)}]"] = pre
        rules.append({"when": when, "then": then, "message": message})
    if rules:
        raw["rules"] = rules
    per = r.get(f"{P}-price-per")
    if per:
        price: dict[str, Any] = {"per": per, "currency": r.get(f"{P}-price-currency") or "USD"}
        seconds = r.get(f"{P}-price-seconds_param")
        if seconds and seconds != "duration":
            price["seconds_param"] = seconds
        rows: list[dict[str, Any]] = []
        for i in range(r.count(f"{P}-pr-count")):
            pre = f"{P}-pr-{i}"
            when = r.conditions(f"{pre}-w", pre, types)
            amount = r.get(f"{pre}-amount")
            if r.on(f"{pre}-delete") or not (amount or when):
                continue
            r.where[f"price.rows[{len(rows)}]"] = pre
            rows.append(({"when": when} if when else {}) | {"amount": amount})
        price["rows"] = rows
        raw["price"] = price
    wire: dict[str, Any] = {}
    for fmt in FORMATS:
        pre = f"{P}-w-{fmt}"
        if not r.on(f"{pre}-on"):
            continue
        r.where[f"wire.{fmt}"] = pre
        m: dict[str, Any] = {"model": r.get(f"{pre}-model") or "{model}"}
        suffix = r.raw_get(f"{pre}-prompt_suffix")
        if suffix.strip():
            m["prompt_suffix"] = suffix
        fields: list[dict[str, Any]] = []
        for k in range(r.count(f"{pre}-f-count")):
            fp = f"{pre}-f-{k}"
            names = [n for n in (r.get(f"{fp}-param"), r.get(f"{fp}-param2")) if n]
            to = r.get(f"{fp}-to")
            if r.on(f"{fp}-delete") or not (names or to):
                continue
            item: dict[str, Any] = {"param": names[0] if len(names) == 1 else names, "to": to}
            mapped: dict[str, Any] = {}
            for v in range(r.count(f"{fp}-v-count")):
                vp = f"{fp}-v-{v}"
                key = r.get(f"{vp}-key")
                if key:
                    mapped[key] = r.value(vp, key)
            item["write"] = r.get(f"{fp}-write", "same") or "same"
            if mapped:
                item["values"] = mapped
            if r.get(f"{fp}-role"):
                item["role"] = r.get(f"{fp}-role")
            if r.on(f"{fp}-file"):
                item["file"] = True
            r.where[f"wire.{fmt}.fields[{len(fields)}]"] = fp
            fields.append(item)
        if fields:
            m["fields"] = fields
        static = {}
        for k in range(r.count(f"{pre}-s-count")):
            sp = f"{pre}-s-{k}"
            key = r.get(f"{sp}-key")
            if key:
                static[key] = r.value(sp, key)
        if static:
            m["static"] = static
        allow = {}
        for k in range(r.count(f"{pre}-a-count")):
            ap = f"{pre}-a-{k}"
            name = r.get(f"{ap}-param")
            if name:
                ptype = types.get(name, "text")
                allow[name] = [_typed(ptype, v) for v in _split(r.get(f"{ap}-values"))]
        if allow:
            m["allow"] = allow
        if not r.on(f"{pre}-defaults"):
            m["defaults"] = False
        if r.on(f"{pre}-sizes_on"):
            m["sizes"] = _split(r.get(f"{pre}-sizes"))
        wire[fmt] = m
    raw["wire"] = wire
    deadline = r.get(f"{P}-deadline", "30") or "30"
    raw["deadline_minutes"] = _typed("int", deadline)
    return raw, r


# The catalogue parser's sentences (English, for files and logs), said in the person's language.
_WORDS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(p + r"\Z"), t)
    for p, t in [
        (r"must be one of (?P<a>.+)", gettext_lazy("must be one of %(a)s")),
        (r"is required", gettext_lazy("is required")),
        (r"must be a string", gettext_lazy("must be a text")),
        (r"must be an integer", gettext_lazy("must be a whole number")),
        (r"must be an object", gettext_lazy("must be a group of fields")),
        (r"an English text is required", gettext_lazy("an English text is required")),
        (r"must be a non-empty string", gettext_lazy("must not be empty")),
        (
            r"use lower-case letters, digits and _ \(not prompt or model\)",
            gettext_lazy("use lower-case letters, digits and _ (not prompt or model)"),
        ),
        (
            r"a choice parameter needs a non-empty list of choices",
            gettext_lazy("a choice setting needs at least one choice ticked"),
        ),
        (r"each value may appear once", gettext_lazy("each value may appear once")),
        (
            r"must be a non-empty list of integers",
            gettext_lazy("tick at least one value, or give a range"),
        ),
        (r"must be at least 1", gettext_lazy("must be at least 1")),
        (r"must not be below min", gettext_lazy("must not be below the lowest value")),
        (
            r"an int parameter needs values, or min and max",
            gettext_lazy("tick at least one value, or give a range"),
        ),
        (r"an input slot has no default", gettext_lazy("an input file has no default")),
        (
            r"must be between (?P<a>\S+) and (?P<b>\S+)",
            gettext_lazy("must be between %(a)s and %(b)s"),
        ),
        (
            r"must be (?P<a>\S+) plus a multiple of (?P<b>\S+)",
            gettext_lazy("must be %(a)s plus a multiple of %(b)s"),
        ),
        (r"must be true or false", gettext_lazy("must be yes or no")),
        (
            r"must be at most (?P<a>\d+) characters",
            gettext_lazy("must be at most %(a)s characters"),
        ),
        (r"needs at least one parameter", gettext_lazy("needs at least one setting")),
        (r"names no parameter of this model", gettext_lazy("names no setting of this model")),
        (
            r'must be a number written as a string, e\.g\. "0\.10"',
            gettext_lazy('must be a number written as a string, e.g. "0.10"'),
        ),
        (r"must be zero or more", gettext_lazy("must be zero or more")),
        (r'names no parameter \("(?P<a>.*)"\)', gettext_lazy("names no setting (“%(a)s”)")),
        (r"needs at least one row", gettext_lazy("needs at least one row")),
        (
            r"must name a parameter \(or a list of them\)",
            gettext_lazy("choose a setting (or two, for a pair)"),
        ),
        (
            r'"(?P<a>.*)" is no parameter of this model',
            gettext_lazy("“%(a)s” is no setting of this model"),
        ),
        (
            r'write a field name, a dotted path \("metadata\.style"\) or "name\[\]"',
            gettext_lazy('write a field name, a dotted path ("metadata.style") or "name[]"'),
        ),
        (r'write "map" needs a values table', gettext_lazy("“map” needs values to send instead")),
        (
            r"only an input slot can be sent as a file",
            gettext_lazy("only an input file can be sent as a file"),
        ),
        (r'"\{(?P<a>.*)\}" names no parameter', gettext_lazy("“{%(a)s}” names no setting")),
        (r'"(?P<a>.*)" is declared twice', gettext_lazy("“%(a)s” is declared twice")),
        (
            r"say at least one wire format the model is sold in",
            gettext_lazy("tick at least one wire format the model is sold in"),
        ),
        (
            r"must be a whole number of minutes, at least 1",
            gettext_lazy("must be a whole number of minutes, at least 1"),
        ),
    ]
]


def words(message: str) -> str:
    """A parser problem in the active language (unknown sentences stay as they are)."""
    for pattern, template in _WORDS:
        match = pattern.match(message)
        if match:
            return str(template) % match.groupdict() if match.groupdict() else str(template)
    return message


def place_problems(problems: list[tuple[str, str]], reader: _Reader) -> dict[str, list[str]]:
    """Each parser problem ("model.params[2].default: ...") on the row it belongs to."""
    out = {k: list(v) for k, v in reader.errors.items()}
    for where, message in problems:
        rel = where.removeprefix("model").lstrip(".")
        key = ""
        best = ""
        for json_path, row in reader.where.items():
            inside = rel == json_path or rel.startswith((json_path + ".", json_path + "["))
            if inside and len(json_path) > len(best):
                best, key = json_path, row
        if not key and rel.startswith("price"):
            key = "price"
        rest = rel[len(best) :].lstrip(".") if best else rel
        said = words(message)
        out.setdefault(key, []).append(f"{rest}: {said}" if rest else said)
    return out


# --- the change form ----------------------------------------------------------------------------


def starter_entry(name: str = "") -> dict[str, Any]:
    """What a new model starts with: a duration, sold in every format."""
    return {
        "name": name,
        "label": {"en": "", "zh": ""},
        "params": [
            {
                "name": "duration",
                "type": "int",
                "label": {"en": "Duration", "zh": "时长"},
                "values": [5],
                "default": 5,
            },
        ],  # fmt: skip
        "wire": {fmt: {"model": "{model}"} for fmt in ("unified", "newapi", "openai")},
    }


class CatalogueModelForm(forms.ModelForm):
    """The model's row (name, provider, on / off, position) and its catalogue entry, edited as
    rows of ordinary fields (the entry never as JSON text)."""

    class Meta:
        model = VideoModel
        fields = ["provider", "name", "display_name", "enabled", "position"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cleaned_spec: dict[str, Any] | None = None
        self.placed: dict[str, list[str]] = {}
        if self.instance.pk:
            try:
                self.stored = self.instance.spec or self.instance.catalogue_spec().to_dict()
            except SpecError:
                self.stored = starter_entry(self.instance.name)
        else:
            self.stored = starter_entry()
        self.raw = self.stored

    def editor(self) -> dict[str, Any]:
        return Editor(self.raw, self.placed).context()

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if not self.is_bound:
            return cleaned
        raw, reader = read_post(self.data)
        # The row's name wins; the entry keeps the name it had unless the row was renamed.
        row_name = cleaned.get("name") or ""
        if "name" in self.changed_data or not raw.get("name"):
            raw["name"] = row_name
        if not raw["label"].get("en"):
            raw["label"] = {
                "en": cleaned.get("display_name") or row_name,
                "zh": raw["label"].get("zh") or "",
            }
        self.raw = raw
        try:
            spec = parse_model(raw, "model")
        except SpecError as exc:
            self.placed = place_problems(exc.problems, reader)
            count = sum(len(v) for v in self.placed.values())
            raise forms.ValidationError(
                _("The catalogue entry has %(n)d problem(s); each is shown next to its row.")
                % {"n": count}
            ) from None
        if reader.errors:
            self.placed = place_problems([], reader)
            raise forms.ValidationError(_("Some values could not be read; see the marked rows."))
        self.cleaned_spec = dump_model(spec)
        return cleaned

    def save(self, commit: bool = True):
        row = super().save(commit=False)
        if self.cleaned_spec is not None:
            row.spec = self.cleaned_spec
            row.deadline_minutes = self.cleaned_spec.get("deadline_minutes", 30)
        if commit:
            row.save()
        return row


# --- presets, import, export --------------------------------------------------------------------


def provider_format(provider: Provider) -> str:
    return provider.config().wire_format.value


@dataclass
class PresetOffer:
    spec: ModelSpec
    label: str
    note: str
    attached: bool
    price: str


def _price_words(spec: ModelSpec) -> str:
    if not spec.price or not spec.price.rows:
        return _("no list price: set yours")
    amounts = sorted({r.amount for r in spec.price.rows})
    low, high = amounts[0], amounts[-1]
    unit = _("per second") if spec.price.per == "second" else _("per video")
    span = f"${low}" if low == high else f"${low}–${high}"
    return f"{span} {unit}"


def offers(provider: Provider) -> list[PresetOffer]:
    fmt = provider_format(provider)
    lang = get_language()
    have = set(provider.models.values_list("name", flat=True))
    return [
        PresetOffer(
            spec=spec,
            label=spec.label.get(lang),
            note=spec.note.get(lang) if spec.note else "",
            attached=spec.name in have,
            price=_price_words(spec),
        )
        for spec in load_presets()
        if fmt in spec.wire
    ]


class CatalogueFileForm(forms.Form):
    provider = forms.ModelChoiceField(
        label=gettext_lazy("Provider"), queryset=Provider.objects.order_by("name")
    )
    file = forms.FileField(label=gettext_lazy("Catalogue file (JSON)"), required=False)
    text = forms.CharField(widget=forms.HiddenInput, required=False)


@dataclass
class PreviewRow:
    spec: ModelSpec
    action: str  # add, change, same


class CatalogueAdmin(admin.ModelAdmin):
    """VideoModelAdmin's catalogue pages: the editor, presets, import and export."""

    form = CatalogueModelForm
    change_form_template = "admin/videos/videomodel/change_form.html"
    change_list_template = "admin/videos/videomodel/change_list.html"
    fieldsets = [(None, {"fields": ["provider", "name", "display_name", "enabled", "position"]})]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("add-from-preset/", view(self.presets_view), name="videos_videomodel_presets"),
            path("import/", view(self.import_view), name="videos_videomodel_import"),
            path("export/", view(self.export_view), name="videos_videomodel_export"),
            *super().get_urls(),
        ]

    def _need_change(self, request: HttpRequest) -> None:
        if not (self.has_change_permission(request) and self.has_add_permission(request)):
            raise PermissionDenied

    def _context(self, request: HttpRequest, title: str, **extra) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": VideoModel._meta,
            "catalogue_css": "css/catalogue-admin.css",
            **extra,
        }

    def presets_view(self, request: HttpRequest) -> HttpResponse:
        self._need_change(request)
        providers = list(Provider.objects.order_by("name"))
        pk = request.POST.get("provider") or request.GET.get("provider")
        provider = next((p for p in providers if str(p.pk) == pk), None)
        if provider is None and len(providers) == 1:
            provider = providers[0]
        if request.method == "POST" and provider is not None:
            wanted = set(request.POST.getlist("preset"))
            made = []
            with transaction.atomic():
                taken = set(provider.models.values_list("name", flat=True))
                last = max(provider.models.values_list("position", flat=True), default=0)
                for offer in offers(provider):
                    if offer.spec.id in wanted and offer.spec.name not in taken:
                        last += 1
                        VideoModel.objects.create(
                            provider=provider,
                            name=offer.spec.name,
                            display_name=offer.label,
                            spec=offer.spec.to_dict(),
                            deadline_minutes=offer.spec.deadline_minutes,
                            position=last,
                        )
                        made.append(offer.label)
            if made:
                self.message_user(
                    request,
                    _("Added to %(provider)s: %(models)s.")
                    % {"provider": provider.name, "models": ", ".join(made)},
                    messages.SUCCESS,
                )
            else:
                self.message_user(request, _("Nothing was ticked."), messages.WARNING)
            url = reverse("admin:videos_videomodel_changelist")
            return HttpResponseRedirect(f"{url}?provider__id__exact={provider.pk}")
        context = self._context(
            request,
            _("Add models from presets"),
            providers=providers,
            provider=provider,
            wire_format=provider_format(provider) if provider else "",
            offers=offers(provider) if provider else [],
        )
        return TemplateResponse(request, "admin/videos/videomodel/presets.html", context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        self._need_change(request)
        pk = request.GET.get("provider") or request.GET.get("provider__id__exact")
        provider = Provider.objects.filter(pk=pk).first() if pk and pk.isdigit() else None
        if provider is None:
            context = self._context(
                request,
                _("Export the catalogue"),
                providers=Provider.objects.order_by("name"),
            )
            return TemplateResponse(request, "admin/videos/videomodel/export.html", context)
        rows = VideoModel.objects.filter(provider=provider).order_by("position", "pk")
        text = export_text([row.catalogue_spec() for row in rows])
        response = HttpResponse(text, content_type="application/json; charset=utf-8")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", provider.name).strip("-").lower() or "provider"
        response["Content-Disposition"] = f'attachment; filename="catalogue-{slug}.json"'
        return response

    def import_view(self, request: HttpRequest) -> HttpResponse:
        self._need_change(request)
        initial = Provider.objects.filter(from_environment=True).order_by("pk").first()
        form = CatalogueFileForm(
            request.POST or None,
            request.FILES or None,
            initial={"provider": initial.pk if initial else None},
        )
        # Each {"line", "column", "path", "message"}, or a sentence about the upload itself.
        problems: list[Any] = []
        preview: list[PreviewRow] = []
        text = ""
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data.get("file")
            if upload is not None:
                if upload.size > 2 * MB:
                    problems = [_("The file is larger than 2 MB.")]
                else:
                    try:
                        text = upload.read().decode("utf-8")
                    except UnicodeDecodeError:
                        problems = [_("The file is not UTF-8 text.")]
            else:
                text = form.cleaned_data.get("text") or ""
            if not text and not problems:
                problems = [_("Choose a file.")]
            models: list[ModelSpec] = []
            if text and not problems:
                try:
                    models = load_text(text)
                except CatalogueFileError as exc:
                    problems = [
                        {
                            "line": p.line,
                            "column": p.column,
                            "path": p.path,
                            "message": words(p.message),
                        }
                        for p in exc.problems
                    ]
            provider = form.cleaned_data["provider"]
            if models:
                existing = {row.name: row for row in provider.models.all()}
                for spec in models:
                    row = existing.get(spec.name)
                    action = (
                        "add" if row is None else "same" if row.spec == spec.to_dict() else "change"
                    )
                    preview.append(PreviewRow(spec, action))
                if "confirm" in request.POST and not form.cleaned_data.get("file"):
                    with transaction.atomic():
                        for spec in models:
                            VideoModel.objects.update_or_create(
                                provider=provider,
                                name=spec.name,
                                defaults={"display_name": spec.label.en, "spec": spec.to_dict()},
                            )
                    self.message_user(
                        request,
                        _("Imported %(n)d model(s) into %(provider)s.")
                        % {"n": len(models), "provider": provider.name},
                        messages.SUCCESS,
                    )
                    url = reverse("admin:videos_videomodel_changelist")
                    return HttpResponseRedirect(f"{url}?provider__id__exact={provider.pk}")
        lang = get_language()
        context = self._context(
            request,
            _("Import a catalogue file"),
            form=form,
            problems=problems,
            preview=[
                {"label": p.spec.label.get(lang), "name": p.spec.name, "action": p.action}
                for p in preview
            ],
            text=text if preview else "",
        )
        return TemplateResponse(request, "admin/videos/videomodel/import.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"catalogue_css": "css/catalogue-admin.css", **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def add_view(self, request, form_url="", extra_context=None):
        extra = {"catalogue_css": "css/catalogue-admin.css", **(extra_context or {})}
        return super().add_view(request, form_url, extra_context=extra)
