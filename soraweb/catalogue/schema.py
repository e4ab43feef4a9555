"""What a video model accepts, as typed data: parameters, rules, price and wire mapping.

Plain Python (no Django): the app, the admin, the importer and the simulator's tests all read
the same structures, and a catalogue file is just these structures as JSON. ``parse_model``
turns a JSON-shaped dict into a ``ModelSpec`` and reports every problem with its JSON path
(``models[2].params[0].choices``), so the importer can point at the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

PARAM_TYPES = ("choice", "int", "bool", "text", "slot")
SLOT_KINDS = ("image", "video", "audio")
FORMATS = ("unified", "chat", "openai", "newapi")
WRITERS = (
    "same",  # the value as it is
    "string",  # 8 -> "8"
    "int",  # "8" -> 8
    "upper",  # 720p -> 720P
    "lower",
    "orientation",  # an aspect ratio -> portrait / landscape
    "wxh",  # aspect ratio + resolution -> 1280x720
    "w*h",  # aspect ratio + resolution -> 1280*720
    "onoff",  # True -> "on"
    "map",  # through ``values`` (a composite key is "a|b")
)
RESERVED = frozenset({"prompt", "model"})
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_TARGET = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(\[\])?\Z")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
LANGS = ("en", "zh")

# Set-ness conditions a rule can test (for slots and for "not sent when unset" parameters).
SET, UNSET = "set", "unset"


class SpecError(ValueError):
    """One or more problems in a catalogue document, each ``(path, message)``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


# --- value types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """A sentence in both languages the UI speaks (English and Simplified Chinese)."""

    en: str
    zh: str = ""

    def get(self, lang: str | None = None) -> str:
        if lang and lang.lower().startswith("zh") and self.zh:
            return self.zh
        return self.en

    def to_dict(self) -> dict[str, str]:
        return {"en": self.en, "zh": self.zh or self.en}


@dataclass(frozen=True)
class Choice:
    value: str
    label: Label


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    label: Label
    # ``has_default`` False means "not sent when unset".
    has_default: bool = False
    default: Any = None
    choices: tuple[Choice, ...] = ()
    values: tuple[int, ...] = ()  # int as a list
    min: int | None = None  # int as a range
    max: int | None = None
    step: int = 1
    max_length: int | None = None  # text
    kind: str = "image"  # slot: what it takes
    max_count: int = 1  # slot: how many
    max_bytes: int | None = None  # slot: per file
    content_types: tuple[str, ...] = ()  # slot: accepted types, empty = any of its kind
    help: Label | None = None

    @property
    def is_slot(self) -> bool:
        return self.type == "slot"

    def allowed(self) -> tuple[Any, ...] | None:
        """Every value this parameter can take, where that is a finite list."""
        if self.type == "choice":
            return tuple(c.value for c in self.choices)
        if self.type == "int" and self.values:
            return self.values
        # A long range (a seed) is typed, not picked from a list.
        if (
            self.type == "int"
            and self.min is not None
            and self.max is not None
            and (self.max - self.min) // max(self.step, 1) <= 200
        ):
            return tuple(range(self.min, self.max + 1, max(self.step, 1)))
        if self.type == "bool":
            return (True, False)
        return None

    def choice_label(self, value: Any, lang: str | None = None) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label.get(lang)
        return str(value)


@dataclass(frozen=True)
class Condition:
    """``param`` is one of ``values``, or is set / unset."""

    param: str
    values: tuple[Any, ...] = ()
    presence: str = ""  # SET, UNSET or "" (then ``values`` counts)


@dataclass(frozen=True)
class Rule:
    """When every ``when`` condition holds, every ``then`` condition must hold too."""

    when: tuple[Condition, ...]
    then: tuple[Condition, ...]
    message: Label

    @property
    def params(self) -> frozenset[str]:
        return frozenset(c.param for c in self.when + self.then)


@dataclass(frozen=True)
class PriceRow:
    when: tuple[Condition, ...]
    amount: Decimal


@dataclass(frozen=True)
class Price:
    """First matching row wins; ``per`` is "second" (times the duration) or "video"."""

    per: str
    rows: tuple[PriceRow, ...]
    currency: str = "USD"
    seconds_param: str = "duration"


