"""Named leases (``WorkerLease`` rows) that a dead holder cannot keep.

A lease is short (``SORAWEB_POLL_LEASE_SECONDS``, 10 s by default) and its holder renews it from
a heartbeat thread every quarter of that, so a holder that is gone stops renewing and its lease
runs out within seconds, on any machine. On the same machine (same host name, boot and pid
namespace) a holder whose process is gone is seen at once and its lease is taken over without
waiting. Either way, the next loop does not wait for the old loop's long time budget.

Holder strings are ``<host>/<machine>:<pid>:<random>``; anything else is treated as alive (it
can only expire).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypedDict

from django.conf import settings
from django.db import connection
from django.utils import timezone

from soraweb.videos.models import WorkerLease

logger = logging.getLogger(__name__)


def lease_seconds() -> float:
    return max(2.0, float(getattr(settings, "SORAWEB_POLL_LEASE_SECONDS", 10.0)))


def heartbeat_seconds() -> float:
    return lease_seconds() / 4


def _machine() -> str:
    """What makes two pids comparable: the same kernel boot and the same pid namespace."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:10]


def new_holder() -> str:
    return f"{socket.gethostname()[:50]}/{_machine()}:{os.getpid()}:{secrets.token_hex(3)}"


def _pid_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        state = ""
    if state:
        # A zombie (killed, not yet reaped) holds no lease.
        return state[state.rfind(")") + 2 :][:1] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_is_gone(holder: str) -> bool:
    """True only when ``holder`` is provably dead: a process of this machine that is not running."""
    where, _, rest = holder.partition("/")
    machine, _, rest = rest.partition(":")
    pid, _, _token = rest.partition(":")
    if not (where and machine and pid.isdigit()) or machine != _machine():
        return False
    if int(pid) == os.getpid():
        return False  # this process is alive; another of its loops is
    return not _pid_running(int(pid))


def _take(name: str, new_holder: str, **match) -> bool:
    until = timezone.now() + timedelta(seconds=lease_seconds())
    return bool(
        WorkerLease.objects.filter(name=name, **match).update(holder=new_holder, until=until)
    )


class LeaseRow(TypedDict):
    holder: str
    until: datetime


def acquire(name: str, holder: str, *, patience: float = 0.0) -> tuple[bool, LeaseRow | None]:
    """Take the lease if it is free, expired or held by a dead process.

    Returns (taken, the previous holder's row when it was taken from a holder that did not
    release it, else None). With ``patience``, a lease held by a holder that is not renewing it
    (gone on another machine, or just killed) is waited for, up to ``patience`` seconds; a
    holder that renews meanwhile is alive, and the wait ends at once.
    """
    now = timezone.now()
    WorkerLease.objects.get_or_create(name=name, defaults={"until": now - timedelta(seconds=1)})
    deadline = time.monotonic() + patience
    first_seen = None
    while True:
        row = WorkerLease.objects.filter(name=name).values("holder", "until").first()
        if row is None:
            return False, None
        expired = row["until"] < timezone.now()
        gone = bool(row["holder"]) and holder_is_gone(row["holder"])
        # Compare-and-set on the row as read: of two takers, only one wins.
        if (expired or gone) and _take(name, holder, holder=row["holder"], until=row["until"]):
            return True, row if row["holder"] else None
        if first_seen is None:
            first_seen = row
        elif row != first_seen:
            return False, None  # renewed or taken over by someone else: a live loop is polling
        left = deadline - time.monotonic()
        if left <= 0:
            return False, None
        time.sleep(min(0.5, left))


def acquire_from(
    name: str, holder: str, *, previous: str, patience: float, every: float = 0.05
) -> tuple[bool, LeaseRow | None]:
    """A successor's side of a hand-over: wait (up to ``patience``) while ``previous`` holds the
    lease and renews it, and take it the moment it is released (or ``previous`` dies or stops
    renewing), by the ordinary rules of ``acquire``. Held by someone else: not taken."""
    deadline = time.monotonic() + patience
    while True:
        row = WorkerLease.objects.filter(name=name).values("holder", "until").first()
        still_held = (
            row is not None
            and row["holder"] == previous
            and row["until"] >= timezone.now()
            and not holder_is_gone(previous)
        )
        if not still_held or time.monotonic() >= deadline:
            return acquire(name, holder)
        time.sleep(every)


def renew(name: str, holder: str) -> bool:
    return _take(name, holder, holder=holder)


def release(name: str, holder: str) -> None:
    # An empty holder says "released": a later taker knows nobody died holding it.
    WorkerLease.objects.filter(name=name, holder=holder).update(
        holder="", until=timezone.now() - timedelta(seconds=1)
    )


class Heartbeat:
    """Renews a held lease from a thread until stopped; ``lost`` is set if it was taken away."""

    def __init__(self, name: str, holder: str) -> None:
        self.name = name
        self.holder = holder
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=lease_seconds())

    def _run(self) -> None:
        try:
            while not self._stop.wait(heartbeat_seconds()):
                try:
                    if not renew(self.name, self.holder):
                        self.lost.set()
                        return
                except Exception:
                    # The database is briefly away: keep trying; if the lease runs out meanwhile,
                    # the next renew finds it taken (or retakes it) and says so.
                    logger.warning("could not renew the %s lease", self.name, exc_info=True)
        finally:
            connection.close()
