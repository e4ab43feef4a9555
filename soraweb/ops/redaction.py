"""Redaction of provider responses before they are stored in a job's history or shown.

A relay's answer is kept so an admin can see exactly what the provider said, but relays echo
things back: the request's headers, the key in an error message, signed links. Everything that
could grant access is masked here, once, at the moment the answer is stored (and again when it
is shown, in case an older row predates a rule).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from soraweb.providers.http import MASK, cut, scrub

MAX_STRING = 4000  # characters kept of one string value
MAX_JSON = 32_000  # characters of the whole stored answer
MAX_DEPTH = 12

# Keys whose value is a credential whatever it looks like. "max_tokens" or "total_tokens" are
# counts, not credentials, so a plural "tokens" is left alone.
_SECRET_KEY = re.compile(
    r"authori[sz]ation|api[_-]?key|secret|passw(or)?d|cookie|signature|credential|"
    r"(^|[_-])key$|token$",
    re.IGNORECASE,
)


def _secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name.replace("-", "_")))


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets, ``Bearer ...``, ``sk-...`` or credential parameters
    (the one scrubber, ``soraweb.providers.http.scrub``)."""
    return scrub(text, secrets)


def _clean(value: Any, secrets: tuple[str, ...], depth: int) -> Any:
    if depth > MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {
            str(key): MASK
            if _secret_key(str(key)) and value[key] not in (None, "")
            else _clean(value[key], secrets, depth + 1)
            for key in value
        }
    if isinstance(value, list | tuple):
        return [_clean(item, secrets, depth + 1) for item in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = value if isinstance(value, str) else str(value)
    if text in secrets:
        return MASK
    return cut(text, MAX_STRING, secrets=secrets)


def redact(data: Any, *, secrets: Iterable[str] = ()) -> Any:
    """A JSON-safe copy of ``data`` with every credential masked and long values cut short."""
    known = tuple(s for s in secrets if s and len(s) >= 4)
    cleaned = _clean(data, known, 0)
    text = json.dumps(cleaned, ensure_ascii=False)
    if len(text) > MAX_JSON:
        return {"truncated": True, "preview": cut(text, MAX_JSON, secrets=known)}
    return cleaned


def provider_secrets(provider) -> tuple[str, ...]:
    """Every secret soraweb holds for ``provider``: the API key, webhook secret, secret headers."""
    config = provider.config()
    values = [config.api_key, provider.webhook_secret_value]
    values += [
        str(value) for name, value in (config.extra_headers or {}).items() if _secret_key(name)
    ]
    return tuple(v for v in values if v)
