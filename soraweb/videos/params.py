"""The app's side of the catalogue: one settings check for every caller, in the reader's words.

``check_settings`` is what services (and through them the form, batches, remixes, retries and
"use these settings") use: it asks the catalogue for the model as its provider's wire format
sells it, resolves what was picked, applies the rules, prices it and makes sure the mapping can
write it, so a forbidden combination is refused here, before any request leaves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from soraweb.catalogue import pricing, rules, wire
from soraweb.catalogue.legacy import RESOLUTION_SIZE, params_from_legacy
from soraweb.catalogue.rules import Problem
from soraweb.catalogue.schema import ModelSpec, Param

# Which slot an uploaded picture fills, in upload order, when the form has one picture field.
SLOT_ORDER = ("first_frame", "last_frame", "reference_images")
_DATA_URL = re.compile(r"^data:([^;,]*)(;base64)?,(.*)$", re.DOTALL)


@dataclass
class CheckedSettings:
    spec: ModelSpec  # the model as this provider's format sells it
    values: dict[str, Any]  # resolved: defaults in, unset optionals out, slots as counts
    slots: dict[str, list[Any]] = field(default_factory=dict)  # slot -> the pictures in it
    cost: Decimal = Decimal("0.00")

    def stored(self) -> dict[str, Any]:
        """What the job keeps: every setting, and each slot's picture ids."""
        out = {k: v for k, v in self.values.items() if not _is_slot(self.spec, k)}
        for slot, items in self.slots.items():
            if items:
                out[slot] = [getattr(item, "pk", item) for item in items]
        return out

    def summary(self) -> dict[str, Any]:
        """orientation / size / duration for the job's list columns and filters."""
        ratio = self.values.get("aspect_ratio")
        resolution = self.values.get("resolution", "")
        return {
            "orientation": wire.orientation_of(ratio) or ("square" if ratio == "1:1" else ""),
            "size": RESOLUTION_SIZE.get(resolution, resolution),
            "duration": int(self.values.get("duration") or 0),
        }


def _is_slot(spec: ModelSpec, name: str) -> bool:
    param = spec.param(name)
    return bool(param and param.is_slot)


def lang() -> str:
    return get_language() or "en"


def setting_label(param: Param | None, name: str) -> str:
    return param.label.get(lang()) if param else name


def value_label(param: Param | None, value: Any) -> str:
    if param is None:
        return str(value)
    if param.type == "choice":
        return param.choice_label(value, lang())
    if param.type == "bool":
        return _("on") if value else _("off")
    if param.name == "duration":
        return _("%(n)d seconds") % {"n": int(value)}
    return str(value)


def problem_message(spec: ModelSpec, problem: Problem, *, model_name: str) -> str:
    """One problem as a sentence in the reader's language."""
    param = spec.param(problem.param)
    setting = setting_label(param, problem.param)
    if problem.code == "rule" and problem.message:
        return problem.message.get(lang())
    if problem.code == "invalid":
        allowed = problem.allowed
        if problem.param == "duration" and allowed:
            return _("%(model)s only makes videos of %(allowed)s seconds.") % {
                "model": model_name,
                "allowed": ", ".join(str(v) for v in allowed),
            }
        if allowed:
            return _("%(model)s offers these for %(setting)s: %(allowed)s.") % {
                "model": model_name,
                "setting": setting,
                "allowed": ", ".join(value_label(param, v) for v in allowed),
            }
        return _("“%(value)s” is not a valid %(setting)s.") % {
            "value": problem.value,
            "setting": setting,
        }
    if problem.code == "too_long":
        return _("%(setting)s can be at most %(n)d characters long.") % {
            "setting": setting,
            "n": problem.limit,
        }
    if problem.code == "too_many":
        return _("%(model)s takes at most %(n)d file(s) as %(setting)s.") % {
            "model": model_name,
            "n": problem.limit,
            "setting": setting,
        }
    if problem.code == "unknown":
        return _("%(model)s has no setting “%(setting)s”.") % {
            "model": model_name,
            "setting": problem.param,
        }
    return _("“%(value)s” is not a valid %(setting)s.") % {
        "value": problem.value,
        "setting": setting,
    }


def assign_slots(spec: ModelSpec, images: Sequence[Any]) -> dict[str, list[Any]]:
    """Pictures from one upload field, in order, into the model's picture slots: the first frame
    first, then the last frame, then references."""
    slots = [s for s in spec.slots() if s.kind == "image"]
    order = {name: i for i, name in enumerate(SLOT_ORDER)}
    slots.sort(key=lambda s: order.get(s.name, len(order)))
    out: dict[str, list[Any]] = {}
    rest = list(images)
    for slot in slots:
        if not rest:
            break
        out[slot.name], rest = rest[: slot.max_count], rest[slot.max_count :]
    if rest:
        out["__extra__"] = rest
    return out


