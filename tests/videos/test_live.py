"""Live pages: the channel (database and Redis), the hub that fans out, and the stream view."""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from soraweb.videos import live
from soraweb.videos.models import JobState, LiveEvent, Provider, VideoJob, VideoModel
from tests.factories import job_row

# The listener thread and the stream read the database from threads of their own: rows must be
# committed, so these tests run outside the per-test transaction.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

REDIS_URL = os.environ.get("SORAWEB_SCALE_REDIS_URL", "redis://127.0.0.1:6379/0")


def _job(owner, state=JobState.RUNNING) -> VideoJob:
    model = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    return job_row(owner, model, state=state, orientation="portrait")


def _read_until(reader, want: set[int], seconds: float = 5.0) -> list[int]:
    got: list[int] = []
    end = time.monotonic() + seconds
    while not want <= set(got) and time.monotonic() < end:
        got.extend(reader.read(0.1))
    return got


# --- Publishing --------------------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch) -> set[int]:
    """The ids handed to the outbox (queued, not sent: its thread is not started here)."""
    box = live.Outbox()
    monkeypatch.setattr(box, "add", box._ids.add)
    monkeypatch.setattr(live, "outbox", box)
    return box._ids


@pytest.mark.django_db  # inside the test's transaction: commit callbacks wait to be run
def test_a_transition_publishes_the_job_id_after_commit_only(
    member, django_capture_on_commit_callbacks, queued
):
    job = _job(member, JobState.QUEUED)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert job.transition(JobState.RUNNING, message="Generating")
        assert queued == set()
    for callback in callbacks:
        callback()
    assert queued == {job.pk}


