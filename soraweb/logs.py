"""Log formatting: one JSON object per line in production, secrets masked in every format.

Used by Django's LOGGING (settings.py) and by gunicorn's own loggers (soraweb.gunicorn_conf), so
the web server's access and error lines come out in the same shape as the application's.

Masking is a second line of defence: code never logs keys on purpose, but an exception message
can quote a URL or a header. Known secret values from the settings are replaced, and so is
anything shaped like a credential (bearer tokens, ``sk-`` keys, passwords in URLs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from soraweb.env import env_bool, env_str

MASK = "[redacted]"
# Settings whose values must never appear in a log line.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "SORAWEB_PROVIDER_API_KEY",
    "SORAWEB_PROVIDER_WEBHOOK_SECRET",
    "SORAWEB_S3_SECRET_ACCESS_KEY",
    "EMAIL_HOST_PASSWORD",
)
# gunicorn access-log atoms that are safe to keep (never the request headers: they carry cookies).
ACCESS_FIELDS = {
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "h": "remote_addr",
    "a": "user_agent",
}

_known_secrets: tuple[str, ...] | None = None


def default_format() -> str:
    return env_str("SORAWEB_LOG_FORMAT", "json" if env_bool("SORAWEB_PRODUCTION") else "plain")


def _secret_values() -> tuple[str, ...]:
    """The configured secrets, read once the settings are ready (empty before that)."""
    global _known_secrets
    if _known_secrets is not None:
        return _known_secrets
    from django.conf import settings

    if not settings.configured:
        return ()
    values = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
    for database in getattr(settings, "DATABASES", {}).values():
        values.append(str(database.get("PASSWORD") or ""))
    redis_url = getattr(settings, "REDIS_URL", "") or ""
    if redis_url:
        values.append(unquote(urlsplit(redis_url).password or ""))
    # Short values would mask ordinary words; real secrets are long.
    _known_secrets = tuple(sorted({v for v in values if len(v) >= 8}, key=len, reverse=True))
    return _known_secrets


def redact(text: str) -> str:
    # The one scrubber the provider layer and the stored answers use as well.
    from soraweb.providers.http import scrub

    return scrub(text, _secret_values())


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...}`` on one line; tracebacks in ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            atoms = record.args
            fields = {name: atoms.get(atom) for atom, name in ACCESS_FIELDS.items()}
            entry["message"] = f"{fields['method']} {fields['path']} {fields['status']}"
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        status = getattr(record, "status_code", None)
        if isinstance(status, int):
            entry["status"] = status
        entry["process"] = record.process
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in entry.items():
            if isinstance(value, str):
                entry[key] = redact(value)
        return json.dumps(entry, ensure_ascii=False, default=str)


class QuietForbidden(logging.Filter):
    """A 403 is an answer, not a fault: keep Django's one-line warning, drop its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True


def logging_config(*, fmt: str, level: str = "INFO", queue_level: str = "WARNING") -> dict:
    """A dictConfig for Django and gunicorn alike. ``fmt`` is "json" or "plain"."""
    if fmt not in {"json", "plain"}:
        raise ValueError(f"SORAWEB_LOG_FORMAT must be json or plain, got {fmt!r}")
    console = {
        "class": "logging.StreamHandler",
        "formatter": fmt,
        "stream": "ext://sys.stderr",
        "filters": ["quiet_forbidden"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "soraweb.logs.JsonFormatter"},
            "plain": {
                "()": "soraweb.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            },
        },
        "filters": {"quiet_forbidden": {"()": "soraweb.logs.QuietForbidden"}},
        "handlers": {"console": console},
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {
            # django-q2 logs as "django-q"; configuring it here also stops it adding its own
            # plain handler.
            "django-q": {"level": queue_level.upper()},
            "urllib3": {"level": "WARNING"},
            "botocore": {"level": "WARNING"},
            "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }
