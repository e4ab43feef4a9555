"""soraweb's ``manage.py qcluster`` (soraweb/cluster): django-q2's cluster with the sentinel in
the command's own process. Real processes on a throwaway installation: the process tree, the
ordered stop on SIGTERM and SIGINT (a running task finishes and its result is saved), a dead
worker replaced by the guard, and --run-once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.clusters import clean_env, kill, manage, proc_stat, run_script, start_cluster

WORKERS = 2

ENQUEUE = """
import json, sys
import django
django.setup()
from django_q.tasks import async_task
spec = json.loads(sys.stdin.read())
print(json.dumps(async_task("os.system", spec["command"], task_name=spec["name"])))
"""

RESULT = """
import json, sys
import django
django.setup()
from django_q.models import Task
spec = json.loads(sys.stdin.read())
task = Task.objects.filter(name=spec["name"]).first()
print(json.dumps(None if task is None else {"success": task.success, "result": task.result}))
"""


def _children(pid: int) -> list[int]:
    """The living (not zombie) processes whose parent is ``pid``."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return sorted(p for p in pids if (st := proc_stat(p)) and st[1] == pid and st[0] not in "ZX")


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def home(tmp_path):
    env = clean_env(
        SORAWEB_DATA_DIR=str(tmp_path / "home"),
        SORAWEB_WORKERS=str(WORKERS),
        SORAWEB_LOG_LEVEL="INFO",
    )
    manage(env, "migrate", "--noinput")
    return env, tmp_path


def _started(env, tmp_path):
    log = (tmp_path / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    # workers, monitor and pusher are the main process's own children: no sentinel between.
    children = _wait_for(
        lambda: (c := _children(cluster.pid)) and len(c) == WORKERS + 2 and c,
        60,
        "the cluster's processes",
    )
    return cluster, children


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_cluster_in_order_and_the_running_task_finishes(home, signum):
    env, tmp_path = home
    cluster, children = _started(env, tmp_path)
    try:
        assert all(_children(child) == [] for child in children), "a sentinel level is left"
        began = tmp_path / "began"
        name = f"graceful-{signum}"
        run_script(env, ENQUEUE, {"name": name, "command": f"touch {began} && sleep 3"})
        _wait_for(began.exists, 30, "the task to start")
        cluster.send_signal(signum)  # the main process only, as `docker stop` does
        assert cluster.wait(timeout=60) == 0
        assert all(not Path(f"/proc/{pid}").exists() for pid in children), "a child outlived it"
        # The worker finished its task before stopping, and the monitor saved the result.
        assert run_script(env, RESULT, {"name": name}) == {"success": True, "result": 0}
    finally:
        kill(cluster, signal.SIGKILL)
    log = (tmp_path / "cluster.log").read_text()
    assert "starting." in log and "has stopped." in log, log


def test_the_guard_replaces_a_killed_worker(home):
    env, tmp_path = home
    cluster, children = _started(env, tmp_path)
    try:
        os.kill(children[0], signal.SIGKILL)

        def replaced_in_full() -> list[int] | None:
            now = _children(cluster.pid)
            return now if children[0] not in now and len(now) == WORKERS + 2 else None

        replaced = _wait_for(replaced_in_full, 30, "a replacement worker")
        assert len(replaced) == WORKERS + 2, replaced
        assert len(set(replaced) - set(children)) == 1, (children, replaced)
        # No graceful stop asserted here: a worker SIGKILLed inside its task queue's get() dies
        # holding that queue's lock (multiprocessing), and django-q2's ordered stop then waits
        # on it, with its own sentinel as with this one.
    finally:
        kill(cluster, signal.SIGKILL)


def test_run_once_starts_guards_once_and_stops(home):
    env, _tmp_path = home
    proc = manage(env, "qcluster", "--run-once", "--skip-checks")  # raises unless it exits 0
    assert "has stopped." in proc.stderr, proc.stderr
