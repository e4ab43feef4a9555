"""The outages, played out with real parts: each function breaks one part, checks that every job
ends right (one create each, the bytes the relay served), and returns the recovery times.

One body for both users: the fault tests (tests/faults/test_*.py) assert the times against their
targets, `make bench` (tests/bench/faults.py) prints them as rows. A wrong outcome raises
AssertionError in both.
"""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

import psycopg

from tests.clusters import SETTLED, clean_env, create_jobs, kill, manage, run_script, start_cluster
from tests.faults.parts import (
    Measured,
    OwnPostgres,
    OwnRedis,
    RecordingSimulator,
    db_rows,
    wait_for,
)

# --- A worker SIGKILLed while holding the poll lease -----------------------------------------------

LEASE_JOBS = 4
LEASE_TAKEOVER_TARGET = 10.0


def lease_takeover(env: dict, relay: RecordingSimulator, work_dir: Path) -> list[Measured]:
    """Two clusters one after the other: the first polls (its loop holds the lease) and is
    SIGKILLed with all its processes; a new one starts at once and must take the lease over."""
    relay.job_seconds = 300.0  # the jobs stay at the provider for the whole run
    env = {
        **env,
        "SORAWEB_SIMULATOR_URL": relay.base_url,
        "SORAWEB_WORKERS": "2",
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",  # the log shows when each cluster was ready
    }
    db = env["DATABASE_URL"]
    create_jobs(env, [f"lease takeover {i}" for i in range(LEASE_JOBS)], user="lease")
    log = (work_dir / "clusters.log").open("ab")
    first = second = None
    try:
        first = start_cluster(env, log)

        def polled_by_first():
            remote = db_rows(db, "SELECT remote_id FROM videos_videojob WHERE remote_id <> ''")
            return len(remote) == LEASE_JOBS and all(
                len(relay.poll_times[r]) >= 2 for (r,) in remote
            )

        wait_for("the first cluster polling every job", polled_by_first, timeout=90)
        holder = db_rows(db, "SELECT holder, until > now() FROM videos_workerlease")
        assert holder and holder[0][0] and holder[0][1], f"no live poll lease: {holder}"

        kill(first, signal.SIGKILL)  # every process of the cluster, the lease holder included
        restarted = time.monotonic()
        second = start_cluster(env, log)
        remote_ids = [r for (r,) in db_rows(db, "SELECT remote_id FROM videos_videojob")]

        first_query = wait_for(
            "a status query from the new cluster",
            lambda: relay.polls_after(restarted),
            timeout=90,
        )[0]

        # Every job, including any the dead loop had claimed for its pass, is checked again.
        def every_job_polled():
            return all(any(t >= restarted for t in relay.poll_times[r]) for r in remote_ids)

        wait_for("every job polled after the restart", every_job_polled, timeout=90)
        last = max(min(t for t in relay.poll_times[r] if t >= restarted) for r in remote_ids)
        holder_now = db_rows(db, "SELECT holder FROM videos_workerlease")[0][0]
        assert holder_now != holder[0][0], "the lease was never taken over"
    finally:
        for proc in (first, second):
            if proc is not None:
                kill(proc, signal.SIGKILL)
        log.close()
    return [
        Measured(
            "first status query after a lease holder was SIGKILLed",
            first_query - restarted,
            LEASE_TAKEOVER_TARGET,
        ),
        Measured("every job checked after the lease holder was SIGKILLed", last - restarted, 15),
    ]


# --- The relay stopped and restarted -----------------------------------------------------------

OUTAGE_MINUTES = 0.3  # 18 s: a new job's create waits this long for the provider
AT_PROVIDER = 3
RELAY_RECOVERY_TARGET = 30.0

CARDS = r"""
import json, sys
import django
django.setup()
from django.template.loader import render_to_string
from soraweb.videos.models import VideoJob
out = {}
for job in VideoJob.objects.select_related("owner", "prompt", "video_model", "provider"):
    html = render_to_string("videos/_job_card.html", {"job": job, "user": job.owner})
    out[job.prompt.text] = " ".join(html.split())
print(json.dumps(out))
"""


