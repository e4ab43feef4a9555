"""Log lines: one JSON object each in production, and never a secret in any format."""

from __future__ import annotations

import json
import logging

import pytest

from soraweb import logs


@pytest.fixture
def secrets(settings):
    settings.SORAWEB_PROVIDER_API_KEY = "relay-key-0123456789abcdef"
    settings.SORAWEB_S3_SECRET_ACCESS_KEY = "s3-secret-abcdefghijklmnop"
    settings.SECRET_KEY = "django-secret-key-zyxwvutsrqponmlkjihgfedcba"
    logs._known_secrets = None  # read the settings above afresh
    yield settings
    logs._known_secrets = None


def _record(message: str, *args, name: str = "soraweb.test", exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, exc_info)


def test_a_json_line_parses_and_carries_the_essentials(secrets):
    line = logs.JsonFormatter().format(_record("job %s: status %s", 7, "running"))
    entry = json.loads(line)
    assert entry["message"] == "job 7: status running"
    assert entry["level"] == "WARNING" and entry["logger"] == "soraweb.test"
    assert entry["time"].endswith("+00:00")
    assert "\n" not in line


def test_known_secrets_and_credential_shapes_are_masked_in_both_formats(secrets):
    message = (
        "request failed: key relay-key-0123456789abcdef, header Authorization: Bearer tok-abcdef123, "
        "db postgres://soraweb:pg-password-1@db:5432/soraweb, url https://x/y?api_key=k123456&a=1, "
        "openai sk-proj-ABCDEFGH123456, webhook whsec_c2VjcmV0c2VjcmV0, "
        "s3 s3-secret-abcdefghijklmnop, django django-secret-key-zyxwvutsrqponmlkjihgfedcba"
    )
    try:
        raise RuntimeError("upstream said relay-key-0123456789abcdef is invalid")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    record = _record(message, exc_info=exc_info)
    for formatter in (logs.JsonFormatter(), logs.PlainFormatter()):
        out = formatter.format(record)
        for secret in (
            "relay-key-0123456789abcdef",
            "tok-abcdef123",
            "pg-password-1",
            "k123456",
            "ABCDEFGH123456",
            "c2VjcmV0c2VjcmV0",
            "s3-secret-abcdefghijklmnop",
            "django-secret-key",
        ):
            assert secret not in out, (type(formatter).__name__, secret, out)
        assert "[redacted]" in out
        assert "postgres://soraweb:[redacted]@db:5432/soraweb" in out
    assert "RuntimeError" in json.loads(logs.JsonFormatter().format(record))["exc"]


def test_ordinary_text_is_left_alone(secrets):
    text = "Basic plan, token bucket refilled; https://example.com:8443/path@v1 task-123456789"
    assert logs.redact(text) == text


def test_access_lines_keep_request_facts_but_never_headers():
    atoms = {
        "m": "GET",
        "U": "/jobs/3/video.mp4",
        "s": "206",
        "B": 1024,
        "M": 12,
        "h": "10.0.0.5",
        "a": "Mozilla/5.0",
        "{cookie}i": "sessionid=abc123secretsession",
        "{authorization}i": "Basic dXNlcjpwYXNz",
    }
    entry = json.loads(logs.JsonFormatter().format(_record("%(m)s", atoms, name="gunicorn.access")))
    assert entry["message"] == "GET /jobs/3/video.mp4 206"
    assert entry["status"] == "206" and entry["duration_ms"] == 12 and entry["bytes"] == 1024
    assert "abc123secretsession" not in json.dumps(entry)
    assert "dXNlcjpwYXNz" not in json.dumps(entry)


def test_production_settings_choose_json_and_configure_django_q_logger():
    config = logs.logging_config(fmt="json", level="info", queue_level="warning")
    assert config["handlers"]["console"]["formatter"] == "json"
    assert config["root"]["level"] == "INFO"
    assert config["loggers"]["django-q"]["level"] == "WARNING"  # django-q2's logger name
    with pytest.raises(ValueError):
        logs.logging_config(fmt="xml")