@dataclass(frozen=True)
class FieldMap:
    """Where one parameter (or a pair, for ``wxh``) goes in one wire format, and how."""

    params: tuple[str, ...]
    to: str  # "seconds", "metadata.style", "images[]", "content[]", "input_reference"
    write: str = "same"
    values: dict[str, Any] = field(default_factory=dict)
    role: str = ""  # a content[] item's role: first_frame, last_frame, reference_image
    file: bool = False  # multipart: send as a file part (slots only)


@dataclass(frozen=True)
class FormatMapping:
    model: str = "{model}"  # the model name sent; a template may name parameters
    prompt_suffix: str = ""  # appended to the prompt; a template too
    fields: tuple[FieldMap, ...] = ()
    static: dict[str, Any] = field(default_factory=dict)  # constant fields, e.g. watermark
    # This format only takes these values of a parameter (openai: seconds 4/8/12).
    allow: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # The format's default mapping fills in parameters ``fields`` does not mention.
    defaults: bool = True
    # ``size`` values this relay accepts (None: the format's documented list, if it has one).
    sizes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str  # the model name relays know it by (the default ``{model}``)
    label: Label
    params: tuple[Param, ...]
    rules: tuple[Rule, ...] = ()
    price: Price | None = None
    wire: dict[str, FormatMapping] = field(default_factory=dict)
    family: str = ""
    note: Label | None = None
    deadline_minutes: int = 30

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(f for f in FORMATS if f in self.wire)

    def slots(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.is_slot)

    def settings(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.is_slot)

    def to_dict(self) -> dict[str, Any]:
        return dump_model(self)


