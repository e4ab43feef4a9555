"""The job pipeline against the real simulator over HTTP: submit, poll, archive, faults."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule

from soraweb.providers.base import JobStatus, RemoteState
from soraweb.schedules import SCHEDULES
from soraweb.videos import tasks
from soraweb.videos.models import InvalidTransition, JobState, Prompt, VideoJob, VideoModel
from soraweb.videos.pipeline import archive, loop, outcome, queue, recover
from tests.conftest import form_data, free_port
from tests.factories import job_row, service_job

# Real transactions (work is handed over on commit); the seeded catalogue is restored after each test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def drive(job: VideoJob, timeout: float = 40.0) -> VideoJob:
    """Run poll passes (as the worker's loop would) until the job settles."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not job.is_active:
            return job
        VideoJob.objects.filter(pk=job.pk, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
            next_poll_at=timezone.now()
        )
        loop.poll_pass()
        recover.jobs_recover()
        time.sleep(0.3)
    job.refresh_from_db()
    raise AssertionError(f"job still {job.state} after {timeout} s: {job.error_message}")


def test_it_takes_a_job_from_submit_to_an_archived_video(sim_provider, simulator, member):
    job = service_job(member, "a lighthouse in a storm, pipeline happy path")
    job.refresh_from_db()
    assert job.remote_id.startswith("sora-2:task_")  # the colon survives the round trip
    job = drive(job)
    assert job.state == JobState.SUCCEEDED, job.error_message
    served = simulator.video_bytes(job.remote_id)
    with job.video.open("rb") as fh:
        stored = fh.read()
    assert stored == served
    assert job.video_sha256 == hashlib.sha256(served).hexdigest()
    assert job.video_bytes == len(served)
    assert job.video_height > job.video_width  # portrait
    assert job.video_seconds == pytest.approx(10, abs=0.6)
    with job.poster.open("rb") as fh:
        assert fh.read(3) == b"\xff\xd8\xff"  # a JPEG
    states = list(job.events.values_list("to_state", flat=True))
    assert states[0] == JobState.PENDING and states[-1] == JobState.SUCCEEDED
    assert JobState.ARCHIVING in states
    assert simulator.creates_for_prompt("pipeline happy path") == 1


def test_it_shows_the_moderation_reason_in_plain_words(sim_provider, member):
    job = drive(service_job(member, "a famous actor waving [sim:moderation]"))
    assert job.state == JobState.FAILED
    assert "moderation" in job.error_message.lower()


def test_it_parks_a_create_with_unknown_outcome_and_never_sends_it_again(
    sim_provider, simulator, member, settings
):
    settings.SORAWEB_PROVIDER_READ_TIMEOUT = 1.0
    job = service_job(member, "a slow relay swallows the answer [sim:hang] unknown-outcome")
    job.refresh_from_db()
    assert job.state == JobState.NEEDS_ATTENTION
    assert "may or may not" in job.error_message
    recover.jobs_recover()
    loop.poll_pass()
    job.refresh_from_db()
    assert job.state == JobState.NEEDS_ATTENTION
    assert simulator.creates_for_prompt("unknown-outcome") == 1


def test_it_retries_a_create_the_provider_turned_away_with_429(sim_provider, simulator, member):
    job = service_job(member, "a rate limited relay [sim:429] retry-after-case")
    job.refresh_from_db()
    assert job.state == JobState.PENDING  # turned away: nothing was created, so it may go again
    assert job.next_poll_at > timezone.now()
    VideoJob.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    job = drive(job)
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.creates_for_prompt("retry-after-case") == 1


def test_it_enforces_the_catalogue_rules_in_the_service(sim_provider, member):
    with pytest.raises(ValidationError) as exc:
        service_job(member, "pro cannot be small", model="sora-2-pro", size="small", duration=15)
    assert "size" in exc.value.message_dict
    assert VideoJob.objects.count() == 0


def test_a_repeated_idempotency_key_creates_exactly_one_job(sim_provider, simulator, member):
    first = service_job(member, "double click idempotent-case", idempotency_key="key-123")
    second = service_job(member, "double click idempotent-case", idempotency_key="key-123")
    assert first.pk == second.pk
    assert VideoJob.objects.count() == 1
    assert simulator.creates_for_prompt("idempotent-case") == 1


def test_the_state_machine_refuses_an_unlisted_transition_and_a_lost_race(sim_provider, member):
    job = service_job(member, "state machine [sim:slow]")
    job.refresh_from_db()
    with pytest.raises(InvalidTransition):
        job.transition(JobState.SUCCEEDED)
    stale = VideoJob.objects.get(pk=job.pk)
    assert job.transition(JobState.CANCELLED)
    # The stale copy still believes the old state: its claim must change nothing.
    assert stale.transition(JobState.ARCHIVING) is False
    assert VideoJob.objects.get(pk=job.pk).state == JobState.CANCELLED


def test_recovery_parks_an_interrupted_create_and_resumes_an_interrupted_archive(
    sim_provider, simulator, member
):
    done = drive(service_job(member, "archive twice recovery-case"))
    assert done.state == JobState.SUCCEEDED
    interrupted = service_job(member, "interrupted create [sim:slow]")
    stale = timezone.now() - timezone.timedelta(seconds=1)
    # A worker died mid-create on one job, and mid-archive on the other.
    VideoJob.objects.filter(pk=interrupted.pk).update(
        state=JobState.SUBMITTING, remote_id="", lease_until=stale
    )
    VideoJob.objects.filter(pk=done.pk).update(state=JobState.ARCHIVING, lease_until=stale)
    result = recover.jobs_recover()
    assert result["interrupted"] == [interrupted.pk]
    assert result["rearchived"] == [done.pk]
    interrupted.refresh_from_db()
    done.refresh_from_db()
    assert interrupted.state == JobState.NEEDS_ATTENTION
    assert "may or may not have been started" in interrupted.error_message
    assert done.state == JobState.SUCCEEDED
    assert simulator.creates_for_prompt("recovery-case") == 1


def test_the_sweep_hands_a_waiting_save_over_once_not_on_every_pass(
    sim_provider, member, monkeypatch
):
    """A backlog of saves (one busy worker, a burst of finished jobs) must not grow by a copy of
    every waiting task per pass of the poll loop: each copy delays what is queued behind it."""
    done = drive(service_job(member, "archive backlog-case"))
    long_ago = timezone.now() - timezone.timedelta(seconds=30)
    VideoJob.objects.filter(pk=done.pk).update(
        state=JobState.ARCHIVING, lease_until=None, provider_completed_at=long_ago
    )
    handed: list[tuple] = []
    real_enqueue = recover.queue.enqueue
    monkeypatch.setattr(recover.queue, "enqueue", lambda *task: handed.append(task) or True)
    for _ in range(5):  # five passes while the task waits in the queue
        recover.jobs_recover()
    assert handed == [("archive_job", done.pk)]
    # Still not saved a minute later: handed over once more (that task may have been lost too).
    later = timezone.now() + timezone.timedelta(seconds=recover.REARCHIVE_AGAIN_SECONDS + 1)
    assert recover.jobs_recover(now=later)["rearchived"] == [done.pk]
    assert len(handed) == 2
    # A backlogged queue (as many tasks waiting as workers): a save never claimed is most
    # likely still in it, so it is only marked, and handed over only if still unclaimed later.
    VideoJob.objects.filter(pk=done.pk).update(next_poll_at=None)
    monkeypatch.setattr(recover.queue, "waiting_tasks", lambda: recover.queue.worker_count())
    for _ in range(5):
        assert recover.jobs_recover()["rearchived"] == []
    assert len(handed) == 2
    much_later = timezone.now() + timezone.timedelta(seconds=recover.REARCHIVE_BACKLOGGED_SECONDS)
    assert recover.jobs_recover(now=much_later)["rearchived"] == [done.pk]
    # The worker's claim spends the mark: a save that fails and waits its retry is not held up.
    monkeypatch.setattr(recover.queue, "enqueue", real_enqueue)
    archive.job_archive(job_id=done.pk)
    done.refresh_from_db()
    assert done.state == JobState.SUCCEEDED and done.next_poll_at is None


# --- The broker is down: a saved job is never answered with an error -------------------------

QUEUED = "Saved and queued: it will start as soon as the worker is reachable."


@contextlib.contextmanager
def broker_down(monkeypatch):
    """django-q2 configured for a Redis that does not answer (a closed port), as in an outage.

    django-q2 reads Q_CLUSTER once at import, so its Conf is switched here: the real
    ``async_task`` then builds a real Redis broker, whose push the closed port refuses. Sync
    mode is off inside, else django-q2 would run the task inline and never touch the broker.
    """
    with monkeypatch.context() as m:
        m.setattr(Conf, "SYNC", False)
        m.setattr(Conf, "ORM", None)
        m.setattr(Conf, "REDIS", f"redis://:broker-pass-s3cret@127.0.0.1:{free_port()}/15")
        yield


def sweep() -> None:
    """What the minute schedule runs once the worker is back (one pass: tests' loop budget is 0)."""
    assert tasks.poll_loop()["ran"]


def test_a_saved_job_answers_queued_when_the_broker_is_down_and_the_sweep_sends_it_once(
    client, sim_provider, simulator, member, monkeypatch, caplog
):
    client.force_login(member)
    data = form_data(prompt="a kite in the rain broker-down-case", idempotency_key="bd-key-1")
    caplog.set_level(logging.WARNING)
    with broker_down(monkeypatch):
        first = client.post(reverse("videos:studio"), data, follow=True)
        again = client.post(reverse("videos:studio"), data, follow=True)  # the person resends
        swapped = client.post(reverse("videos:studio"), data, HTTP_HX_REQUEST="true")
    assert first.status_code == 200 and QUEUED in first.content.decode()
    # A resend is answered with the first job (nothing new is made), still saying it waits.
    assert again.status_code == 200 and QUEUED in again.content.decode()
    assert "You already sent this form" in again.content.decode()
    assert swapped.status_code == 200
    assert QUEUED in swapped.content.decode()
    assert "You already sent this form" in swapped.content.decode()
    job = VideoJob.objects.get()  # exactly one row for the three posts
    assert job.state == JobState.PENDING and job.submit_attempts == 0
    assert job.next_poll_at <= timezone.now()  # due for the sweep at once, not in 30 s
    assert "could not hand submit_job" in caplog.text
    assert "broker-pass-s3cret" not in caplog.text
    assert simulator.creates_for_prompt("broker-down-case") == 0

    sweep()
    job.refresh_from_db()
    assert job.state in (JobState.QUEUED, JobState.RUNNING), job.error_message
    sweep()
    recover.jobs_recover()
    assert simulator.creates_for_prompt("broker-down-case") == 1
    assert QUEUED not in client.get(reverse("videos:studio")).content.decode()


def batch_post(client, prompts: str, key: str, **headers):
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    data = {
        "prompts": prompts,
        "video_model": str(vm.pk),
        "orientation": "landscape",
        "size": "small",
        "duration": "10",
        "idempotency_key": key,
    }
    return client.post(reverse("videos:batch"), data, **headers)


def test_a_batch_with_the_broker_down_saves_every_row_once_and_says_they_are_queued(
    client, sim_provider, simulator, member, monkeypatch
):
    client.force_login(member)
    prompts = "\n".join(f"row {n} batch-broker-case" for n in range(1, 6))
    with broker_down(monkeypatch):
        first = batch_post(client, prompts, "bd-batch-1", HTTP_HX_REQUEST="true")
        again = batch_post(client, prompts, "bd-batch-1", HTTP_HX_REQUEST="true")
    for response in (first, again):
        assert response.status_code == 200
        html = response.content.decode()
        assert "All 5 videos are saved and queued" in html and "5 videos started" in html
    assert VideoJob.objects.count() == 5
    sweep()
    assert not VideoJob.objects.filter(state=JobState.PENDING).exists()
    for n in range(1, 6):
        assert simulator.creates_for_prompt(f"row {n} batch-broker-case") == 1


def test_a_batch_the_database_fails_part_way_saves_no_row_and_says_so(client, sim_provider, member):
    client.force_login(member)
    inserts = []

    def third_job_insert_fails(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "videos_videojob"'):
            inserts.append(sql)
            if len(inserts) == 3:
                raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(third_job_insert_fails):
        response = batch_post(client, "one\ntwo\nthree\nfour", "db-batch-1")
    assert len(inserts) == 3
    assert response.status_code == 503
    assert "None of these videos were saved" in response.content.decode()
    assert VideoJob.objects.count() == 0 and Prompt.objects.count() == 0
    again = batch_post(client, "one\ntwo\nthree\nfour", "db-batch-1")  # sent again: all four
    assert again.status_code == 200 and VideoJob.objects.count() == 4


def test_retry_and_save_again_with_the_broker_down_are_queued_not_errors(
    client, admin_client, sim_provider, simulator, member, monkeypatch
):
    failed = drive(service_job(member, "a moderated retry [sim:moderation] bd-retry-case"))
    assert failed.state == JobState.FAILED
    done = drive(service_job(member, "a video to save again bd-rearchive-case"))
    assert done.state == JobState.SUCCEEDED
    VideoJob.objects.filter(pk=done.pk).update(state=JobState.FAILED, error_message="disk full")
    client.force_login(member)
    with broker_down(monkeypatch):
        retried = client.post(
            reverse("videos:job_retry", args=[failed.pk]), {"idempotency_key": "bd-r"}, follow=True
        )
        resaved = admin_client.post(
            reverse("admin:videos_videojob_fix", args=[done.pk, "rearchive"]), follow=True
        )
    assert retried.status_code == 200 and QUEUED in retried.content.decode()
    assert resaved.status_code == 200
    assert "queued to be saved again; it will start as soon as the worker is reachable" in (
        resaved.content.decode()
    )
    new = VideoJob.objects.get(retry_of=failed)
    assert new.state == JobState.PENDING
    assert VideoJob.objects.get(pk=done.pk).state == JobState.ARCHIVING
    sweep()
    assert VideoJob.objects.get(pk=done.pk).state == JobState.SUCCEEDED
    new.refresh_from_db()
    assert new.submit_attempts == 1 and new.state != JobState.PENDING
    assert simulator.creates_for_prompt("bd-retry-case") == 2  # the original and the retry


# --- One mapper: the same answer reads the same after a create and after a status query ------


@pytest.mark.parametrize(
    "status,to_state,event,error",
    [
        (
            JobStatus(state=RemoteState.EXPIRED, raw_status="expired"),
            JobState.EXPIRED,
            "Provider reports expired",
            "The provider's link to this video expired before soraweb could save a copy.",
        ),
        (
            JobStatus(state=RemoteState.FAILED, raw_status="failed"),
            JobState.FAILED,
            "Provider reports failure",
            "The provider could not make this video (no reason given).",
        ),
        (
            JobStatus(state=RemoteState.FAILED, raw_status="failed", error="Blocked by moderation"),
            JobState.FAILED,
            "Provider reports failure",
            "Blocked by moderation",
        ),
    ],
)
def test_one_answer_gives_one_transition_whichever_call_it_answered(
    member, status, to_state, event, error
):
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    submitting = job_row(
        member, vm, text="answered at create", state=JobState.SUBMITTING, orientation="portrait"
    )
    at_provider = job_row(
        member,
        vm,
        text="answered at poll",
        state=JobState.RUNNING,
        remote_id="r-1",
        orientation="portrait",
    )
    outcome.job_apply_answer(
        job=submitting, answer=status, step=outcome.Step.SUBMIT, remote_id="r-2"
    )
    outcome.job_apply_answer(job=at_provider, answer=status, step=outcome.Step.POLL)
    for job in (submitting, at_provider):
        job.refresh_from_db()
        last = job.events.last()
        assert (job.state, last.to_state, last.message, job.error_message) == (
            to_state,
            to_state,
            event,
            error,
        )
    assert submitting.remote_id == "r-2"  # the id is stored with the answer, never lost
    assert at_provider.poll_count == 1


# --- Schedules: declared once, created by migrate, repaired by soraweb_setup -----------------


def schedule_rows() -> dict[str, dict]:
    fields = ("func", "schedule_type", "minutes", "repeats")
    return {
        row["name"]: {key: row[key] for key in fields}
        for row in Schedule.objects.values("name", *fields)
    }


def test_setup_repairs_every_declared_schedule_including_the_ops_one():
    declared = {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in SCHEDULES}
    assert {"soraweb-poll", "soraweb-ops"} <= set(declared)
    assert schedule_rows() == declared  # what migrate wrote, from the same declaration
    Schedule.objects.filter(name="soraweb-ops").delete()
    Schedule.objects.filter(name="soraweb-poll").update(func="soraweb.gone", minutes=60, repeats=0)
    call_command("soraweb_setup", stdout=io.StringIO())
    assert schedule_rows() == declared
    call_command("soraweb_setup", stdout=io.StringIO())  # again: nothing doubles
    assert Schedule.objects.count() == len(declared)


def test_a_workers_poll_that_finds_the_video_done_saves_it_in_the_same_task(
    sim_provider, member, simulator, monkeypatch
):
    """The webhook path (the poll_job task): one trip through the queue, not two."""
    job = service_job(member, "a heron lifts off save-inline")
    job.refresh_from_db()  # submitted on commit
    assert job.state in (JobState.QUEUED, JobState.RUNNING), job.error_message
    simulator.complete_now(job.remote_id)
    handed: list[str] = []
    monkeypatch.setattr(queue, "hand_over", lambda task, job_id: handed.append(task))
    from soraweb.videos import tasks

    tasks.poll_job(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert handed == ["archive_job"]  # queued as well; its claim finds the job saved already
    from soraweb.videos.pipeline import archive

    archive.job_archive(job_id=job.pk)  # what the queued copy does: nothing
    assert VideoJob.objects.get(pk=job.pk).archive_attempts == 1
