"""From a resolved parameter set to the exact body one wire format receives.

Each model carries a mapping per format it is sold in (``ModelSpec.wire``). A mapping lists
where each parameter goes and how its value is written; whatever it leaves out is placed by the
format's default mapping below, which follows the documented rules of that format
(``shared/spec/providers.md``):

- unified: every field required (``images`` even when empty), ``orientation`` portrait /
  landscape, ``size`` small / large, ``duration`` an integer;
- openai: ``seconds`` a *string* ("4", "8", "12"), ``size`` one of four WxH sizes, the first
  frame as the ``input_reference`` file part, extras as further form fields;
- newapi: a fixed set (``size`` as WxH, ``duration`` int, ``images`` first / last / references)
  plus ``metadata.*`` for every vendor knob;
- chat: options travel in the model name or a prompt suffix (templates), pictures as
  ``image_url`` parts.

Nothing here knows a model by name: presets and imported files say everything model-specific.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .schema import Choice, FieldMap, FormatMapping, ModelSpec, Param, template_names

# Pixels of the short side for each resolution token.
SHORT_SIDE = {
    "360p": 360,
    "480p": 480,
    "512p": 512,
    "540p": 540,
    "720p": 720,
    "768p": 768,
    "1080p": 1080,
    "1440p": 1440,
    "2k": 1440,
    "4k": 2160,
}
OPENAI_SECONDS = (4, 8, 12)
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
IMAGE_SLOT_ORDER = ("first_frame", "last_frame", "reference_images")


class WireError(ValueError):
    """The picked values cannot be written for this format (a gap in the mapping)."""


@dataclass
class WireRequest:
    """What one create call sends: a JSON body (for openai: the form fields) and file parts."""

    format: str
    body: dict[str, Any]
    files: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))


# --- value writers -------------------------------------------------------------------------------


def ratio_of(value: Any) -> tuple[int, int] | None:
    try:
        w, h = str(value).split(":")
        w_, h_ = int(w), int(h)
    except ValueError:
        return None
    return (w_, h_) if w_ > 0 and h_ > 0 else None


def orientation_of(aspect_ratio: Any) -> str | None:
    ratio = ratio_of(aspect_ratio)
    if ratio is None or ratio[0] == ratio[1]:
        return None
    return "landscape" if ratio[0] > ratio[1] else "portrait"


def frame_size(aspect_ratio: Any, resolution: Any) -> tuple[int, int] | None:
    """Width and height for an aspect ratio at a resolution (its short side), even numbers."""
    ratio = ratio_of(aspect_ratio)
    short = SHORT_SIDE.get(str(resolution).lower())
    if ratio is None or short is None:
        return None
    w, h = ratio
    if w >= h:
        return _even(short * w / h), short
    return short, _even(short * h / w)


def _even(x: float) -> int:
    return int(round(x / 2)) * 2


def _key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_value(fm: FieldMap, values: list[Any]) -> Any:
    """One field's value as sent; None means "leave the field out"."""
    if fm.values:
        key = "|".join(_key(v) for v in values)
        if key not in fm.values:
            raise WireError(f"{'+'.join(fm.params)} = {key} has no value for the field {fm.to}")
        return fm.values[key]
    value = values[0]
    match fm.write:
        case "same":
            return value
        case "string":
            return _key(value)
        case "int":
            return int(value)
        case "upper":
            return str(value).upper()
        case "lower":
            return str(value).lower()
        case "onoff":
            return "on" if value else "off"
        case "orientation":
            return orientation_of(value)
        case "wxh" | "w*h":
            size = frame_size(*values[:2]) if len(values) >= 2 else None
            if size is None:
                return None
            return f"{size[0]}{'x' if fm.write == 'wxh' else '*'}{size[1]}"
    raise WireError(f"unknown writer {fm.write}")


# --- default mappings ----------------------------------------------------------------------------


def _has(spec: ModelSpec, name: str) -> bool:
    return spec.param(name) is not None


def _image_slots(spec: ModelSpec) -> list[Param]:
    slots = [p for p in spec.slots() if p.kind == "image"]
    order = {name: i for i, name in enumerate(IMAGE_SLOT_ORDER)}
    return sorted(slots, key=lambda p: order.get(p.name, len(order)))