def check_settings(
    *,
    video_model,
    params: dict[str, Any] | None = None,
    slots: dict[str, list[Any]] | None = None,
    images: Sequence[Any] = (),
    orientation: str = "",
    size: str = "",
    duration: int | None = None,
    slot_errors: bool = False,
) -> CheckedSettings:
    """The one settings check. ``params`` are catalogue names (aspect_ratio, resolution, audio,
    ...); the old orientation / size / duration tokens are still understood. Pictures come either
    per slot (``slots``) or as one ordered list (``images``). Raises ValidationError keyed by
    setting name; a picture slot's problem under ``images``, or under the slot's own name with
    ``slot_errors`` (a form with one input per slot shows it next to that input)."""
    name = video_model.display_name
    errors: dict[str, list[str]] = {}
    if not video_model.enabled or not video_model.provider.enabled:
        errors["video_model"] = [
            _("%(model)s is switched off by an administrator.") % {"model": name}
        ]
    spec = video_model.sold_spec()
    if spec is None:
        fmt = video_model.provider.config().wire_format.value
        errors.setdefault("video_model", []).append(
            _("%(model)s is not sold in this provider’s wire format (%(format)s).")
            % {"model": name, "format": fmt}
        )
        raise ValidationError(errors)
    legacy = params_from_legacy(orientation=orientation, size=size, duration=duration)
    # Old tokens the model has no place for (a chat name has no size) are dropped, not refused.
    picked = {k: v for k, v in legacy.items() if spec.param(k) is not None}
    picked.update(params or {})
    if slots is None:
        slots = assign_slots(spec, images)
    extra = slots.pop("__extra__", [])
    if extra or (images and not spec.slots() and not slots):
        limit = sum(s.max_count for s in spec.slots() if s.kind == "image")
        errors["images"] = [
            _("%(model)s does not take reference images.") % {"model": name}
            if limit == 0
            else _("%(model)s takes at most %(n)d reference image(s).")
            % {"model": name, "n": limit}
        ]
    counts = {slot: len(items) for slot, items in slots.items() if items}
    resolved = rules.resolve(spec, picked, counts=counts)
    # A caller that spoke the old names gets its errors under those names.
    aliases = {"aspect_ratio": "orientation", "resolution": "size"} if legacy and not params else {}
    for problem in resolved.problems:
        key = problem.param
        if _is_slot(spec, key) and not slot_errors:
            key = "images"
        key = aliases.get(key, key) if problem.param in legacy else key
        errors.setdefault(key, []).append(problem_message(spec, problem, model_name=name))
    if not errors:
        fmt = video_model.provider.config().wire_format.value
        try:
            wire.build(spec, fmt, resolved.values, prompt="", inputs=slots, url_of=lambda _i: "")
        except wire.WireError as exc:
            errors["__all__"] = [
                _("%(model)s cannot send these settings to its provider: %(reason)s")
                % {"model": name, "reason": exc}
            ]
    if errors:
        raise ValidationError(errors)
    return CheckedSettings(
        spec=spec,
        values=resolved.values,
        slots={k: list(v) for k, v in slots.items() if v},
        cost=pricing.estimate(spec, resolved.values),
    )


def settings_in_words(job) -> list[tuple[str, str]]:
    """A job's stored settings as (setting, value) in the reader's language, in the order its
    model's catalogue entry lists them; empty for jobs made before settings were stored."""
    from soraweb.catalogue.schema import SpecError

    stored = job.params or {}
    if not stored:
        return []
    try:
        spec = job.video_model.catalogue_spec()
    except SpecError:
        spec = None
    rows = []
    known = set()
    for param in spec.settings() if spec is not None else ():
        known.add(param.name)
        if param.name in stored:
            rows.append((setting_label(param, param.name), value_label(param, stored[param.name])))
    for name, value in stored.items():  # a setting the entry no longer has: kept, in its name
        if name not in known and not (spec is not None and _is_slot(spec, name)):
            rows.append((name, str(value)))
    return rows


def job_values(job, spec: ModelSpec) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """A stored job's settings (resolved again, leniently) and its slots' picture ids."""
    stored = dict(job.params or {})
    if not stored:  # a job made before parameters were stored
        stored = params_from_legacy(
            orientation=job.orientation, size=job.size, duration=job.duration
        )
    slot_ids = {k: list(v) for k, v in stored.items() if _is_slot(spec, k) and isinstance(v, list)}
    picked = {k: v for k, v in stored.items() if k not in slot_ids}
    resolved = rules.resolve(
        spec, picked, counts={k: len(v) for k, v in slot_ids.items()}, strict=False
    )
    return resolved.values, slot_ids


_FRAME = re.compile(r"(\d{2,5})[x*](\d{2,5})")


def frame_of(body: dict[str, Any], values: dict[str, Any]) -> tuple[int, int] | None:
    """The video's pixel size: the WxH (or W*H) the body asks for, else what the aspect ratio
    and resolution make when the body names the resolution, else the old small / large tokens'
    OpenAI sizes, else what the aspect ratio and resolution make."""
    size = str(body.get("size", ""))
    match = _FRAME.fullmatch(size)
    if match:
        return int(match.group(1)), int(match.group(2))
    named = values.get("aspect_ratio") and values.get("resolution")
    if named and "resolution" in body:
        # The relay is told the resolution itself (Seedance 1080p is 1920x1080, whatever the
        # small / large token beside it): the OpenAI sizes of the old tokens do not apply.
        frame = wire.frame_size(values["aspect_ratio"], values["resolution"])
        if frame is not None:
            return frame
    orientation = body.get("orientation") or wire.orientation_of(values.get("aspect_ratio"))
    if size in RESOLUTION_SIZE.values() and orientation:
        from soraweb.videos.selectors import video_frame

        return video_frame(size=size, orientation=orientation)
    if values.get("aspect_ratio") and values.get("resolution"):
        return wire.frame_size(values["aspect_ratio"], values["resolution"])
    return None


def mask_body(value: Any, secrets: Sequence[str] = ()) -> Any:
    """A wire body fit for the job's history: pictures as their type and size, secrets masked."""
    from soraweb.ops.redaction import redact

    def shrink(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: shrink(v) for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [shrink(v) for v in node]
        if isinstance(node, str):
            match = _DATA_URL.match(node[:200] + ("…" if len(node) > 200 else ""))
            if match and node.startswith("data:"):
                payload = node.split(",", 1)[1]
                size = len(payload) * 3 // 4 if match.group(2) else len(payload)
                return f"data:{match.group(1)};base64,… ({size} bytes)"
        return node

    return redact(shrink(value), secrets=secrets)
