"""Process supervision for ``manage.py runstack``: children that never outlive their supervisor.

Plain Python, no Django. Three guards, because each alone has a hole:

- ``PR_SET_PDEATHSIG`` (Linux): the kernel sends each child SIGTERM the moment the supervisor
  dies, however it dies (SIGKILL included). Each child stops its own workers on SIGTERM
  (gunicorn's master its web workers, django-q2's sentinel its worker processes).
- A guard process watching a pipe: when the supervisor's end closes without a "done" line, it
  sends SIGTERM to each child (unless the kernel did already), then SIGKILL to each child's
  whole process group (grandchildren too) after a grace period. This covers systems without
  prctl and children stuck in a long step.
- A lock file in the data directory holding the supervisor's pid, so a second start finds the
  first and says so instead of failing on its ports. ``flock`` locks vanish with the process
  that held them, so a killed supervisor never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; runstack is for POSIX systems
    fcntl = None  # type: ignore[assignment]  # the module, or None where there is none


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


# Resolved in the parent: loading a library between fork and exec is not safe.
_PRCTL = _load_prctl()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child receive ``sig`` when this process dies (Linux only)."""
    if _PRCTL is None:
        return None
    parent = os.getpid()
    prctl = _PRCTL

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig))
        # The parent may have died between fork and prctl; then no signal would ever come.
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


# --- The guard process ---------------------------------------------------------------------------

GUARD_CODE = "from soraweb.supervise import guard_main; guard_main()"


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies hold no ports: not counted)."""
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ")".
            fields = stat[stat.rfind(")") + 2 :].split()
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_groups(pgids: list[int], *, grace: float, terminate: bool = True) -> None:
    """SIGTERM each group's leader, then SIGKILL whatever of the group still runs after ``grace``.

    The leader only: gunicorn's master and django-q2's cluster stop their own workers gracefully
    (a django-q2 worker killed by a SIGTERM of its own dies in the middle of its task).
    """
    for pgid in pgids if terminate else ():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_group_alive(p) for p in pgids):
        time.sleep(0.2)
    for pgid in pgids:
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


def guard_main() -> None:
    """Read "watch <pgid>" lines until "done" (a clean stop) or end of file (the supervisor is
    gone), and in the second case stop every watched group. A "signalled" line says the kernel
    sends the children SIGTERM itself (a second one would only make them stop twice)."""
    # The terminal closing or a Ctrl-C is the supervisor's business; this process must live on
    # to clean up after it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    grace = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    pgids: list[int] = []
    terminate = True
    for line in sys.stdin:
        word, _, arg = line.strip().partition(" ")
        if word == "done":
            return
        if word == "signalled":
            terminate = False
        if word == "watch" and arg.isdigit():
            pgids.append(int(arg))
    stop_groups(pgids, grace=grace, terminate=terminate)


class Guard:
    """The supervisor's side of the guard process."""

    def __init__(self, python: str, *, grace: float, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [python, "-c", GUARD_CODE, str(grace)],
            stdin=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,  # out of reach of the terminal's hangup and Ctrl-C
            text=True,
        )
        assert self.proc.stdin is not None  # stdin=PIPE
        self.stdin = self.proc.stdin

    def watch(self, pgid: int, *, signalled: bool) -> None:
        """Look after the group ``pgid``; ``signalled``: the kernel sends its leader SIGTERM."""
        if signalled:
            self._send("signalled")
        self._send(f"watch {pgid}")

    def done(self) -> None:
        """A clean stop: every child has been stopped and reaped; the guard has nothing to do."""
        self._send("done")
        with contextlib.suppress(OSError):
            self.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def _send(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stdin.write(line + "\n")
            self.stdin.flush()


# --- One stack per data directory and port -------------------------------------------------------


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None) -> None:
        super().__init__(pid)
        self.pid = pid


class PidLock:
    """An exclusive lock on ``path`` holding this process's pid; released when it exits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                text = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                raise AlreadyRunning(int(text) if text.isdigit() else None) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (tested by binding as a server would)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As gunicorn binds: with SO_REUSEADDR, only a live listener makes the bind fail, not a
        # connection lingering in TIME_WAIT from a stack that just stopped.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
