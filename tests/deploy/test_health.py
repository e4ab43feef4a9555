"""/healthz: 200 when the database and the broker answer, 503 naming what does not."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.clusters import clean_env, run_script
from tests.conftest import free_port

PROBE = r"""
import json
import django
django.setup()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json(),
                  "cache": response.get("Cache-Control", "")}))
"""


@pytest.mark.django_db
def test_healthz_is_ok_without_login_when_database_and_broker_answer(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert client.head(reverse("healthz")).status_code == 200
    assert client.post(reverse("healthz")).status_code == 405


def _probe(tmp_path, **env) -> dict:
    base = clean_env(SORAWEB_DATA_DIR=str(tmp_path), SORAWEB_ALLOWED_HOSTS="testserver")
    return run_script({**base, **env}, PROBE)


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    closed = free_port()
    result = _probe(tmp_path, DATABASE_URL=f"postgres://soraweb:pw@127.0.0.1:{closed}/soraweb")
    assert result["status"] == 503
    assert result["body"]["status"] == "unavailable"
    assert result["body"]["database"] == "unavailable (OperationalError)"
    assert result["body"]["broker"] == "unavailable (OperationalError)"  # the ORM broker's table


def test_healthz_is_503_when_the_redis_broker_is_down(tmp_path):
    closed = free_port()
    result = _probe(tmp_path, REDIS_URL=f"redis://:hunter2-password@127.0.0.1:{closed}/0")
    assert result["status"] == 503
    assert result["body"] == {
        "status": "unavailable",
        "database": "ok",
        "broker": "unavailable (ConnectionError)",
    }
    assert "hunter2" not in json.dumps(result)
