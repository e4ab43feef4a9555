"""A burst of jobs through two django-q2 clusters on PostgreSQL, Redis and S3.

Two ``qcluster`` processes share one Redis queue and one PostgreSQL database; media goes to a
local S3 server (moto). Forty jobs arrive at once, a quarter of them with provider faults, and a
side process keeps delivering duplicate tasks (two more submits for every new job, extra
archives, extra poll loops), as a redelivering broker or an overlapping schedule would. After
the burst: every job settled as its fault says, no job was created twice at the provider, no job
was polled more often than its poll interval allows, poll loops never overlapped, and every
video was downloaded, saved and stored exactly once, byte-identical, in the bucket.
"""

from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from soraweb.simulator.server import Simulator
from soraweb.videos.pipeline.common import DENSE_GAP
from tests.clusters import ROOT, SETTLED, create_jobs, run_script, start_cluster, stop
from tests.scale.conftest import log_lines

JOBS = 40
CLUSTERS = 2
FAULTS = [
    "",
    "[sim:pollhang]",
    "[sim:hang]",
    "[sim:429]",
    "[sim:502]",
    "[sim:poll429]",
    "[sim:poll502]",
    "[sim:pollgarbage]",
    "[sim:moderation]",
    "[sim:fail]",
]
EXPECTED = {"[sim:hang]": "needs_attention", "[sim:moderation]": "failed", "[sim:fail]": "failed"}
POLL_INTERVAL = 1.0  # the simulator provider's effective poll interval
# Predictive polling (on by default) asks densely around a job's expected finish once a few jobs
# of its model have finished, down to DENSE_GAP apart: the shortest gap that is still one poller.
MIN_GAP = min(POLL_INTERVAL, DENSE_GAP)


class TimedSimulator(Simulator):
    """The simulator, also noting when each status query for a job arrived."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.poll_times: dict[str, list[float]] = collections.defaultdict(list)

    def _note_poll(self, job) -> int:
        with self._lock:
            self.poll_times[job.id].append(time.monotonic())
        return super()._note_poll(job)


AGITATOR = r"""
import json, sys, time
from pathlib import Path
import django
django.setup()
from soraweb.videos.pipeline import queue
from soraweb.videos.models import JobState, VideoJob
stop = Path(sys.argv[1])
seen = set()
sent = {"archive_job": 0, "poll_loop": 0}
rounds = 0
while not stop.exists():
    for pk in VideoJob.objects.filter(state=JobState.ARCHIVING).values_list("pk", flat=True):
        if pk not in seen:
            seen.add(pk)
            for _ in range(2):
                queue.enqueue("archive_job", pk)
                sent["archive_job"] += 1
    if rounds % 2 == 0:
        queue.enqueue("poll_loop")
        sent["poll_loop"] += 1
    rounds += 1
    time.sleep(0.25)
print(json.dumps(sent))
"""

REPORT = r"""
import json, sys
import django
django.setup()
from django_q.models import Task
from soraweb.videos.models import JobEvent, JobState, VideoJob

def ts(value):
    return value.timestamp() if value else None

jobs = []
for job in VideoJob.objects.select_related("prompt").order_by("pk"):
    jobs.append({
        "id": job.pk, "prompt": job.prompt.text, "state": job.state, "remote_id": job.remote_id,
        "video": job.video.name, "poster": job.poster.name, "sha256": job.video_sha256,
        "submitted_at": ts(job.submitted_at), "completed_at": ts(job.provider_completed_at),
        "finished_at": ts(job.finished_at), "archive_attempts": job.archive_attempts,
        "error": job.error_message,
    })
saved = {}
for event in JobEvent.objects.filter(to_state=JobState.SUCCEEDED):
    saved[event.job_id] = saved.get(event.job_id, 0) + 1
loops = [
    {"started": ts(t.started), "stopped": ts(t.stopped), "result": t.result}
    for t in Task.objects.filter(func="soraweb.videos.tasks.poll_loop")
]
tasks = {}
for func in Task.objects.values_list("func", flat=True):
    tasks[func.rsplit(".", 1)[-1]] = tasks.get(func.rsplit(".", 1)[-1], 0) + 1
