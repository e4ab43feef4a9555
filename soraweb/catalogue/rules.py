"""Checking what a person picked against a model: types, limits and the rules across fields.

One function, ``resolve``, is what every caller uses (the form, services, batch, remix, retry,
"use these settings"): it fills in defaults, leaves "not sent when unset" parameters out, and
returns typed problems. ``option_states`` answers the form's question "which choices would break
a rule right now, and why", from the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .schema import SET, UNSET, Condition, Label, ModelSpec, Param, Rule

_TRUE = frozenset({"1", "true", "on", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "off", "no", "n", "f", ""})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pick, as a fact: the UI words it in the reader's language.

    ``code`` is one of: unknown (no such parameter), invalid (not an allowed value; see
    ``allowed``), type (not even the right kind of value), too_long (``limit`` characters),
    too_many (``limit`` files), rule (a rule across fields; ``message`` says which).
    """

    param: str
    code: str
    value: Any = None
    allowed: tuple[Any, ...] = ()
    limit: int | None = None
    message: Label | None = None
    rule: Rule | None = None

    def english(self) -> str:
        if self.message:
            return self.message.en
        if self.code == "invalid" and self.allowed:
            shown = ", ".join(str(v) for v in self.allowed)
            return f"{self.param}: {self.value!r} is not allowed; use {shown}"
        if self.code == "too_long":
            return f"{self.param}: at most {self.limit} characters"
        if self.code == "too_many":
            return f"{self.param}: at most {self.limit} file(s)"
        if self.code == "unknown":
            return f"{self.param}: this model has no such setting"
        return f"{self.param}: {self.value!r} is not a valid value"


@dataclass
class Resolved:
    """The parameter set that will be sent: only parameters that are set appear in ``values``
    (slots as file counts), plus every problem found."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def coerce(param: Param, raw: Any) -> tuple[Any, bool]:
    """``raw`` (a form string, a CSV cell or a typed JSON value) as this parameter's type.

    Returns (value, ok). Empty text means "unset" and is handled by the caller.
    """
    if param.type == "int":
        if isinstance(raw, bool):
            return raw, False
        if isinstance(raw, int):
            return raw, True
        text = str(raw).strip().lower().removesuffix("s").strip()
        if text.lstrip("-").isdigit():
            return int(text), True
        return raw, False
    if param.type == "bool":
        if isinstance(raw, bool):
            return raw, True
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True, True
        if text in _FALSE:
            return False, True
        return raw, False
    if param.type == "choice":
        text = str(raw).strip()
        for choice in param.choices:
            if text == choice.value or text.lower() == choice.value.lower():
                return choice.value, True
        return text, True  # checked against the choices next
    if param.type == "text":
        return (raw if isinstance(raw, str) else str(raw)), True
    return raw, True


def _check(param: Param, value: Any) -> Problem | None:
    if param.type == "choice":
        choices = param.allowed() or ()  # a choice always has its tuple
        if value not in choices:
            return Problem(param.name, "invalid", value=value, allowed=choices)
    elif param.type == "int":
        allowed = param.allowed()
        if param.values and value not in param.values:
            return Problem(param.name, "invalid", value=value, allowed=param.values)
        if param.min is not None:
            fits = param.min <= value <= (param.max if param.max is not None else value)
            if not fits or (value - param.min) % param.step:
                return Problem(param.name, "invalid", value=value, allowed=allowed or ())
    elif param.type == "text" and param.max_length is not None and len(value) > param.max_length:
        return Problem(param.name, "too_long", value=value, limit=param.max_length)
    return None


def _is_unset(param: Param, raw: Any) -> bool:
    if raw is None:
        return True
    return bool(
        param.type in ("text", "choice", "int") and isinstance(raw, str) and not raw.strip()
    )


def resolve(
    spec: ModelSpec,
    picked: dict[str, Any] | None = None,
    *,
    counts: dict[str, int] | None = None,
    strict: bool = True,
) -> Resolved:
    """Defaults filled in, every value checked, every rule applied.

    ``picked`` maps parameter names to what was chosen; ``counts`` says how many files each
    input slot got. With ``strict`` a name the model lacks is a problem (an API caller made a
    mistake); without it such names are dropped (an old job's settings on a changed model).
    """
    picked = dict(picked or {})
    counts = dict(counts or {})
    result = Resolved()
    names = {p.name for p in spec.params}
    for name in list(picked) + list(counts):
        if name not in names and strict:
            result.problems.append(Problem(name, "unknown", value=picked.get(name)))
    for param in spec.params:
        if param.is_slot:
            count = int(counts.get(param.name) or picked.get(param.name) or 0)
            if count > param.max_count:
                result.problems.append(Problem(param.name, "too_many", limit=param.max_count))
            if count:
                result.values[param.name] = count
            continue
        raw = picked.get(param.name)
        if _is_unset(param, raw):
            if param.has_default:
                result.values[param.name] = param.default
            continue
        value, ok = coerce(param, raw)
        if not ok:
            result.problems.append(Problem(param.name, "type", value=raw))
            continue
        if param.type == "text" and not value.strip():
            continue
        problem = _check(param, value)
        if problem:
            result.problems.append(problem)
            continue
        result.values[param.name] = value
    if not result.problems:
        result.problems.extend(
            Problem(_blamed(rule), "rule", message=rule.message, rule=rule)
            for rule in broken_rules(spec, result.values)
        )
    return result


def _blamed(rule: Rule) -> str:
    """The field a broken rule is shown on: the one the rule asks for."""
    return rule.then[0].param


def holds(condition: Condition, values: dict[str, Any]) -> bool:
    if condition.presence == SET:
        return condition.param in values
    if condition.presence == UNSET:
        return condition.param not in values
    return condition.param in values and values[condition.param] in condition.values


def broken_rules(spec: ModelSpec, values: dict[str, Any]) -> list[Rule]:
    return [
        rule
        for rule in spec.rules
        if all(holds(c, values) for c in rule.when) and not all(holds(c, values) for c in rule.then)
    ]


def option_states(spec: ModelSpec, values: dict[str, Any]) -> dict[str, dict[Any, Rule | None]]:
    """For each parameter with a list of values: which value would break a rule, given the rest
    as picked now, and which rule (its message is the reason shown next to the choice)."""
    states: dict[str, dict[Any, Rule | None]] = {}
    for param in spec.settings():
        allowed = param.allowed()
        if allowed is None:
            continue
        involved = [r for r in spec.rules if param.name in r.params]
        row: dict[Any, Rule | None] = {}
        for value in allowed:
            trial = {**values, param.name: value}
            broken = [r for r in involved if r in broken_rules(spec, trial)]
            row[value] = broken[0] if broken else None
        states[param.name] = row
    return states


def slot_states(spec: ModelSpec, values: dict[str, Any]) -> dict[str, Rule | None]:
    """For each input slot: the rule that forbids filling it now (e.g. a last frame without a
    first one, a camera move with a picture), or None."""
    out: dict[str, Rule | None] = {}
    for slot in spec.slots():
        trial = {**values, slot.name: 1}
        involved = [r for r in spec.rules if slot.name in r.params]
        broken = [r for r in involved if r in broken_rules(spec, trial)]
        # A rule that only asks for another slot to be filled (last needs first) does not forbid
        # picking this one: the person fills both.
        blocking = [
            r for r in broken if not all(c.presence == SET and c.param != slot.name for c in r.then)
        ]
        out[slot.name] = blocking[0] if blocking else None
    return out
