"""The production configuration: `check --deploy` clean, and the real server (gunicorn, the
image's settings) sending HTTPS-only cookies, HSTS, the CSP, hashed compressed static files and
JSON log lines without secrets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import requests

from tests.clusters import ROOT, clean_env, manage
from tests.conftest import free_port

SECRET = "prod-test-secret-" + "k" * 40
API_KEY = "sk-prodtestkey0123456789"
PASSWORD = "pw-never-logged-4711"


def production_env(tmp_path, **extra) -> dict[str, str]:
    return clean_env(
        SORAWEB_PRODUCTION="1",
        SORAWEB_SECRET_KEY=SECRET,
        SORAWEB_ALLOWED_HOSTS="videos.example.com,127.0.0.1",
        SORAWEB_CSRF_TRUSTED_ORIGINS="https://videos.example.com",
        SORAWEB_DATA_DIR=str(tmp_path / "data"),
        SORAWEB_STATIC_ROOT=str(tmp_path / "static"),
        SORAWEB_PROVIDER_BASE_URL="https://relay.example.com/v1",
        SORAWEB_PROVIDER_API_KEY=API_KEY,
        **extra,
    )


def test_check_deploy_is_clean_under_the_production_environment(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_does_complain_without_it(tmp_path):
    # The same check without SORAWEB_PRODUCTION: proof that the clean result above means something.
    env = production_env(tmp_path)
    env.pop("SORAWEB_PRODUCTION")
    with pytest.raises(AssertionError) as failure:
        manage(env, "check", "--deploy", "--fail-level", "WARNING")
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in str(failure.value)


@pytest.mark.parametrize(
    ("drop", "extra", "message"),
    [
        ("SORAWEB_SECRET_KEY", {}, "set SORAWEB_SECRET_KEY"),
        (None, {"SORAWEB_DEBUG": "1"}, "SORAWEB_DEBUG must be off"),
    ],
)
def test_production_refuses_unsafe_configuration(tmp_path, drop, extra, message):
    env = production_env(tmp_path, **extra)
    if drop:
        env.pop(drop)
    with pytest.raises(AssertionError, match=message):
        manage(env, "check")


@pytest.fixture
def production_server(tmp_path):
    """gunicorn with the image's configuration, on SQLite, after collectstatic and migrate."""
    port = free_port()
    env = production_env(tmp_path, SORAWEB_HOST="127.0.0.1", SORAWEB_PORT=str(port))
    env["SORAWEB_WEB_WORKERS"] = "2"
    manage(env, "collectstatic", "--noinput")
    manage(env, "soraweb_migrate")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:soraweb.gunicorn_conf",
                "soraweb.wsgi:application",
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                # The first answer may be slow (workers still importing): wait, don't fail.
                requests.get(base + "/healthz", timeout=5)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base, log, env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_gunicorn_serves_the_production_site(production_server):
    base, log, env = production_server
    https = {"Host": "videos.example.com", "X-Forwarded-Proto": "https"}

    health = requests.get(base + "/healthz", headers={"Host": "127.0.0.1"}, timeout=5)
    assert health.status_code == 200, health.text  # plain HTTP: probes are not redirected
    assert health.json()["status"] == "ok"
    # The image's HEALTHCHECK script, as Docker runs it inside the web container.
    probe = subprocess.run(
        [sys.executable, str(ROOT / "docker/healthcheck.py"), "web"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr

    plain = requests.get(
        base + "/accounts/login/",
        headers={"Host": "videos.example.com"},
        timeout=5,
        allow_redirects=False,
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://videos.example.com/accounts/login/"

    page = requests.get(base + "/accounts/login/", headers=https, timeout=5)
    assert page.status_code == 200
    headers = page.headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    csrf_cookie = next(c for c in page.cookies if c.name == "csrftoken")
    assert csrf_cookie.secure
    assert "samesite=lax" in headers["Set-Cookie"].lower()

    # Static files: hashed names from the manifest, served compressed and cached for good.
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.text)
    assert css, "the page does not link a hashed stylesheet"
    static = requests.get(
        base + css.group(1), headers={**https, "Accept-Encoding": "gzip"}, timeout=5
    )
    assert static.status_code == 200
    assert static.headers["Content-Encoding"] == "gzip"
    assert "immutable" in static.headers["Cache-Control"]

    # A sign-in attempt: the Secure CSRF cookie is not sent back over plain HTTP by a browser,
    # so it is given here as a proxy would pass it on; the password never reaches the logs.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    attempt = requests.post(
        base + "/accounts/login/",
        data={"username": "nobody", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={
            **https,
            "Referer": "https://videos.example.com/accounts/login/",
            "Cookie": f"csrftoken={csrf_cookie.value}",
        },
        timeout=5,
    )
    assert attempt.status_code == 200  # the form again (wrong password), the CSRF check passed
    assert "Please enter a correct username and password" in attempt.text

    assert requests.get(base + "/no/such/page", headers=https, timeout=5).status_code == 404
    time.sleep(0.5)  # let the access log line of the last request reach the file

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    assert any(e["path"] == "/healthz" and e["status"] == "200" for e in access)
    assert any(e["logger"] == "django.request" and "/no/such/page" in e["message"] for e in entries)
    assert any(e["logger"] == "gunicorn.error" for e in entries)
    text = log.read_text()
    for secret in (SECRET, API_KEY, PASSWORD, csrf_cookie.value):
        assert secret not in text