failed = list(Task.objects.filter(success=False).values_list("func", "result"))
print(json.dumps({"jobs": jobs, "saved": saved, "loops": loops, "tasks": tasks,
                  "failed_tasks": [[f, str(r)[:300]] for f, r in failed]}))
"""


def _unsettled(database_url: str) -> int:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM videos_videojob WHERE NOT (state = ANY(%s))", (list(SETTLED),)
        ).fetchone()
    return row[0]


def _wait_for_log(path: Path, text: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"cluster exited early:\n{path.read_text()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} in {path} after {timeout} s:\n{path.read_text()[-3000:]}")


@pytest.mark.scale
def test_burst_through_two_clusters_has_no_duplicates(installation, s3, tmp_path):
    sim = TimedSimulator(job_seconds=3.0, hang_seconds=6.0).start()
    env = {
        **installation,
        "SORAWEB_SIMULATOR_URL": sim.base_url,
        "SORAWEB_WORKERS": "4",
        "SORAWEB_PROVIDER_READ_TIMEOUT": "3",
        "SORAWEB_POLL_LOOP_SECONDS": "20",
        "SORAWEB_LOG_FORMAT": "json",
        "SORAWEB_QUEUE_LOG_LEVEL": "INFO",
    }
    quiet = {**env, "SORAWEB_QUEUE_LOG_LEVEL": "WARNING"}  # the helper scripts' "Enqueued" lines
    logs = [tmp_path / f"cluster-{n}.log" for n in range(CLUSTERS)]
    stop_file = tmp_path / "stop-agitator"
    clusters: list[subprocess.Popen] = []
    agitator = None
    prompts = [f"scale burst {i:02d} {FAULTS[i % len(FAULTS)]}".strip() for i in range(JOBS)]
    started = time.monotonic()
    try:
        for path in logs:
            with path.open("ab") as log:
                clusters.append(start_cluster(env, log))
        for path, proc in zip(logs, clusters, strict=True):
            _wait_for_log(path, "running", proc)
        agitator = subprocess.Popen(
            [sys.executable, "-c", AGITATOR, str(stop_file)],
            stdout=subprocess.PIPE,
            env=quiet,
            cwd=ROOT,
            text=True,
        )
        job_ids = create_jobs(quiet, prompts, user="burst", duplicate_submits=2)
        assert len(job_ids) == JOBS
        deadline = time.monotonic() + 150
        while _unsettled(installation["DATABASE_URL"]) and time.monotonic() < deadline:
            time.sleep(0.5)
        settle_seconds = time.monotonic() - started
    finally:
        stop_file.touch()
        sent = json.loads(agitator.communicate(timeout=60)[0]) if agitator else {}
        graceful = [stop(proc) for proc in clusters]
        creates = {p: sim.creates_for_prompt(p) for p in prompts}
        sim_jobs = {job["id"]: job for job in sim.jobs()}
        request_log = sim.request_log
        poll_times = {job_id: list(times) for job_id, times in sim.poll_times.items()}
        video_bytes = {}
        for job_id, job in sim_jobs.items():
            if job["state"] == "completed":
                video_bytes[job_id] = sim.video_bytes(job_id)
        sim.stop()

    report = run_script(installation, REPORT)
    jobs = report["jobs"]
    print(f"burst settled in {settle_seconds:.1f} s; duplicates sent: {sent}")
    print(f"tasks run: {report['tasks']}")
    assert len(jobs) == JOBS
    assert not report["failed_tasks"], report["failed_tasks"]
    assert graceful == [True] * CLUSTERS, "a cluster did not stop on SIGTERM"

    # Every job settled, each as its fault says.
    stuck = [(j["id"], j["state"], j["prompt"]) for j in jobs if j["state"] not in SETTLED]
    assert not stuck, f"jobs that never settled: {stuck}"
    for job in jobs:
        marker = next((f for f in FAULTS if f and f in job["prompt"]), "")
        assert job["state"] == EXPECTED.get(marker, "succeeded"), job

    # Two clusters really shared the work, and duplicates really were delivered.
    for path in logs:
        processed = sum(1 for line in log_lines(path) if " processing " in line)
        assert processed >= 10, f"{path.name} processed only {processed} tasks"
    assert sent.get("archive_job", 0) >= 20, sent
    assert report["tasks"].get("submit_job", 0) >= 3 * JOBS, report["tasks"]
    assert report["tasks"].get("archive_job", 0) >= 40, report["tasks"]

    # No job was created twice at the provider.
    for prompt, count in creates.items():
        assert count <= 1, f"{prompt!r} was created {count} times"
    # Exactly once where soraweb learned the remote id; a hung create was stored but unanswered.
    hung = sum(1 for j in jobs if "[sim:hang]" in j["prompt"])
    assert sum(creates.values()) == sum(1 for j in jobs if j["remote_id"]) + hung

    # No poll storm: a job is asked about at most once per poll gap while at the provider (a next
    # check is due one gap after the last answer was recorded: the fixed interval, or DENSE_GAP
    # near a predicted finish), so two pollers working on the same job would show up as a short
    # gap.
    for remote_id, times in poll_times.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert not gaps or min(gaps) >= MIN_GAP - 0.1, f"{remote_id} polled {gaps}"
    total_polls = total_allowed = 0
    for job in jobs:
        if not job["remote_id"] or job["submitted_at"] is None:
            continue
        end = job["completed_at"] or job["finished_at"]
        allowed = int((end - job["submitted_at"]) / MIN_GAP) + 2
        polls = sim_jobs[job["remote_id"]]["polls"]
        assert polls <= allowed, f"job {job['id']} polled {polls}x, at most {allowed} expected"
        total_polls += polls
        total_allowed += allowed
    print(f"status requests: {total_polls} (bound {total_allowed})")

    # Poll loops held the lease one at a time: the times each loop held it never overlapped.
    # (A task's own start and stop are wider: a fresh worker's loop waits for the lease first.)
    ran = sorted(
        (
            loop["result"]["held"]
            for loop in report["loops"]
            if isinstance(loop["result"], dict) and loop["result"].get("ran")
        ),
    )
    assert ran, "no poll loop ran"
    for before, after in zip(ran, ran[1:], strict=False):
        assert after[0] >= before[1], (before, after)

    # Each succeeded video was downloaded once, saved once and stored once, byte-identical.
    stored = s3.objects("videos/")
    succeeded = [j for j in jobs if j["state"] == "succeeded"]
    assert len(succeeded) >= JOBS * 6 // 10
    for job in succeeded:
        assert report["saved"].get(str(job["id"])) == 1, job
        data = s3.read(job["video"])
        assert data == video_bytes[job["remote_id"]], f"job {job['id']}: stored video differs"
        assert hashlib.sha256(data).hexdigest() == job["sha256"]
        assert job["poster"] in stored
        token = sim_jobs[job["remote_id"]]["video_url"].rsplit("/", 1)[1]
        downloads = [p for m, p in request_log if m == "GET" and p.endswith("/files/" + token)]
        assert len(downloads) == 1, f"job {job['id']} video downloaded {len(downloads)} times"
    assert len(stored) == 2 * len(succeeded), "an archive attempt left a second copy behind"

    # The workers' logs are JSON lines without secrets.
    secrets = [installation["SORAWEB_SECRET_KEY"], installation["SORAWEB_S3_SECRET_ACCESS_KEY"]]
    for path in logs:
        for line in log_lines(path):
            entry = json.loads(line)
            assert {"time", "level", "logger", "message"} <= entry.keys(), line
            assert not any(secret in line for secret in secrets), line
    counts = collections.Counter(j["state"] for j in jobs)
    print(f"outcome: {dict(counts)}")