def default_fields(spec: ModelSpec, fmt: str) -> list[FieldMap]:
    """The documented placement of every parameter of ``spec`` in ``fmt``."""
    out: list[FieldMap] = []
    done: set[str] = set()

    def put(*params: str, **kw: Any) -> None:
        out.append(FieldMap(params=params, **kw))
        done.update(params)

    has_ratio, has_res = _has(spec, "aspect_ratio"), _has(spec, "resolution")
    images = _image_slots(spec)
    if fmt == "unified":
        if _has(spec, "duration"):
            put("duration", to="duration", write="int")
        if has_ratio:
            put("aspect_ratio", to="orientation", write="orientation")
            put("aspect_ratio", to="aspect_ratio")
        resolution = spec.param("resolution")
        if resolution is not None:
            put(
                "resolution",
                to="size",
                values={
                    c.value: ("small" if SHORT_SIDE.get(c.value.lower(), 0) <= 720 else "large")
                    for c in resolution.choices
                },
            )
            put("resolution", to="resolution")
        for slot in images:
            put(slot.name, to="images[]")
    elif fmt == "newapi":
        if _has(spec, "duration"):
            put("duration", to="duration", write="int")
        if has_ratio and has_res:
            out.append(FieldMap(params=("aspect_ratio", "resolution"), to="size", write="wxh"))
        if has_ratio:
            put("aspect_ratio", to="metadata.ratio")
        if has_res:
            put("resolution", to="metadata.resolution")
        for slot in images:
            put(slot.name, to="images[]")
        if images and images[0].name == "first_frame":
            out.append(FieldMap(params=("first_frame",), to="image"))
    elif fmt == "openai":
        if _has(spec, "duration"):
            put("duration", to="seconds", write="string")
        if has_ratio and has_res:
            put("aspect_ratio", "resolution", to="size", write="wxh")
        if images:
            put(images[0].name, to="input_reference", file=True)
    elif fmt == "chat":
        for slot in images:
            put(slot.name, to="content[]")
    # Whatever else the model has travels the way the format carries extras.
    for param in spec.params:
        if param.name in done:
            continue
        if param.is_slot:
            role = f"reference_{param.kind}"
            if fmt == "newapi":
                put(param.name, to="metadata.content[]", role=role)
            elif fmt in ("unified", "openai"):
                put(param.name, to=f"{param.name}[]", file=fmt == "openai")
        elif fmt == "newapi":
            put(param.name, to=f"metadata.{param.name}")
        elif fmt in ("unified", "openai"):
            put(param.name, to=param.name)
        # chat: only what the model-name template or the prompt suffix names reaches the relay
    return out


def fields_for(spec: ModelSpec, fmt: str) -> list[FieldMap]:
    mapping = spec.wire[fmt]
    explicit = list(mapping.fields)
    if not mapping.defaults:
        return explicit
    covered = {name for fm in explicit for name in fm.params}
    used = set(template_names(mapping.model)) | set(template_names(mapping.prompt_suffix))
    defaults = [
        fm
        for fm in default_fields(spec, fmt)
        if not (set(fm.params) & covered)
        # a chat template already carries it; other formats still send it as a field
        and not (fmt == "chat" and set(fm.params) & used)
    ]
    return explicit + defaults


def format_sizes(spec: ModelSpec, fmt: str) -> tuple[str, ...] | None:
    mapping = spec.wire[fmt]
    if mapping.sizes is not None:
        return mapping.sizes
    return OPENAI_SIZES if fmt == "openai" else None


def carried(spec: ModelSpec, fmt: str) -> set[str]:
    """Parameters that reach the relay in ``fmt`` (by a field or a template)."""
    mapping = spec.wire[fmt]
    names = {name for fm in fields_for(spec, fmt) for name in fm.params}
    names |= set(template_names(mapping.model)) | set(template_names(mapping.prompt_suffix))
    if "orientation" in names:
        names.add("aspect_ratio")
    return names


# --- one model as sold in one format ---------------------------------------------------------------


def for_format(spec: ModelSpec, fmt: str) -> ModelSpec:
    """``spec`` as this format sells it: values the format refuses are gone (openai: 4/8/12
    seconds, its sizes), parameters that reach the relay in no way are dropped, and defaults
    moved onto allowed values. Forms and services use this, so what is offered can be sent."""
    if fmt not in spec.wire:
        raise WireError(f"{spec.label.en} is not sold in the {fmt} format")
    mapping = spec.wire[fmt]
    allow = dict(mapping.allow)
    explicit_seconds = any(
        fm.to == "seconds" and fm.write == "string" or fm.to == "seconds" and fm.values
        for fm in mapping.fields
    )
    if fmt == "openai" and "duration" not in allow and not explicit_seconds:
        allow["duration"] = OPENAI_SECONDS
    keep = carried(spec, fmt)
    params = []
    sizes = format_sizes(spec, fmt)
    for param in spec.params:
        if param.name not in keep:
            continue
        wanted = allow.get(param.name)
        if wanted is None and sizes and param.name in ("aspect_ratio", "resolution"):
            wanted = _sizable(spec, fmt, param, sizes)
        params.append(_restrict(param, wanted) if wanted is not None else param)
    names = {p.name for p in params}
    rules = tuple(r for r in spec.rules if r.params <= names)
    return dataclasses.replace(spec, params=tuple(params), rules=rules)


