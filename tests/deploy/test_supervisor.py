"""`make run`'s supervisor (manage.py runstack) never leaves its children behind.

Real processes only: runstack starts gunicorn, a django-q2 cluster and the simulator on free
ports; the test then closes "its terminal" (SIGHUP) or kills it outright (SIGKILL) and checks
that every process it started is gone and every port it served is closed. A second start while
one runs must say so in one line and exit non-zero, instead of a page of bind errors.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from soraweb import supervise
from soraweb.videos.management.commands.runstack import STOP_GRACE_SECONDS
from tests.clusters import ROOT, clean_env, manage, proc_stat
from tests.conftest import free_port


def descendants(root: int) -> dict[int, int]:
    """Every living process below ``root``: pid -> start time (so a reused pid is not confused)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := proc_stat(int(entry.name))) and st[0] not in "ZX":
            children.setdefault(st[1], []).append(int(entry.name))
            starts[int(entry.name)] = st[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def still_running(procs: dict[int, int]) -> list[str]:
    """The processes of ``procs`` still running (a zombie holds nothing: it counts as gone)."""
    left = []
    for pid, start in procs.items():
        st = proc_stat(pid)
        if st and st[2] == start and st[0] not in "ZX":
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            left.append(f"{pid}: {cmdline.decode(errors='replace')[:120]}")
    return left


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def installation(tmp_path_factory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("supervised")
    env = clean_env(
        SORAWEB_DATA_DIR=str(data),
        SORAWEB_STATIC_ROOT=str(data / "static"),
        SORAWEB_PORT=str(free_port()),
        SORAWEB_SIMULATOR_PORT=str(free_port()),
        SORAWEB_WORKERS="2",
        SORAWEB_WEB_WORKERS="2",
    )
    # As `make run` does before it starts the stack.
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "-v0")
    return env


def start(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runstack"],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        # As under `make run` in a terminal, only the supervisor gets the signal we send: its
        # children sit in sessions of their own.
        start_new_session=True,
    )


def wait_until_serving(proc: subprocess.Popen, env: dict[str, str], log: Path) -> dict[int, int]:
    """Wait for the web server, the simulator and the cluster's workers; return every process."""
    web, sim = int(env["SORAWEB_PORT"]), int(env["SORAWEB_SIMULATOR_PORT"])
    deadline = time.monotonic() + 90
    seen: dict[int, int] = {}
    steady_since = time.monotonic()
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"runstack exited early:\n{log.read_text()[-3000:]}"
        try:
            web_up = requests.get(f"http://127.0.0.1:{web}/accounts/login/", timeout=2).ok
        except requests.RequestException:
            web_up = False
        procs = descendants(proc.pid)
        if procs != seen:
            seen, steady_since = procs, time.monotonic()
        # guard, simulator, qcluster (its own sentinel; 2 workers, monitor, pusher), gunicorn (+ 2):
        # all up, and no process started for two seconds (the cluster has finished starting).
        if web_up and listening(sim) and len(procs) >= 10 and time.monotonic() - steady_since > 2:
            return procs
        time.sleep(0.5)
    raise AssertionError(f"the stack did not come up:\n{log.read_text()[-3000:]}")


def wait_all_gone(procs: dict[int, int], ports: list[int], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not still_running(procs) and not any(listening(p) for p in ports):
            return time.monotonic() - started
        time.sleep(0.2)
    left = still_running(procs)
    open_ports = [p for p in ports if listening(p)]
    for pid in procs:  # do not leave them to the next test
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"after {timeout} s still running: {left}; ports still open: {open_ports}")


def test_sighup_stops_every_child_and_a_second_start_says_one_line(installation, tmp_path):
    env, log = installation, tmp_path / "stack.log"
    ports = [int(env["SORAWEB_PORT"]), int(env["SORAWEB_SIMULATOR_PORT"])]
    proc = start(env, log)
    try:
        procs = wait_until_serving(proc, env, log)

        # A second `make run` while this one runs: one line naming the running stack's pid.
        second = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "runstack"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode != 0
        lines = [line for line in (second.stdout + second.stderr).splitlines() if line.strip()]
        assert len(lines) == 1, lines
        assert "already running" in lines[0] and str(proc.pid) in lines[0], lines
        assert f"kill {proc.pid}" in lines[0], lines
        assert all(listening(p) for p in ports), "the second start disturbed the first"

        # The terminal closes.
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=40) == 0, log.read_text()[-3000:]
        took = wait_all_gone(procs, ports, timeout=STOP_GRACE_SECONDS)
        print(f"every child gone {took:.1f} s after the supervisor exited on SIGHUP")
        assert "soraweb stopped." in log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_children_die_with_a_sigkilled_supervisor_and_the_next_start_works(installation, tmp_path):
    env, log = installation, tmp_path / "stack.log"
    ports = [int(env["SORAWEB_PORT"]), int(env["SORAWEB_SIMULATOR_PORT"])]
    proc = start(env, log)
    try:
        procs = wait_until_serving(proc, env, log)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # The children stop as on Ctrl-C: a worker may finish its current step, up to the grace
        # period runstack gives it (15 s); an idle stack is gone within a few seconds.
        took = wait_all_gone(procs, ports, timeout=STOP_GRACE_SECONDS + 5)
        print(f"every child gone {took:.1f} s after the supervisor was SIGKILLed")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # Nothing left behind: no stale lock, no port in use. The next start comes up and stops.
    again = start(env, log)
    try:
        wait_until_serving(again, env, log)
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=40) == 0
    finally:
        if again.poll() is None:
            os.killpg(again.pid, signal.SIGKILL)


def test_a_port_taken_by_another_program_is_one_line(installation, tmp_path):
    env = {**installation, "SORAWEB_DATA_DIR": str(tmp_path / "other")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "runstack", "--port", str(port)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert f"Port {port}" in lines[0] and "already in use" in lines[0], lines


def test_the_guard_stops_groups_when_its_supervisor_vanishes(tmp_path):
    """The guard alone (as on a system without prctl): SIGTERM to each leader, then SIGKILL to
    the whole group of a leader that ignores SIGTERM, grandchildren included."""
    polite = subprocess.Popen(["sleep", "120"], start_new_session=True)
    stubborn = subprocess.Popen(
        ["bash", "-c", "trap '' TERM; sleep 120 & sleep 120 & wait"], start_new_session=True
    )
    guard = supervise.Guard(sys.executable, grace=1.0, cwd=ROOT, env=dict(os.environ))
    try:
        guard.watch(polite.pid, signalled=False)
        guard.watch(stubborn.pid, signalled=False)
        time.sleep(0.5)
        procs = {**descendants(stubborn.pid), stubborn.pid: proc_stat(stubborn.pid)[2]}
        assert len(procs) == 3, procs
        guard.proc.stdin.close()  # as when the supervisor is killed: end of file, no "done"
        assert polite.wait(timeout=5) == -signal.SIGTERM
        assert stubborn.wait(timeout=10) == -signal.SIGKILL
        wait_all_gone(procs, [], timeout=5)
        guard.proc.wait(timeout=5)
    finally:
        for child in (polite, stubborn):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