# --- parsing -------------------------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return {}
        return value

    def keys(self, data: dict, path: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                self.add(f"{path}.{key}", f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def text(self, data: dict, key: str, path: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.add(f"{path}.{key}", "is required")
            return ""
        if not isinstance(value, str):
            self.add(f"{path}.{key}", "must be a string")
            return ""
        return value

    def integer(self, value: Any, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, "must be an integer")
            return None
        return value

    def label(self, value: Any, path: str, *, required: bool = True) -> Label | None:
        if value is None and not required:
            return None
        if isinstance(value, str):
            return Label(value, value)
        data = self.obj(value, path)
        self.keys(data, path, set(LANGS))
        en = data.get("en")
        if not isinstance(en, str) or not en.strip():
            self.add(f"{path}.en", "an English text is required")
            en = ""
        zh = data.get("zh", "")
        if not isinstance(zh, str):
            self.add(f"{path}.zh", "must be a string")
            zh = ""
        return Label(en, zh or en)


def _parse_choice(c: _Checker, raw: Any, path: str) -> Choice | None:
    if isinstance(raw, str):
        return Choice(raw, Label(raw, raw))
    data = c.obj(raw, path)
    c.keys(data, path, {"value", "label"})
    value = data.get("value")
    if not isinstance(value, str) or not value:
        c.add(f"{path}.value", "must be a non-empty string")
        return None
    return Choice(value, c.label(data.get("label", value), f"{path}.label") or Label(value))


_PARAM_KEYS = {
    "name",
    "type",
    "label",
    "help",
    "default",
    "choices",
    "values",
    "min",
    "max",
    "step",
    "max_length",
    "kind",
    "max_count",
    "max_bytes",
    "content_types",
}


def _parse_param(c: _Checker, raw: Any, path: str) -> Param | None:
    data = c.obj(raw, path)
    c.keys(data, path, _PARAM_KEYS)
    name = c.text(data, "name", path)
    if name and (not _NAME.match(name) or name in RESERVED):
        c.add(f"{path}.name", "use lower-case letters, digits and _ (not prompt or model)")
    kind = c.text(data, "type", path)
    if kind and kind not in PARAM_TYPES:
        c.add(f"{path}.type", f"must be one of {', '.join(PARAM_TYPES)}")
        return None
    label = c.label(data.get("label", name), f"{path}.label") or Label(name)
    kw: dict[str, Any] = {"name": name, "type": kind, "label": label}
    kw["help"] = c.label(data.get("help"), f"{path}.help", required=False)
    if kind == "choice":
        raw_choices = data.get("choices")
        if not isinstance(raw_choices, list) or not raw_choices:
            c.add(f"{path}.choices", "a choice parameter needs a non-empty list of choices")
            raw_choices = []
        choices = [_parse_choice(c, x, f"{path}.choices[{i}]") for i, x in enumerate(raw_choices)]
        kw["choices"] = tuple(x for x in choices if x)
        seen = [x.value for x in kw["choices"]]
        if len(seen) != len(set(seen)):
            c.add(f"{path}.choices", "each value may appear once")
    elif kind == "int":
        if "values" in data:
            values = data["values"]
            if not isinstance(values, list) or not values:
                c.add(f"{path}.values", "must be a non-empty list of integers")
                values = []
            ints = [c.integer(v, f"{path}.values[{i}]") for i, v in enumerate(values)]
            kw["values"] = tuple(sorted({v for v in ints if v is not None}))
        elif "min" in data and "max" in data:
            kw["min"] = c.integer(data["min"], f"{path}.min")
            kw["max"] = c.integer(data["max"], f"{path}.max")
            step = c.integer(data.get("step", 1), f"{path}.step")
            if step is not None and step < 1:
                c.add(f"{path}.step", "must be at least 1")
            kw["step"] = step or 1
            if kw["min"] is not None and kw["max"] is not None and kw["min"] > kw["max"]:
                c.add(f"{path}.max", "must not be below min")
        else:
            c.add(path, "an int parameter needs values, or min and max")
    elif kind == "text":
        if "max_length" in data:
            kw["max_length"] = c.integer(data["max_length"], f"{path}.max_length")
    elif kind == "slot":
        slot_kind = data.get("kind", "image")
        if slot_kind not in SLOT_KINDS:
            c.add(f"{path}.kind", f"must be one of {', '.join(SLOT_KINDS)}")
        kw["kind"] = slot_kind
        count = c.integer(data.get("max_count", 1), f"{path}.max_count")
        if count is not None and count < 1:
            c.add(f"{path}.max_count", "must be at least 1")
        kw["max_count"] = count or 1
        if "max_bytes" in data:
            kw["max_bytes"] = c.integer(data["max_bytes"], f"{path}.max_bytes")
        types = data.get("content_types", [])
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            c.add(f"{path}.content_types", "must be a list of strings")
            types = []
        kw["content_types"] = tuple(types)
    if "default" in data and data["default"] is not None:
        if kind == "slot":
            c.add(f"{path}.default", "an input slot has no default")
        else:
            kw["has_default"] = True
            kw["default"] = data["default"]
    param = Param(**kw)
    if param.has_default:
        problem = check_value(param, param.default)
        if problem:
            c.add(f"{path}.default", problem)
    return param


def check_value(param: Param, value: Any) -> str:
    """Why ``value`` does not fit ``param`` (English, for files and logs), or ""."""
    if param.type == "choice":
        allowed = param.allowed() or ()  # a choice always has its tuple
        if value not in allowed:
            return f"must be one of {', '.join(allowed)}"
    elif param.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if param.values and value not in param.values:
            return f"must be one of {', '.join(map(str, param.values))}"
        if param.min is not None and not (param.min <= value <= (param.max or value)):
            return f"must be between {param.min} and {param.max}"
        if param.min is not None and (value - param.min) % param.step:
            return f"must be {param.min} plus a multiple of {param.step}"
    elif param.type == "bool":
        if not isinstance(value, bool):
            return "must be true or false"
    elif param.type == "text":
        if not isinstance(value, str):
            return "must be a string"
        if param.max_length is not None and len(value) > param.max_length:
            return f"must be at most {param.max_length} characters"
    return ""


def _parse_conditions(
    c: _Checker, raw: Any, path: str, params: dict[str, Param]
) -> tuple[Condition, ...]:
    data = c.obj(raw, path)
    if not data:
        c.add(path, "needs at least one parameter")
    out = []
    for name, spec in data.items():
        where = f"{path}.{name}"
        param = params.get(name)
        if param is None:
            c.add(where, "names no parameter of this model")
            continue
        if spec in (SET, UNSET):
            out.append(Condition(name, presence=spec))
            continue
        values = spec if isinstance(spec, list) else [spec]
        for i, value in enumerate(values):
            problem = check_value(param, value)
            if problem:
                c.add(f"{where}[{i}]" if isinstance(spec, list) else where, problem)
        out.append(Condition(name, values=tuple(values)))
    return tuple(out)


def _parse_rule(c: _Checker, raw: Any, path: str, params: dict[str, Param]) -> Rule | None:
    data = c.obj(raw, path)
    c.keys(data, path, {"when", "then", "message"})
    when = _parse_conditions(c, data.get("when"), f"{path}.when", params)
    then = _parse_conditions(c, data.get("then"), f"{path}.then", params)
    message = c.label(data.get("message"), f"{path}.message")
    return Rule(when, then, message) if message else None


def _amount(c: _Checker, value: Any, path: str) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidOperation
        amount = Decimal(str(value))
    except InvalidOperation:
        c.add(path, 'must be a number written as a string, e.g. "0.10"')
        return Decimal("0")
    if not amount.is_finite() or amount < 0:
        c.add(path, "must be zero or more")
        return Decimal("0")
    return amount


def _parse_price(c: _Checker, raw: Any, path: str, params: dict[str, Param]) -> Price | None:
    if raw is None:
        return None
    data = c.obj(raw, path)
    c.keys(data, path, {"per", "currency", "rows", "seconds_param"})
    per = data.get("per", "second")
    if per not in ("second", "video"):
        c.add(f"{path}.per", 'must be "second" or "video"')
    seconds_param = data.get("seconds_param", "duration")
    if per == "second" and seconds_param not in params:
        c.add(f"{path}.seconds_param", f'names no parameter ("{seconds_param}")')
    rows_raw = data.get("rows")
    if not isinstance(rows_raw, list) or not rows_raw:
        c.add(f"{path}.rows", "needs at least one row")
        rows_raw = []
    rows = []
    for i, row in enumerate(rows_raw):
        where = f"{path}.rows[{i}]"
        row = c.obj(row, where)
        c.keys(row, where, {"when", "amount"})
        when = _parse_conditions(c, row["when"], f"{where}.when", params) if "when" in row else ()
        if "amount" not in row:
            c.add(f"{where}.amount", "is required")
        rows.append(PriceRow(when, _amount(c, row.get("amount", "0"), f"{where}.amount")))
    return Price(
        per=per,
        rows=tuple(rows),
        currency=str(data.get("currency", "USD")),
        seconds_param=seconds_param,
    )


def _parse_field(c: _Checker, raw: Any, path: str, params: dict[str, Param]) -> FieldMap | None:
    data = c.obj(raw, path)
    c.keys(data, path, {"param", "to", "write", "values", "role", "file"})
    names = data.get("param")
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        c.add(f"{path}.param", "must name a parameter (or a list of them)")
        return None
    for name in names:
        if name not in params:
            c.add(f"{path}.param", f'"{name}" is no parameter of this model')
    to = c.text(data, "to", path)
    if to and not _TARGET.match(to):
        c.add(f"{path}.to", 'write a field name, a dotted path ("metadata.style") or "name[]"')
    write = data.get("write", "map" if "values" in data else "same")
    if write not in WRITERS:
        c.add(f"{path}.write", f"must be one of {', '.join(WRITERS)}")
    values = data.get("values", {})
    if not isinstance(values, dict):
        c.add(f"{path}.values", "must be an object (value -> what is sent)")
        values = {}
    if write == "map" and not values:
        c.add(f"{path}.values", 'write "map" needs a values table')
    is_file = bool(data.get("file", False))
    if is_file and not all(params.get(n) and params[n].is_slot for n in names):
        c.add(f"{path}.file", "only an input slot can be sent as a file")
    return FieldMap(
        params=tuple(names),
        to=to,
        write=write,
        values=dict(values),
        role=str(data.get("role", "")),
        file=is_file,
    )


def template_names(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def _parse_mapping(
    c: _Checker, raw: Any, path: str, params: dict[str, Param]
) -> FormatMapping | None:
    data = c.obj(raw, path)
    c.keys(data, path, {"model", "prompt_suffix", "fields", "static", "allow", "defaults", "sizes"})
    known = set(params) | {"model", "orientation"}
    for key in ("model", "prompt_suffix"):
        template = data.get(key, "{model}" if key == "model" else "")
        if not isinstance(template, str):
            c.add(f"{path}.{key}", "must be a string")
            continue
        for name in template_names(template):
            if name not in known:
                c.add(f"{path}.{key}", f'"{{{name}}}" names no parameter')
    fields_raw = data.get("fields", [])
    if not isinstance(fields_raw, list):
        c.add(f"{path}.fields", "must be a list")
        fields_raw = []
    fields = [_parse_field(c, f, f"{path}.fields[{i}]", params) for i, f in enumerate(fields_raw)]
    allow: dict[str, tuple[Any, ...]] = {}
    for name, values in c.obj(data.get("allow", {}), f"{path}.allow").items():
        param = params.get(name)
        if param is None:
            c.add(f"{path}.allow.{name}", "names no parameter of this model")
            continue
        if not isinstance(values, list) or not values:
            c.add(f"{path}.allow.{name}", "must be a non-empty list")
            continue
        for i, value in enumerate(values):
            problem = check_value(param, value)
            if problem:
                c.add(f"{path}.allow.{name}[{i}]", problem)
        allow[name] = tuple(values)
    sizes = data.get("sizes")
    if sizes is not None and (
        not isinstance(sizes, list) or not all(isinstance(s, str) for s in sizes)
    ):
        c.add(f"{path}.sizes", "must be a list of strings")
        sizes = None
    static = c.obj(data.get("static", {}), f"{path}.static")
    return FormatMapping(
        model=data.get("model", "{model}") if isinstance(data.get("model", ""), str) else "",
        prompt_suffix=data.get("prompt_suffix", "")
        if isinstance(data.get("prompt_suffix", ""), str)
        else "",
        fields=tuple(f for f in fields if f),
        static=dict(static),
        allow=allow,
        defaults=bool(data.get("defaults", True)),
        sizes=tuple(sizes) if sizes is not None else None,
    )


_MODEL_KEYS = {
    "id",
    "name",
    "label",
    "family",
    "note",
    "params",
    "rules",
    "price",
    "wire",
    "deadline_minutes",
}


def parse_model(raw: Any, path: str = "model") -> ModelSpec:
    """A ``ModelSpec`` from JSON-shaped data, or a SpecError listing every problem."""
    c = _Checker()
    spec = _parse_model(c, raw, path)
    if c.problems:
        raise SpecError(c.problems)
    return spec


def _parse_model(c: _Checker, raw: Any, path: str) -> ModelSpec:
    data = c.obj(raw, path)
    c.keys(data, path, _MODEL_KEYS)
    name = c.text(data, "name", path)
    model_id = data.get("id", name)
    if not isinstance(model_id, str) or not model_id:
        c.add(f"{path}.id", "must be a non-empty string")
        model_id = name
    label = c.label(data.get("label", name), f"{path}.label") or Label(name)
    raw_params = data.get("params", [])
    if not isinstance(raw_params, list):
        c.add(f"{path}.params", "must be a list")
        raw_params = []
    params = [_parse_param(c, p, f"{path}.params[{i}]") for i, p in enumerate(raw_params)]
    by_name: dict[str, Param] = {}
    for i, param in enumerate(params):
        if param is None:
            continue
        if param.name in by_name:
            c.add(f"{path}.params[{i}].name", f'"{param.name}" is declared twice')
        by_name[param.name] = param
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        c.add(f"{path}.rules", "must be a list")
        raw_rules = []
    rules = [_parse_rule(c, r, f"{path}.rules[{i}]", by_name) for i, r in enumerate(raw_rules)]
    price = _parse_price(c, data.get("price"), f"{path}.price", by_name)
    wire: dict[str, FormatMapping] = {}
    for fmt, mapping in c.obj(data.get("wire", {}), f"{path}.wire").items():
        if fmt not in FORMATS:
            c.add(f"{path}.wire.{fmt}", f"unknown wire format; use {', '.join(FORMATS)}")
            continue
        parsed = _parse_mapping(c, mapping, f"{path}.wire.{fmt}", by_name)
        if parsed:
            wire[fmt] = parsed
    if not wire:
        c.add(f"{path}.wire", "say at least one wire format the model is sold in")
    deadline = data.get("deadline_minutes", 30)
    if isinstance(deadline, bool) or not isinstance(deadline, int) or deadline < 1:
        c.add(f"{path}.deadline_minutes", "must be a whole number of minutes, at least 1")
        deadline = 30
    return ModelSpec(
        id=model_id,
        name=name,
        label=label,
        params=tuple(by_name.values()),
        rules=tuple(r for r in rules if r),
        price=price,
        wire=wire,
        family=str(data.get("family", "")),
        note=c.label(data.get("note"), f"{path}.note", required=False),
        deadline_minutes=deadline,
    )


# --- writing back ----------------------------------------------------------------------------------


def _dump_conditions(conditions: tuple[Condition, ...]) -> dict[str, Any]:
    return {c.param: (c.presence or list(c.values)) for c in conditions}


def _dump_param(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "type": p.type, "label": p.label.to_dict()}
    if p.help:
        out["help"] = p.help.to_dict()
    if p.type == "choice":
        out["choices"] = [{"value": c.value, "label": c.label.to_dict()} for c in p.choices]
    elif p.type == "int":
        if p.values:
            out["values"] = list(p.values)
        else:
            out.update({"min": p.min, "max": p.max, "step": p.step})
    elif p.type == "text" and p.max_length is not None:
        out["max_length"] = p.max_length
    elif p.type == "slot":
        out.update({"kind": p.kind, "max_count": p.max_count})
        if p.max_bytes is not None:
            out["max_bytes"] = p.max_bytes
        if p.content_types:
            out["content_types"] = list(p.content_types)
    if p.has_default:
        out["default"] = p.default
    return out


def _dump_mapping(m: FormatMapping) -> dict[str, Any]:
    out: dict[str, Any] = {"model": m.model}
    if m.prompt_suffix:
        out["prompt_suffix"] = m.prompt_suffix
    if m.fields:
        out["fields"] = []
        for f in m.fields:
            item: dict[str, Any] = {
                "param": f.params[0] if len(f.params) == 1 else list(f.params),
                "to": f.to,
            }
            if f.write != "same":
                item["write"] = f.write
            if f.values:
                item["values"] = dict(f.values)
            if f.role:
                item["role"] = f.role
            if f.file:
                item["file"] = True
            out["fields"].append(item)
    if m.static:
        out["static"] = dict(m.static)
    if m.allow:
        out["allow"] = {k: list(v) for k, v in m.allow.items()}
    if not m.defaults:
        out["defaults"] = False
    if m.sizes is not None:
        out["sizes"] = list(m.sizes)
    return out


def dump_model(spec: ModelSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"id": spec.id, "name": spec.name, "label": spec.label.to_dict()}
    if spec.family:
        out["family"] = spec.family
    if spec.note:
        out["note"] = spec.note.to_dict()
    out["params"] = [_dump_param(p) for p in spec.params]
    if spec.rules:
        out["rules"] = [
            {
                "when": _dump_conditions(r.when),
                "then": _dump_conditions(r.then),
                "message": r.message.to_dict(),
            }
            for r in spec.rules
        ]
    if spec.price:
        price: dict[str, Any] = {"per": spec.price.per, "currency": spec.price.currency}
        if spec.price.seconds_param != "duration":
            price["seconds_param"] = spec.price.seconds_param
        price["rows"] = [
            ({"when": _dump_conditions(r.when)} if r.when else {}) | {"amount": str(r.amount)}
            for r in spec.price.rows
        ]
        out["price"] = price
    out["wire"] = {fmt: _dump_mapping(spec.wire[fmt]) for fmt in spec.formats}
    if spec.deadline_minutes != 30:
        out["deadline_minutes"] = spec.deadline_minutes
    return out
