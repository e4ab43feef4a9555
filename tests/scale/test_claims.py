"""Every claim in the pipeline, raced by many threads against PostgreSQL (READ COMMITTED).

Each thread has its own database connection and all of them start together at a barrier, so
each claim (submit, the poll batch, the poll-loop lease, archive) meets real concurrent
transactions, not the single-writer queue SQLite gives.
"""

from __future__ import annotations

import collections

import pytest

from soraweb.simulator.server import Simulator
from tests.clusters import create_jobs, run_script

THREADS = 8

RACE_HELPER = r"""
import json, sys, threading
import django
django.setup()
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from soraweb.videos.pipeline import archive, loop, poll, submit
from soraweb.videos.models import JobEvent, JobState, VideoJob, WorkerLease

spec = json.loads(sys.stdin.read())


def race(fn):
    barrier = threading.Barrier(spec["threads"])
    results = [None] * spec["threads"]
    errors = []

    def run(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(spec["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors
"""

FIRST_RACES = (
    RACE_HELPER
    + r"""
out = {}

# Submit: every thread submits every job.
def submit_all(i):
    for pk in spec["submit_ids"]:
        submit.job_submit(job_id=pk)
out["submit_errors"] = race(submit_all)[1]
submitted = VideoJob.objects.filter(pk__in=spec["submit_ids"])
out["submitted"] = dict(submitted.values_list("pk", "state"))
out["remote_ids"] = list(submitted.values_list("remote_id", flat=True))

# Poll claims: many jobs due at once; threads claim small batches until nothing is due. The
# jobs just submitted are not part of this race: on a slow machine their first poll would fall
# due while it runs, so it is moved out of the way (the archive race below polls them by id).
submitted.update(next_poll_at=timezone.now() + timedelta(hours=1))
VideoJob.objects.filter(pk__in=spec["poll_ids"]).update(
    state=JobState.RUNNING, remote_id="remote", next_poll_at=timezone.now() - timedelta(seconds=1)
)
def claim_all(i):
    claimed = []
    while True:
        due = poll.jobs_claim_due_polls(limit=spec["batch"])
        if not due:
            return claimed
        claimed.extend(job.pk for job in due)
out["claims"], out["claim_errors"] = race(claim_all)

# The poll-loop lease: first with no lease row at all, then again and again once it expired.
WorkerLease.objects.all().delete()
rounds = []
for n in range(spec["lease_rounds"]):
    winners, errors = race(lambda i: loop._lease_acquire(f"holder-{n}-{i}"))
    rounds.append({"winners": sum(bool(w) for w in winners), "errors": errors})
    WorkerLease.objects.update(until=timezone.now() - timedelta(seconds=1))
out["lease_rounds"] = rounds
print(json.dumps(out))
"""
)

ARCHIVE_RACE = (
    RACE_HELPER
    + r"""
for pk in spec["ids"]:
    poll.job_poll_now(job_id=pk)  # the provider has finished: the job moves to archiving
before = dict(VideoJob.objects.filter(pk__in=spec["ids"]).values_list("pk", "state"))

def archive_all(i):
    for pk in spec["ids"]:
        archive.job_archive(job_id=pk)
_, errors = race(archive_all)
jobs = {
    str(job.pk): {"state": job.state, "video": job.video.name, "poster": job.poster.name,
                  "remote_id": job.remote_id, "attempts": job.archive_attempts}
    for job in VideoJob.objects.filter(pk__in=spec["ids"])
}
saved = {}
for event in JobEvent.objects.filter(job_id__in=spec["ids"], to_state=JobState.SUCCEEDED):
    saved[str(event.job_id)] = saved.get(str(event.job_id), 0) + 1
print(json.dumps({"before": before, "errors": errors, "jobs": jobs, "saved": saved}))
"""
)


@pytest.mark.scale
def test_concurrent_claims_on_postgresql(installation, s3):
    with Simulator(job_seconds=30.0, prerender=False) as sim:
        env = {**installation, "SORAWEB_SIMULATOR_URL": sim.base_url}
        submit_prompts = [f"claims race submit {i:02d}" for i in range(12)]
        submit_ids = create_jobs(env, submit_prompts, user="racer")
        poll_ids = create_jobs(
            env, [f"claims race poll {i:03d}" for i in range(300)], user="poller"
        )

        out = run_script(
            env,
            FIRST_RACES,
            {
                "threads": THREADS,
                "submit_ids": submit_ids,
                "poll_ids": poll_ids,
                "batch": 7,
                "lease_rounds": 15,
            },
        )

        # Submit: each job reached the provider exactly once.
        assert out["submit_errors"] == []
        assert set(out["submitted"].values()) == {"queued"}, out["submitted"]
        for prompt in submit_prompts:
            assert sim.creates_for_prompt(prompt) == 1, prompt
        # Poll claims: every due job was handed to exactly one thread.
        assert out["claim_errors"] == []
        claimed = [pk for batch in out["claims"] for pk in batch]
        twice = [pk for pk, n in collections.Counter(claimed).items() if n > 1]
        assert not twice, f"{len(twice)} jobs were claimed by two pollers at once"
        assert sorted(claimed) == sorted(poll_ids)
        assert sum(1 for batch in out["claims"] if batch) >= 2, "the race never happened"
        # Lease: exactly one winner per round, no errors from the row being created concurrently.
        assert [r["winners"] for r in out["lease_rounds"]] == [1] * 15, out["lease_rounds"]
        assert all(not r["errors"] for r in out["lease_rounds"]), out["lease_rounds"]

        # Archive: the provider finishes, then every thread tries to archive every job.
        for remote_id in out["remote_ids"]:
            sim.complete_now(remote_id)
        out = run_script(env, ARCHIVE_RACE, {"threads": THREADS, "ids": submit_ids})
        assert set(out["before"].values()) == {"archiving"}, out["before"]
        assert out["errors"] == []
        stored = s3.objects("videos/")
        for pk in submit_ids:
            job = out["jobs"][str(pk)]
            assert job["state"] == "succeeded", job
            assert out["saved"].get(str(pk)) == 1, f"job {pk} saved {out['saved'].get(str(pk))}x"
            assert job["attempts"] == 1, f"job {pk}: {job['attempts']} archive attempts"
            assert s3.read(job["video"]) == sim.video_bytes(job["remote_id"])
            token_path = sim.job(job["remote_id"])["video_url"].split("://", 1)[1].split("/", 1)[1]
            assert sim.requests_to("GET", "/" + token_path) == 1, f"job {pk} downloaded twice"
        # One video and one poster per job: no copy left behind by a losing attempt.
        assert len(stored) == 2 * len(submit_ids), sorted(stored)
