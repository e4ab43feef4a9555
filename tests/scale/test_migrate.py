"""Containers starting together: several `soraweb_migrate` at once on one fresh PostgreSQL
database all succeed, one after another, and leave one polling schedule."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg
import pytest

from tests.clusters import ROOT, clean_env
from tests.scale.conftest import REDIS_URL


@pytest.mark.scale
def test_concurrent_migrations_take_turns(pg_database, cluster_name, tmp_path):
    env = clean_env(
        DATABASE_URL=pg_database,
        REDIS_URL=REDIS_URL,
        SORAWEB_CLUSTER_NAME=cluster_name,
        SORAWEB_DATA_DIR=str(tmp_path),
        SORAWEB_SECRET_KEY="migrate-test-" + uuid.uuid4().hex,
        SORAWEB_ADMIN_PASSWORD="first-admin-pw-123",
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "soraweb_migrate"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=180)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, "\n---\n".join(outputs)
    assert sum("Applying videos.0001_initial... OK" in out for out in outputs) == 1
    with psycopg.connect(pg_database) as conn:
        schedules = conn.execute(
            "SELECT count(*) FROM django_q_schedule WHERE func = 'soraweb.videos.tasks.poll_loop'"
        ).fetchone()[0]
        admins = conn.execute("SELECT count(*) FROM auth_user WHERE is_superuser").fetchone()[0]
    assert schedules == 1
    assert admins == 1
