"""Helpers for tests that run soraweb's real processes: manage.py commands, Django scripts and
django-q2 clusters in their own process groups, against a throwaway installation."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SETTLED = {"succeeded", "failed", "expired", "needs_attention", "cancelled"}

CREATE_JOBS = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from soraweb.videos.pipeline import queue
from soraweb.videos import services
from soraweb.videos.models import VideoModel
spec = json.loads(sys.stdin.read())
# These measure the pipeline under load, not the per-person abuse limits (tests/security/test_abuse.py).
from soraweb.ops.models import BudgetPolicy
BudgetPolicy.objects.update_or_create(pk=1, defaults={"max_active_jobs_per_user": 0, "max_jobs_per_minute_per_user": 0})
user = get_user_model().objects.create_user(username=spec["user"], password="x-" + spec["user"] + "-1")
model = VideoModel.objects.get(name="sora-2")
ids = []
for prompt in spec["prompts"]:
    job = services.job_create(
        owner=user, video_model=model, prompt_text=prompt,
        orientation="landscape", size="small", duration=10,
    )
    ids.append(job.pk)
    for _ in range(spec.get("duplicate_submits", 0)):  # as a redelivering broker would
        queue.enqueue("submit_job", job.pk)
print(json.dumps(ids))
"""


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a process, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any soraweb configuration, plus ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SORAWEB_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env["DJANGO_SETTINGS_MODULE"] = "soraweb.settings"
    env.update(overrides)
    return env


def manage(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a manage.py command; a failure raises with its output attached."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def run_script(env: dict, script: str, payload: object = None, timeout: float = 120):
    """Run a Django script (it calls django.setup()) with JSON on stdin; return its JSON output."""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(payload),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"script failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def create_jobs(
    env: dict, prompts: list[str], *, user: str = "chaos", duplicate_submits: int = 0
) -> list[int]:
    """Create one job per prompt; each may get extra submit tasks right after its own."""
    spec = {"user": user, "prompts": prompts, "duplicate_submits": duplicate_submits}
    return run_script(env, CREATE_JOBS, spec)


def start_cluster(env: dict, log) -> subprocess.Popen:
    """``manage.py qcluster`` in its own process group (so it can be killed with its workers)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster", "--skip-checks"],  # as runstack
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:  # a graceful stop waits for running tasks; do not hang on it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def stop(proc: subprocess.Popen, timeout: float = 30) -> bool:
    """Stop a cluster as ``docker stop`` does: SIGTERM to the main process only (it stops its
    workers after their current task), SIGKILL to the whole group if that takes too long.
    Returns whether the graceful stop worked."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        kill(proc, signal.SIGKILL)
        return False


# --- Shared services: PostgreSQL and Redis, used without stepping on anyone else --------------


def services_problems(postgres_url: str, redis_url: str) -> list[str]:
    """Why PostgreSQL or Redis cannot be used (empty when both answer)."""
    import psycopg
    import redis

    problems = []
    try:
        psycopg.connect(postgres_url, connect_timeout=3).close()
    except Exception as exc:
        problems.append(f"PostgreSQL at {postgres_url}: {exc}")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        problems.append(f"Redis at {redis_url}: {exc}")
    return problems


@contextlib.contextmanager
def scratch_database(
    postgres_url: str, prefix: str = "soraweb_scale", *, template: str | None = None
) -> Iterator[str]:
    """A database created for one test or benchmark and dropped after it; yields its URL.

    ``template``: the URL of a database to copy (nobody may be connected to it), e.g. one
    migrated once for several runs."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        source = urlsplit(template).path.lstrip("/")
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(source))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def queue_namespace(redis_url: str, prefix: str = "soraweb-scale") -> Iterator[str]:
    """A django-q2 cluster name of its own: its queue and cache keys meet nobody else's, and
    are deleted afterwards."""
    import redis

    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"*{name}*", count=1000))
        if keys:
            client.delete(*keys)