def relay_jobs(db: str) -> dict[str, dict]:
    rows = db_rows(
        db,
        "SELECT p.text, j.state, j.remote_id, j.error_message, j.video, j.video_sha256 "
        "FROM videos_videojob j JOIN videos_prompt p ON p.id = j.prompt_id",
    )
    keys = ("state", "remote_id", "error", "video", "sha256")
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}


def _unreachable(db: str) -> list[tuple]:
    return db_rows(db, "SELECT 1 FROM videos_provider WHERE unreachable_since IS NOT NULL")


def relay_outage(env: dict, relay: RecordingSimulator, work_dir: Path) -> list[Measured]:
    """The relay stops answering (connection refused) for 34 s and comes back with its store.

    During the outage a new job's create waits for the provider instead of failing after four
    quick tries, and fails with the reason only when the wait is over; jobs at the provider say
    since when it is unreachable. When it is back, every waiting job is checked within seconds.
    """
    relay.job_seconds = 20.0
    env = {
        **env,
        "SORAWEB_SIMULATOR_URL": relay.base_url,
        "SORAWEB_WORKERS": "3",
        "SORAWEB_PROVIDER_OUTAGE_MINUTES": str(OUTAGE_MINUTES),
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",
    }
    db = env["DATABASE_URL"]
    running = [f"outage at the provider {i}" for i in range(AT_PROVIDER)]
    log = (work_dir / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    try:
        create_jobs(env, running, user="outage")

        def all_polled():
            jobs = relay_jobs(db)
            remote = [jobs[p]["remote_id"] for p in running]
            return all(remote) and all(relay.poll_times[r] for r in remote)

        wait_for("every job at the provider and polled", all_polled, timeout=90)

        relay.stop()  # the relay goes away: connections are refused from now on
        down = time.monotonic()
        create_jobs(env, ["outage early create"], user="outage-early")
        wait_for("the provider marked unreachable", lambda: _unreachable(db), timeout=30)
        time.sleep(max(0.0, down + 20 - time.monotonic()))
        create_jobs(env, ["outage late create"], user="outage-late")
        time.sleep(max(0.0, down + 34 - time.monotonic()))

        jobs = relay_jobs(db)
        cards = run_script(env, CARDS)
        # The early create waited its 18 s for the provider, then failed with the reason.
        early = jobs["outage early create"]
        assert early["state"] == "failed", early
        assert f"could not be reached for {OUTAGE_MINUTES:g} minutes" in early["error"], early
        assert "nothing was sent" in early["error"], early
        # The late one is still waiting (four quick tries used to fail it within ~15 s), and
        # its card says what it waits for.
        late = jobs["outage late create"]
        assert late["state"] == "pending", late
        assert "Waiting for the provider (unreachable since" in cards["outage late create"]
        # Jobs at the provider still wait too, and say since when it is unreachable.
        for prompt in running:
            assert jobs[prompt]["state"] in ("queued", "running"), (prompt, jobs[prompt])
            assert "Provider unreachable since" in cards[prompt], cards[prompt]
        waiting = db_rows(
            db,
            "SELECT count(*) FROM videos_jobevent e JOIN videos_videojob j ON j.id = e.job_id "
            "JOIN videos_prompt p ON p.id = j.prompt_id "
            "WHERE p.text = 'outage late create' AND e.message LIKE 'Waiting for the provider%%'",
        )[0][0]
        assert waiting >= 2, f"the late create was tried {waiting} times while the relay was down"

        relay.restart()  # the relay comes back with its store
        back = time.monotonic()
        remote = [jobs[p]["remote_id"] for p in running]

        def every_job_checked():
            return all(any(t >= back for t in relay.poll_times[r]) for r in remote)

        wait_for("every job checked after the relay came back", every_job_checked, timeout=150)
        checked = max(min(t for t in relay.poll_times[r] if t >= back) for r in remote) - back
        wait_for(
            "every job settled",
            lambda: all(j["state"] in SETTLED for j in relay_jobs(db).values()),
            timeout=120,
        )
        settled = time.monotonic() - back
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()

    jobs = relay_jobs(db)
    assert jobs["outage late create"]["state"] == "succeeded", jobs["outage late create"]
    for prompt in running:
        assert jobs[prompt]["state"] == "succeeded", (prompt, jobs[prompt])
    # One create each (none for the job that failed without reaching the provider), and the
    # saved bytes are the served ones.
    assert relay.creates_for_prompt("outage early create") == 0
    media = Path(env["SORAWEB_DATA_DIR"]) / "media"
    for prompt in [*running, "outage late create"]:
        assert relay.creates_for_prompt(prompt) == 1, prompt
        data = (media / jobs[prompt]["video"]).read_bytes()
        assert data == relay.video_bytes(jobs[prompt]["remote_id"]), prompt
        assert hashlib.sha256(data).hexdigest() == jobs[prompt]["sha256"]
    assert not _unreachable(db), "a provider is still marked unreachable"
    return [
        Measured("every job checked after a relay outage", checked, RELAY_RECOVERY_TARGET),
        Measured("every job settled after a relay outage", settled, 60, required=False),
    ]


def relay_lost_store(env: dict, relay: RecordingSimulator, work_dir: Path) -> list[Measured]:
    """The relay returns having lost every job: each job at the provider fails with the relay's
    own reason within seconds of its return (no endless polling), and new jobs work again."""
    relay.job_seconds = 120.0
    env = {
        **env,
        "SORAWEB_SIMULATOR_URL": relay.base_url,
        "SORAWEB_WORKERS": "2",
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",
    }
    db = env["DATABASE_URL"]
    lost = [f"outage lost store {i}" for i in range(2)]
    log = (work_dir / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    try:
        create_jobs(env, lost, user="lost")

        def polled():
            jobs = relay_jobs(db)
            return all(
                jobs[p]["remote_id"] and relay.poll_times[jobs[p]["remote_id"]] for p in lost
            )

        wait_for("every job at the provider and polled", polled, timeout=90)
        created = {p: relay.creates_for_prompt(p) for p in lost}
        relay.stop()
        wait_for("the provider marked unreachable", lambda: _unreachable(db), timeout=30)
        relay.restart(keep_store=False)
        back = time.monotonic()
        wait_for(
            "the lost jobs settled",
            lambda: all(relay_jobs(db)[p]["state"] in SETTLED for p in lost),
            timeout=90,
        )
        settled = time.monotonic() - back
        relay.job_seconds = 3.0
        create_jobs(env, ["outage after the lost store"], user="lost-after")
        wait_for(
            "a new job after the relay's return",
            lambda: relay_jobs(db)["outage after the lost store"]["state"] in SETTLED,
            timeout=90,
        )
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()
    jobs = relay_jobs(db)
    assert created == dict.fromkeys(lost, 1), created
    for prompt in lost:
        assert jobs[prompt]["state"] == "failed", (prompt, jobs[prompt])
        assert "not found" in jobs[prompt]["error"].lower(), jobs[prompt]
    assert jobs["outage after the lost store"]["state"] == "succeeded"
    return [Measured("jobs lost by the relay settled after its return", settled, 30)]


# --- Redis killed mid-burst and restarted empty ------------------------------------------------

BURST_JOBS = 12
REDIS_SETTLE_TARGET = 90.0


def _burst_jobs(db: str) -> list[tuple]:
    return db_rows(
        db,
        "SELECT p.text, j.state, j.remote_id, j.video, j.error_message FROM videos_videojob j "
        "JOIN videos_prompt p ON p.id = j.prompt_id",
    )


def broker_restart(
    env: dict, redis_server: OwnRedis, relay: RecordingSimulator, work_dir: Path
) -> list[Measured]:
    """Redis is SIGKILLed while jobs are being submitted, polled and saved, and comes back empty
    on the same port: the sweep and the schedule must hand every job on again."""
    relay.job_seconds = 4.0
    env = {
        **env,
        "REDIS_URL": redis_server.url,
        "SORAWEB_SIMULATOR_URL": relay.base_url,
        "SORAWEB_WORKERS": "3",
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",
    }
    db = env["DATABASE_URL"]
    prompts = [f"broker restart {i:02d}" for i in range(BURST_JOBS)]
    log = (work_dir / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    try:
        create_jobs(env, prompts, user="broker")
        # Mid-burst: some jobs at the provider or being saved, some not yet started.
        wait_for(
            "the burst under way",
            lambda: sum(1 for row in _burst_jobs(db) if row[2]) >= 3,
            timeout=90,
        )
        redis_server.kill()
        busy = [row[1] for row in _burst_jobs(db) if row[1] not in SETTLED]
        assert busy, "every job had settled before Redis was killed: the run proved nothing"
        time.sleep(5)
        redis_server.start()  # empty: every queued task is gone
        back = time.monotonic()
        wait_for(
            "every job settled after Redis came back",
            lambda: all(row[1] in SETTLED for row in _burst_jobs(db)),
            timeout=240,
            every=1.0,
        )
        took = time.monotonic() - back
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()

    rows = _burst_jobs(db)
    assert len(rows) == BURST_JOBS
    media = Path(env["SORAWEB_DATA_DIR"]) / "media"
    for text, state, remote_id, video, error in rows:
        assert relay.creates_for_prompt(text) == 1, (
            f"{text!r}: {relay.creates_for_prompt(text)} creates"
        )
        assert state == "succeeded", (text, state, error)
        assert (media / video).read_bytes() == relay.video_bytes(remote_id), text
    return [Measured("burst settled after Redis restarted empty", took, REDIS_SETTLE_TARGET)]


# --- PostgreSQL stopped while creates are slow ---------------------------------------------------

BLIP_JOBS = 6
BLIP_SECONDS = 15


def _blip_jobs(url: str) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=3) as conn:
        return conn.execute(
            "SELECT p.text, j.state, j.remote_id, j.error_message FROM videos_videojob j "
            "JOIN videos_prompt p ON p.id = j.prompt_id"
        ).fetchall()


def database_blip(
    postgres: OwnPostgres,
    redis_url: str,
    cluster_name: str,
    relay: RecordingSimulator,
    work_dir: Path,
) -> list[Measured]:
    """The database is stopped while creates (3 s each, as real relays answer) are in flight, so
    the provider accepts jobs whose answer cannot be written; it comes back after 15 s. Every job
    must end saved, created once, not parked in "Needs attention"."""
    import uuid

    relay.job_seconds = 4.0
    relay.latency = 3.0  # every answer takes 3 s, creates included
    env = clean_env(
        DATABASE_URL=postgres.url,
        REDIS_URL=redis_url,
        SORAWEB_CLUSTER_NAME=cluster_name,
        SORAWEB_DATA_DIR=str(work_dir / "data"),
        SORAWEB_SECRET_KEY="faults-test-secret-key-" + uuid.uuid4().hex,
        SORAWEB_SIMULATOR_URL=relay.base_url,
        SORAWEB_WORKERS=str(BLIP_JOBS),
        SORAWEB_QUEUE_LOG_LEVEL="INFO",
    )
    manage(env, "migrate", "--noinput")
    prompts = [f"database blip {i}" for i in range(BLIP_JOBS)]
    log_path = work_dir / "cluster.log"
    log = log_path.open("ab")
    cluster = start_cluster(env, log)
    try:
        wait_for("the cluster running", lambda: b"running" in log_path.read_bytes(), timeout=60)
        create_jobs(env, prompts, user="blip")
        wait_for(
            "creates in flight",
            lambda: sum(1 for row in _blip_jobs(postgres.url) if row[1] == "submitting") >= 2,
            timeout=60,
            every=0.1,
        )
        postgres.stop()
        time.sleep(BLIP_SECONDS)
        postgres.start()
        back = time.monotonic()

        def settled():
            try:
                return all(row[1] in SETTLED for row in _blip_jobs(postgres.url))
            except psycopg.Error:
                return False

        wait_for("every job settled after the database came back", settled, timeout=240, every=1)
        took = time.monotonic() - back
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()

    rows = _blip_jobs(postgres.url)
    assert len(rows) == BLIP_JOBS
    for text, state, remote_id, error in rows:
        assert relay.creates_for_prompt(text) == 1, (
            f"{text!r} created {relay.creates_for_prompt(text)}x"
        )
        assert state == "succeeded", (text, state, error)
        assert remote_id
    return [
        Measured(
            f"jobs settled after a {BLIP_SECONDS} s database outage", took, 120, required=False
        )
    ]
