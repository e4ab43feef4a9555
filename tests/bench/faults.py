"""Recovery after outages (issue 17): the fault tests' own scenarios, timed.

Each row is a recovery time measured by tests/faults/scenarios.py on the parts the fault tests
use: PostgreSQL and Redis on 127.0.0.1 (or SORAWEB_SCALE_POSTGRES_URL / SORAWEB_SCALE_REDIS_URL),
django-q2 clusters, the simulator over HTTP, plus a Redis server and a PostgreSQL cluster of
their own to kill. A row that cannot run says "not run: <reason>"; a scenario whose jobs end
wrong says "failed: <what>". About two and a half minutes on an idle two-core machine.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.clusters import queue_namespace, scratch_database, services_problems
from tests.faults import parts, scenarios
from tests.faults.parts import Measured
from tests.scale.conftest import POSTGRES_URL, REDIS_URL

Row = tuple[str, str, str, str]


@contextlib.contextmanager
def _installation(work: Path, template: str) -> Iterator[dict]:
    """A fresh installation: a copy of the database migrated once for this run (a migration
    takes seconds; a copy well under one)."""
    with (
        scratch_database(POSTGRES_URL, prefix="soraweb_bench", template=template) as url,
        queue_namespace(REDIS_URL, prefix="soraweb-bench") as name,
    ):
        yield parts.installation(url, REDIS_URL, name, work / "data", migrate=False)


def _lease(work: Path, template: str) -> list[Measured]:
    with _installation(work, template) as env, parts.recording_relay(work / "relay") as relay:
        return scenarios.lease_takeover(env, relay, work)


def _relay(work: Path, template: str) -> list[Measured]:
    with _installation(work, template) as env, parts.recording_relay(work / "relay") as relay:
        return scenarios.relay_outage(env, relay, work)


def _redis(work: Path, template: str) -> list[Measured]:
    with (
        _installation(work, template) as env,
        parts.own_redis(work) as server,
        parts.recording_relay(work / "relay") as relay,
    ):
        return scenarios.broker_restart(env, server, relay, work)


def _database(work: Path, template: str) -> list[Measured]:
    # A PostgreSQL cluster of its own (it is stopped on purpose), migrated by the scenario.
    with (
        parts.own_postgres() as postgres,
        queue_namespace(REDIS_URL, prefix="soraweb-bench") as name,
        parts.recording_relay(work / "relay") as relay,
    ):
        return scenarios.database_blip(postgres, REDIS_URL, name, relay, work)


# What each scenario is, what it needs besides PostgreSQL and Redis, and the run.
SCENARIOS: list[tuple[str, Callable[[], str], Callable[[Path, str], list[Measured]]]] = [
    ("a lease holder SIGKILLed", lambda: "", _lease),
    ("the relay stopped for 34 s and restarted", lambda: "", _relay),
    ("Redis killed mid-burst and restarted empty", parts.own_redis_missing, _redis),
    (
        f"PostgreSQL stopped for {scenarios.BLIP_SECONDS} s during slow creates",
        parts.own_postgres_missing,
        _database,
    ),
]


def run(data_dir: str) -> list[Row]:
    rows: list[Row] = []
    # One short line per missing service ("PostgreSQL at postgres://... does not answer").
    shared = "; ".join(
        p.split(": ", 1)[0] + " does not answer" for p in services_problems(POSTGRES_URL, REDIS_URL)
    )
    with contextlib.ExitStack() as stack:
        template = ""
        if not shared:
            template = stack.enter_context(scratch_database(POSTGRES_URL, prefix="soraweb_tpl"))
            parts.installation(template, REDIS_URL, "unused", Path(data_dir) / "template")
        for title, missing, play in SCENARIOS:
            reason = shared or missing()
            if reason:
                rows.append((f"faults: {title}", f"not run: {reason}", "-", "not run"))
            else:
                work = Path(tempfile.mkdtemp(prefix="faults-", dir=data_dir))
                rows += _play(title, play, work, template)
    return rows


def _play(
    title: str, play: Callable[[Path, str], list[Measured]], work: Path, template: str
) -> list[Row]:
    started = time.monotonic()
    try:
        measured = play(work, template)
    except Exception as exc:  # a wrong outcome or a part that would not start: say which
        what = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        print(f"faults: {title} failed; its logs are in {work}", file=sys.stderr)
        return [(f"faults: {title}", f"failed: {what}", "-", "NO")]
    print(f"faults: {title}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return [
        (f"faults: {m.name}", f"{m.seconds:.1f} s", f"<= {m.target:g} s", "yes" if m.met else "NO")
        for m in measured
    ]
