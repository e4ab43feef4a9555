"""Provider outages: the relay stops answering (connection refused) and comes back.

Real parts: a django-q2 cluster on PostgreSQL + Redis, the simulator over HTTP, stopped and
restarted on its port with its job store. During the outage a new job's create cannot be sent
at all: it waits for the provider (for SORAWEB_PROVIDER_OUTAGE_MINUTES) instead of failing after
four quick tries, and fails with the reason only when the wait is over. Jobs already at the
provider say since when the provider is unreachable. When the relay is back, every waiting job
is checked within seconds, not after its backed-off poll (up to two minutes).
"""

from __future__ import annotations

import hashlib
import signal
import time
from pathlib import Path

import pytest

from tests.clusters import SETTLED, create_jobs, kill, run_script, start_cluster
from tests.faults.conftest import bench_row, db_rows, wait_for

OUTAGE_MINUTES = 0.3  # 18 s: a new job's create waits this long for the provider
AT_PROVIDER = 3
RECOVERY_TARGET = 30.0

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


def _jobs(db: str) -> dict[str, dict]:
    rows = db_rows(
        db,
        "SELECT p.text, j.state, j.remote_id, j.error_message, j.video, j.video_sha256 "
        "FROM videos_videojob j JOIN videos_prompt p ON p.id = j.prompt_id",
    )
    keys = ("state", "remote_id", "error", "video", "sha256")
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}


@pytest.mark.scale
def test_a_relay_outage_is_waited_out_and_its_end_noticed_at_once(installation, relay, tmp_path):
    relay.job_seconds = 20.0
    env = {
        **installation,
        "SORAWEB_SIMULATOR_URL": relay.base_url,
        "SORAWEB_WORKERS": "3",
        "SORAWEB_PROVIDER_OUTAGE_MINUTES": str(OUTAGE_MINUTES),
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",
    }
    db = installation["DATABASE_URL"]
    running = [f"outage at the provider {i}" for i in range(AT_PROVIDER)]
    log = (tmp_path / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    try:
        create_jobs(env, running, user="outage")

        def all_polled():
            jobs = _jobs(db)
            remote = [jobs[p]["remote_id"] for p in running]
            return all(remote) and all(relay.poll_times[r] for r in remote)

        wait_for("every job at the provider and polled", all_polled, timeout=90)

        relay.stop()  # the relay goes away: connections are refused from now on
        down = time.monotonic()
        create_jobs(env, ["outage early create"], user="outage-early")
        wait_for(
            "the provider marked unreachable",
            lambda: db_rows(
                db,
                "SELECT unreachable_since FROM videos_provider WHERE unreachable_since IS NOT NULL",
            ),
            timeout=30,
        )
        time.sleep(max(0.0, down + 20 - time.monotonic()))
        create_jobs(env, ["outage late create"], user="outage-late")
        time.sleep(max(0.0, down + 34 - time.monotonic()))

        jobs = _jobs(db)
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
        took = max(min(t for t in relay.poll_times[r] if t >= back) for r in remote)
        bench_row("every job checked after a relay outage", took - back, RECOVERY_TARGET)
        assert took - back <= RECOVERY_TARGET, f"the last job was checked {took - back:.0f} s late"

        wait_for(
            "every job settled",
            lambda: all(j["state"] in SETTLED for j in _jobs(db).values()),
            timeout=120,
        )
        settled = time.monotonic() - back
        bench_row("every job settled after a relay outage", settled, 60)
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()

    jobs = _jobs(db)
    assert jobs["outage late create"]["state"] == "succeeded", jobs["outage late create"]
    for prompt in running:
        assert jobs[prompt]["state"] == "succeeded", (prompt, jobs[prompt])
    # One create each (none for the job that failed without reaching the provider), and the
    # saved bytes are the served ones.
    assert relay.creates_for_prompt("outage early create") == 0
    media = Path(installation["SORAWEB_DATA_DIR"]) / "media"
    for prompt in [*running, "outage late create"]:
        assert relay.creates_for_prompt(prompt) == 1, prompt
        data = (media / jobs[prompt]["video"]).read_bytes()
        assert data == relay.video_bytes(jobs[prompt]["remote_id"]), prompt
        assert hashlib.sha256(data).hexdigest() == jobs[prompt]["sha256"]
    assert db_rows(db, "SELECT unreachable_since FROM videos_provider") == [(None,)] * len(
        db_rows(db, "SELECT 1 FROM videos_provider")
    )


@pytest.mark.scale
def test_a_relay_that_comes_back_without_its_store(installation, relay, tmp_path):
    """The relay returns having lost every job: each job at the provider fails with the relay's
    own reason within seconds of its return (no endless polling), and new jobs work again."""
    relay.job_seconds = 120.0
    env = {
        **installation,
        "SORAWEB_SIMULATOR_URL": relay.base_url,
        "SORAWEB_WORKERS": "2",
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",
    }
    db = installation["DATABASE_URL"]
    lost = [f"outage lost store {i}" for i in range(2)]
    log = (tmp_path / "cluster.log").open("ab")
    cluster = start_cluster(env, log)
    try:
        create_jobs(env, lost, user="lost")

        def polled():
            jobs = _jobs(db)
            return all(
                jobs[p]["remote_id"] and relay.poll_times[jobs[p]["remote_id"]] for p in lost
            )

        wait_for("every job at the provider and polled", polled, timeout=90)
        created = {p: relay.creates_for_prompt(p) for p in lost}
        relay.stop()
        wait_for(
            "the provider marked unreachable",
            lambda: db_rows(
                db, "SELECT 1 FROM videos_provider WHERE unreachable_since IS NOT NULL"
            ),
            timeout=30,
        )
        relay.restart(keep_store=False)
        back = time.monotonic()
        wait_for(
            "the lost jobs settled",
            lambda: all(_jobs(db)[p]["state"] in SETTLED for p in lost),
            timeout=90,
        )
        bench_row("jobs lost by the relay settled after its return", time.monotonic() - back, 30)
        assert time.monotonic() - back <= 30
        relay.job_seconds = 3.0
        create_jobs(env, ["outage after the lost store"], user="lost-after")
        wait_for(
            "a new job after the relay's return",
            lambda: _jobs(db)["outage after the lost store"]["state"] in SETTLED,
            timeout=90,
        )
    finally:
        kill(cluster, signal.SIGKILL)
        log.close()
    jobs = _jobs(db)
    assert created == dict.fromkeys(lost, 1), created
    for prompt in lost:
        assert jobs[prompt]["state"] == "failed", (prompt, jobs[prompt])
        assert "not found" in jobs[prompt]["error"].lower(), jobs[prompt]
    assert jobs["outage after the lost store"]["state"] == "succeeded"