def _sizable(spec: ModelSpec, fmt: str, param: Param, sizes: tuple[str, ...]) -> tuple | None:
    """The aspect ratios (or resolutions) that make at least one size the format accepts."""
    size_maps = [fm for fm in fields_for(spec, fmt) if fm.to == "size"]
    other = "resolution" if param.name == "aspect_ratio" else "aspect_ratio"
    other_param = spec.param(other)
    if not size_maps or other_param is None:
        return None
    fm = size_maps[0]
    ok = []
    for value in param.allowed() or ():
        for other_value in other_param.allowed() or ():
            pair = {param.name: value, other: other_value}
            try:
                written = write_value(fm, [pair[n] for n in fm.params])
            except WireError:
                continue
            if written in sizes:
                ok.append(value)
                break
    return tuple(ok)


def _restrict(param: Param, wanted: tuple[Any, ...]) -> Param:
    if param.type == "choice":
        choices: tuple[Choice, ...] = tuple(c for c in param.choices if c.value in wanted)
        if not choices:
            return param
        default = param.default
        if param.has_default and default not in {c.value for c in choices}:
            default = choices[0].value
        return dataclasses.replace(param, choices=choices, default=default)
    if param.type == "int":
        values = tuple(v for v in (param.allowed() or wanted) if v in wanted)
        if not values:
            return param
        default = param.default
        if param.has_default and default not in values:
            default = min(values, key=lambda v: abs(v - default))
        return dataclasses.replace(param, values=values, min=None, max=None, default=default)
    return param


# --- building the body -----------------------------------------------------------------------------


def _template_vars(spec: ModelSpec, values: dict[str, Any]) -> dict[str, str]:
    out = {name: _key(value) for name, value in values.items()}
    out["model"] = spec.name
    if "orientation" not in out and "aspect_ratio" in values:
        out["orientation"] = orientation_of(values["aspect_ratio"]) or "square"
    return out


def _fill(template: str, variables: dict[str, str]) -> str:
    for name in template_names(template):
        if name not in variables:
            raise WireError(f"the template {template!r} needs {name}, which is not set")
    return template.format_map(variables)


def _place(body: dict[str, Any], target: str, value: Any) -> None:
    *parents, last = target.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    if last.endswith("[]"):
        node.setdefault(last[:-2], []).append(value)
    else:
        node[last] = value


def build(
    spec: ModelSpec,
    fmt: str,
    values: dict[str, Any],
    *,
    prompt: str,
    inputs: dict[str, list[Any]] | None = None,
    url_of: Callable[[Any], str] = str,
) -> WireRequest:
    """The create body for ``fmt`` from resolved ``values`` (see ``rules.resolve``).

    ``inputs`` holds each slot's files (any objects); ``url_of`` turns one into the URL a JSON
    body carries (the app passes a data-URL writer). For multipart formats a slot mapped with
    ``file`` comes back in ``files`` as (field name, the object) for the client to attach.
    """
    inputs = inputs or {}
    mapping: FormatMapping = spec.wire[fmt]
    variables = _template_vars(spec, values)
    text = prompt + _fill(mapping.prompt_suffix, variables)
    body: dict[str, Any] = {"model": _fill(mapping.model, variables), "prompt": text}
    files: list[tuple[str, Any]] = []
    chat_parts: list[dict[str, Any]] = []
    if fmt == "unified":
        body["images"] = []  # required even for text-to-video
    for fm in fields_for(spec, fmt):
        param = spec.param(fm.params[0])
        if param is not None and param.is_slot:
            for item in inputs.get(param.name, [])[: param.max_count]:
                if fm.file:
                    files.append((fm.to.removesuffix("[]"), item))
                    continue
                url = url_of(item)
                if fmt == "chat":
                    chat_parts.append({"type": "image_url", "image_url": {"url": url}})
                elif fm.role:
                    key = f"{param.kind}_url"
                    _place(body, fm.to, {"type": key, key: {"url": url}, "role": fm.role})
                else:
                    _place(body, fm.to, url)
            continue
        if not all(name in values for name in fm.params):
            continue  # not sent when unset
        written = write_value(fm, [values[name] for name in fm.params])
        if written is not None:
            _place(body, fm.to, written)
    for name, value in mapping.static.items():
        _place(body, name, value)
    sizes = format_sizes(spec, fmt)
    if sizes and "size" in body and body["size"] not in sizes:
        raise WireError(
            f"the size {body['size']} is not one this format offers ({', '.join(sizes)})"
        )
    if fmt == "chat":
        content: Any = text
        if chat_parts:
            content = [{"type": "text", "text": text}, *chat_parts]
        del body["prompt"]
        body["messages"] = [{"role": "user", "content": content}]
    return WireRequest(format=fmt, body=body, files=files)
