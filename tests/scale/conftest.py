"""Scale-out fixtures: a fresh PostgreSQL database, a Redis namespace of its own, an S3 server.

These tests never skip. Without PostgreSQL and Redis they fail and say what is missing;
`make test` leaves them out (marker ``scale``) and `.ci/run` runs `make test-scale` only when
both services answer, saying so when they do not.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clusters import (
    clean_env,
    manage,
    queue_namespace,
    scratch_database,
    services_problems,
)
from tests.s3server import S3Server, moto_s3

POSTGRES_URL = os.environ.get(
    "SORAWEB_SCALE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("SORAWEB_SCALE_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def services() -> None:
    problems = services_problems(POSTGRES_URL, REDIS_URL)
    if problems:
        pytest.fail(
            "scale-out tests need PostgreSQL and Redis (set SORAWEB_SCALE_POSTGRES_URL / "
            "SORAWEB_SCALE_REDIS_URL to use others):\n  " + "\n  ".join(problems),
            pytrace=False,
        )


@pytest.fixture
def pg_database(services) -> Iterator[str]:
    """A database created for this test and dropped after it; yields its URL."""
    with scratch_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def cluster_name(services) -> Iterator[str]:
    """A django-q2 cluster name of its own: its queue and cache keys do not meet anyone else's."""
    with queue_namespace(REDIS_URL) as name:
        yield name


@pytest.fixture
def s3(tmp_path) -> Iterator[S3Server]:
    with moto_s3(tmp_path / "moto.log", bucket="soraweb-scale") as server:
        yield server


@pytest.fixture
def installation(pg_database, cluster_name, s3, tmp_path) -> dict[str, str]:
    """The environment of a migrated installation on PostgreSQL, Redis and S3."""
    env = clean_env(
        DATABASE_URL=pg_database,
        REDIS_URL=REDIS_URL,
        SORAWEB_CLUSTER_NAME=cluster_name,
        SORAWEB_DATA_DIR=str(tmp_path / "data"),
        SORAWEB_SECRET_KEY="scale-test-secret-key-" + uuid.uuid4().hex,
        **s3.env(),
    )
    manage(env, "migrate", "--noinput")
    return env


def log_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