@pytest.mark.django_db
def test_a_refused_transition_publishes_nothing(member, django_capture_on_commit_callbacks, queued):
    job = _job(member, JobState.QUEUED)
    stale = VideoJob.objects.get(pk=job.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert job.transition(JobState.RUNNING)
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert not stale.transition(JobState.RUNNING)  # another worker got there first
    assert queued == set()


@pytest.mark.django_db
def test_a_progress_update_publishes_and_a_same_answer_does_not(
    member, django_capture_on_commit_callbacks, queued
):
    from soraweb.providers.base import JobStatus, RemoteState
    from soraweb.videos.pipeline.outcome import Step, job_apply_answer

    job = _job(member, JobState.RUNNING)
    answer = JobStatus(state=RemoteState.RUNNING, progress=40, raw_status="in_progress")
    with django_capture_on_commit_callbacks(execute=True):
        job_apply_answer(job=job, answer=answer, step=Step.POLL)
    assert queued == {job.pk}
    queued.clear()
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        job_apply_answer(job=job, answer=answer, step=Step.POLL)
    assert queued == set()


def test_changes_made_together_go_out_as_one_batch(monkeypatch):
    sent = []
    monkeypatch.setattr(live, "publish", lambda ids: sent.append(list(ids)))
    box = live.Outbox()
    for job_id in (3, 1, 3, 2):
        box._ids.add(job_id)  # what add() queues, without its thread
    box.flush()
    box.flush()
    assert sent == [[1, 2, 3], []]


def test_the_outbox_thread_publishes_soon_after_a_change(settings):
    settings.SORAWEB_LIVE_OUTBOX_THREAD = True  # the tests' default is inline
    box = live.Outbox()
    box.add(41)
    end = time.monotonic() + 5
    while not LiveEvent.objects.filter(job_id=41).exists() and time.monotonic() < end:
        time.sleep(0.02)
    assert LiveEvent.objects.filter(job_id=41).exists()


def test_a_channel_fault_never_breaks_the_step_that_changed_the_job(member, monkeypatch, caplog):
    class Down:
        def publish(self, job_ids):
            raise ConnectionError("channel down")

    monkeypatch.setattr(live, "get_channel", lambda: Down())
    live.publish([7])  # logged, not raised
    assert "could not publish jobs [7]" in caplog.text


# --- The database channel ------------------------------------------------------------------------


def test_database_channel_hands_each_notice_out_once():
    channel = live.DatabaseChannel()
    reader = channel.reader()
    channel.publish([11, 12])
    assert sorted(_read_until(reader, {11, 12})) == [11, 12]
    channel.publish([13])
    assert _read_until(reader, {13}) == [13]  # the overlap window re-reads 11, 12: not re-sent
    reader.close()


def test_database_channel_keeps_a_notice_that_commits_late():
    """A row stamped before the reader's last read but committed after it is still read."""
    from datetime import timedelta

    from django.utils import timezone

    channel = live.DatabaseChannel()
    reader = channel.reader()
    channel.publish([21])
    assert _read_until(reader, {21}) == [21]
    LiveEvent.objects.create(job_id=22, at=timezone.now() - timedelta(seconds=2))
    assert _read_until(reader, {22}) == [22]


def test_database_channel_prunes_old_rows(monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    LiveEvent.objects.create(job_id=1, at=timezone.now() - timedelta(minutes=5))
    monkeypatch.setattr(live.random, "random", lambda: 0.0)  # this notice is the pruning one
    live.DatabaseChannel().publish([2])
    assert list(LiveEvent.objects.values_list("job_id", flat=True)) == [2]


# --- The Redis channel (make test-scale) ----------------------------------------------------------


@pytest.fixture
def redis_up() -> None:
    """`make test-scale` runs these; without Redis they fail and say so (never skip)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"the Redis channel tests need Redis at {REDIS_URL}: {exc}", pytrace=False)


@pytest.mark.scale
def test_redis_channel_carries_each_id_once(redis_up):
    name = f"soraweb-test-{uuid.uuid4().hex[:8]}:live"
    channel = live.RedisChannel(REDIS_URL, channel=name)
    reader = channel.reader()
    try:
        reader.read(0.2)  # the subscription is confirmed before anything is published
        channel.publish([31, 32])
        channel.publish([33])
        assert sorted(_read_until(reader, {31, 32, 33})) == [31, 32, 33]
        assert reader.read(0.2) == []  # each notice once
    finally:
        reader.close()


@pytest.mark.scale
def test_redis_channel_feeds_the_hub(member, settings, redis_up):
    settings.REDIS_URL = REDIS_URL
    name = f"soraweb-test-{uuid.uuid4().hex[:8]}:live"
    job = _job(member)
    hub = live.Hub(lambda: live.RedisChannel(REDIS_URL, channel=name))
    sub = hub.subscribe(owner_id=member.pk, job_ids=[])
    try:
        end = time.monotonic() + 5
        while not hub.connected and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.3)  # the reader subscribes right after it connects
        live.RedisChannel(REDIS_URL, channel=name).publish([job.pk])
        events = sub.wait(5)
        assert [job_id for _, job_id in events] == [job.pk]
    finally:
        hub.unsubscribe(sub)


# --- The hub -------------------------------------------------------------------------------------


def test_hub_gives_each_stream_only_the_jobs_it_follows(member, other_member):
    mine, theirs, shown = _job(member), _job(other_member), _job(other_member)
    hub = live.Hub(live.DatabaseChannel)
    own = live.Subscription(owner_id=member.pk, job_ids=frozenset())
    page = live.Subscription(owner_id=None, job_ids=frozenset({shown.pk}))
    hub._subs.update({own, page})  # no listener thread: deliver() is called directly
    hub.deliver([mine.pk, theirs.pk, shown.pk])
    assert [job for _, job in own.wait(0)] == [mine.pk]
    assert [job for _, job in page.wait(0)] == [shown.pk]


def test_hub_sends_one_event_per_job_however_often_it_changed(member):
    job = _job(member)
    hub = live.Hub(live.DatabaseChannel)
    sub = live.Subscription(owner_id=member.pk, job_ids=frozenset())
    hub._subs.add(sub)
    hub.deliver([job.pk, job.pk])
    hub.deliver([job.pk])
    events = sub.wait(0)
    assert [j for _, j in events] == [job.pk]


def test_hub_replays_what_a_reconnecting_tab_missed(member):
    first, second = _job(member), _job(member)
    hub = live.Hub(live.DatabaseChannel)
    hub._ensure_running = lambda: None  # replay needs no listener
    hub.deliver([first.pk])
    seen = max(eid for eid, _, _ in hub._recent)
    hub.deliver([second.pk])
    sub = hub.subscribe(owner_id=member.pk, job_ids=[], since=seen)
    assert [j for _, j in sub.wait(0)] == [second.pk]


def test_hub_reads_the_database_channel_in_its_own_thread(member):
    job = _job(member)
    hub = live.Hub(live.DatabaseChannel)
    sub = hub.subscribe(owner_id=member.pk, job_ids=[])
    try:
        end = time.monotonic() + 5
        while not hub.connected and time.monotonic() < end:
            time.sleep(0.02)
        live.DatabaseChannel().publish([job.pk])
        assert [j for _, j in sub.wait(5)] == [job.pk]
    finally:
        hub.unsubscribe(sub)


# --- The stream view -----------------------------------------------------------------------------


def test_the_stream_needs_a_signed_in_person(client):
    response = client.get(reverse("videos:live"), {"mine": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def _stream_text(client, settings, params, **headers) -> tuple[object, str]:
    settings.SORAWEB_LIVE_STREAM_SECONDS = 0.4
    settings.SORAWEB_LIVE_HEARTBEAT_SECONDS = 0.1
    response = client.get(reverse("videos:live"), params, **headers)
    return response, b"".join(response.streaming_content).decode()


def test_the_stream_is_server_sent_events_with_heartbeats(client, member, settings):
    client.force_login(member)
    response, text = _stream_text(client, settings, {"mine": "1"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-store"
    assert text.startswith("retry: 2000\nevent: live\ndata: 1\n\n")
    assert "event: ping\ndata: 1\n\n" in text


@pytest.mark.parametrize("resume", ["reconnect", "page"])
def test_the_stream_names_only_ids_of_jobs_the_page_follows(
    client, member, other_member, settings, resume
):
    mine, theirs, shown = _job(member), _job(other_member), _job(other_member)
    live.hub.deliver([mine.pk, theirs.pk, shown.pk])
    before = str(min(eid for eid, _, _ in live.hub._recent) - 1)
    client.force_login(member)
    params = {"mine": "1", "job": [str(shown.pk), "999999", "x"]}
    # The browser's own reconnect sends Last-Event-ID; a page names the moment it was made.
    headers = {"HTTP_LAST_EVENT_ID": before} if resume == "reconnect" else {}
    if resume == "page":
        params["since"] = before
    _, text = _stream_text(client, settings, params, **headers)
    assert f"event: job-{mine.pk}\ndata: {mine.pk}\n\n" in text
    assert f"event: job-{shown.pk}\n" in text
    assert f"job-{theirs.pk}\n" not in text
    assert mine.prompt.text not in text  # an id, never the job itself


def test_a_process_holding_its_cap_of_streams_sends_tabs_away_for_later(client, member, settings):
    settings.SORAWEB_LIVE_STREAMS = 1
    client.force_login(member)
    assert live.slots.take()  # another tab holds the only stream
    try:
        _, text = _stream_text(client, settings, {"mine": "1"})
    finally:
        live.slots.give_back()
    retry = int(text.split("\n")[0].removeprefix("retry: "))
    assert 20_000 <= retry <= 40_000
    assert "event:" not in text


def test_streams_are_background_traffic_for_the_idle_sign_out(client, member, settings):
    from soraweb.accounts import LAST_SEEN_KEY

    client.force_login(member)
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - 3600
    session.save()
    _stream_text(client, settings, {"mine": "1"}, HTTP_ACCEPT="text/event-stream")
    assert client.session[LAST_SEEN_KEY] < time.time() - 3000


def test_a_card_fetched_for_the_stream_does_not_ask_the_provider_again(client, member):
    job = _job(member)
    # Under fixed polling a watched card asks for a fresh status (predictive polling never
    # does: tests/videos/test_polling.py); one fetched for the stream does not.
    Provider.objects.filter(pk=job.provider_id).update(predictive_polling=False)
    client.force_login(member)
    client.get(reverse("videos:job_card", args=[job.pk]), {"live": "1"}, HTTP_HX_REQUEST="true")
    job.refresh_from_db()
    assert job.refresh_requested_at is None
    client.get(reverse("videos:job_card", args=[job.pk]), HTTP_HX_REQUEST="true")
    job.refresh_from_db()
    assert job.refresh_requested_at is not None


def test_running_cards_listen_for_their_job_and_keep_a_poll(client, member, settings):
    settings.SORAWEB_CARD_POLL_SECONDS = 7
    job = _job(member)
    client.force_login(member)
    page = client.get(reverse("videos:studio")).content.decode()
    assert f'sse-connect="{reverse("videos:live")}?mine=1&amp;since=' in page
    assert f'hx-trigger="every 7s, sse:job-{job.pk}"' in page
    detail = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    assert f'sse-connect="{reverse("videos:live")}?job={job.pk}&amp;since=' in detail


def test_threads_waiting_on_a_stream_wake_at_once(member):
    sub = live.Subscription(owner_id=member.pk, job_ids=frozenset())
    got: list = []
    waiter = threading.Thread(target=lambda: got.extend(sub.wait(10)))
    waiter.start()
    time.sleep(0.05)
    sub.push(5, 42)
    waiter.join(2)
    assert not waiter.is_alive()
    assert got == [(5, 42)]


def test_a_stopping_process_ends_its_streams_and_opens_no_more(member, settings, monkeypatch):
    monkeypatch.setattr(live, "_draining", threading.Event())
    settings.SORAWEB_LIVE_STREAM_SECONDS = 60
    settings.SORAWEB_LIVE_HEARTBEAT_SECONDS = 30
    body = live.stream(owner_id=member.pk, job_ids=[])
    assert next(body).startswith("retry: 2000\nevent: live")
    rest: list[str] = []
    reader = threading.Thread(target=lambda: rest.extend(body))
    reader.start()
    time.sleep(0.1)
    live.drain()
    reader.join(5)
    assert not reader.is_alive()  # ended without waiting for its heartbeat or its lifetime
    assert rest == []  # no event for the wake-up itself
    assert live.hub.open_streams == 0
    later = "".join(live.stream(owner_id=member.pk, job_ids=[]))
    assert ": busy" in later  # a tab reconnecting here is sent elsewhere


# --- Watched jobs: what open streams follow is polled densely (pipeline.common) ------------------


def test_the_hub_marks_the_jobs_its_streams_follow_as_watched_and_renews_the_mark(
    member, other_member
):
    mine, finished = _job(member), _job(member, JobState.SUCCEEDED)
    theirs, shown = _job(other_member), _job(other_member, JobState.QUEUED)
    hub = live.Hub(live.DatabaseChannel)
    hub._ensure_running = lambda: None  # marked by hand here, not by the listener thread
    hub.subscribe(owner_id=member.pk, job_ids=[])
    page = hub.subscribe(owner_id=None, job_ids=[shown.pk])
    assert hub.mark_watched() == 2
    watched = dict(VideoJob.objects.values_list("pk", "watched_until"))
    assert watched[finished.pk] is None and watched[theirs.pk] is None  # done, or not shown
    soon = timezone.now() + timedelta(seconds=live.WATCH_SECONDS)
    assert soon - timedelta(seconds=5) < watched[mine.pk] <= soon
    assert watched[shown.pk] == watched[mine.pk]
    # One UPDATE per renewal, not per pass of the listener.
    assert hub.mark_watched() == 0
    hub._watch_marked -= live.WATCH_RENEW_SECONDS
    assert hub.mark_watched() == 2
    # A stream that opens is marked at once; a process without streams marks nothing.
    hub.unsubscribe(page)
    hub.subscribe(owner_id=other_member.pk, job_ids=[])
    assert hub.mark_watched() == 3
    hub._subs.clear()
    hub._watch_marked = -math.inf
    assert hub.mark_watched() == 0


def test_a_mark_that_fails_is_tried_again_on_the_next_pass(member, monkeypatch):
    mine = _job(member)
    hub = live.Hub(live.DatabaseChannel)
    hub._ensure_running = lambda: None
    hub.subscribe(owner_id=member.pk, job_ids=[])
    real = live.jobs_mark_watched
    calls = []

    def locked_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("database table is locked")
        return real(**kwargs)

    monkeypatch.setattr(live, "jobs_mark_watched", locked_once)
    assert hub.mark_watched() == 0
    # Not ten seconds later at the renewal: at the listener's next pass.
    assert hub.mark_watched() == 1
    mine.refresh_from_db()
    assert mine.watched_until and mine.watched_until > timezone.now()


def test_the_listener_thread_marks_a_new_streams_jobs_within_moments(member):
    job = _job(member)
    hub = live.Hub(live.DatabaseChannel)
    sub = hub.subscribe(owner_id=member.pk, job_ids=[])
    try:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            job.refresh_from_db(fields=["watched_until"])
            if job.watched_until:
                break
            # (Not too eager: on SQLite's shared in-memory test database a read at the moment
            # of the thread's write makes the write fail with "table is locked"; it is retried.)
            time.sleep(0.25)
        assert job.watched_until and job.watched_until > timezone.now()
    finally:
        hub.unsubscribe(sub)
