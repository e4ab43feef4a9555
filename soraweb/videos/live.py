"""Live pages: an open tab learns at once that a job changed, then fetches its card.

Publish: ``job_changed(job_id)`` is called where a job changes (``VideoJob.transition`` and the
poll's progress update); after commit it sends the bare id on a channel. Redis pub/sub when
``REDIS_URL`` is set, else a small table (``LiveEvent``) read a few times a second. Nothing but
the id travels: the page fetches the card through the normal, login-checked card view.

Subscribe: each web process runs one listener thread (the ``Hub``) that reads the channel and
hands ids to the streams open in that process; a stream is one server-sent-events answer
(``stream``) held by one gunicorn thread. Streams are capped per process
(``SORAWEB_LIVE_STREAMS``; gunicorn gets that many threads on top of the page threads), end after
``SORAWEB_LIVE_STREAM_SECONDS`` (the browser reconnects, sending the last event id, and misses
nothing: the hub keeps a minute of events to replay) and send a comment every
``SORAWEB_LIVE_HEARTBEAT_SECONDS`` so a closed tab frees its thread. A tab over the cap is told
to come back later and keeps its card poll meanwhile.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

REPLAY_SECONDS = 60.0  # events kept for a reconnecting tab (and rows kept in the table)
DB_POLL_SECONDS = 0.1  # the database channel's read interval while a stream is open
DB_OVERLAP_SECONDS = 5.0  # rows are read again this long: a slow commit is not skipped
RETRY_MS = 2000  # how soon the browser reconnects after a stream ends
BUSY_RETRY_MS = (20_000, 40_000)  # over the cap: come back in 20-40 s (spread, not all at once)
# The jobs open streams follow are marked watched (``VideoJob.watched_until``) for WATCH_SECONDS,
# renewed every WATCH_RENEW_SECONDS while a stream is open: the poll loop, in another process,
# then asks about them densely (pipeline.common.plan_next_poll). One UPDATE per web process and
# renewal, whatever the number of its streams; a closed tab's jobs stop counting within a minute.
WATCH_SECONDS = 30.0
WATCH_RENEW_SECONDS = 10.0


def _model(name: str):
    # By name: the models call into this module (a job's change is published from there).
    return apps.get_model("videos", name)


def channel_name() -> str:
    return f"{settings.Q_CLUSTER['name']}:live"


# --- Publishing ------------------------------------------------------------------------------------


def job_changed(job_id: int) -> None:
    """Tell open tabs that ``job_id`` changed, once the current transaction commits.

    The id joins this process's outbox, sent a few milliseconds later with whatever else changed
    meanwhile: a poll pass over a thousand jobs makes a few inserts (or PUBLISHes), not a
    thousand, and the step that changed the job never waits for the channel."""
    transaction.on_commit(lambda: outbox.add(job_id))


class Outbox:
    """Ids waiting to be published, sent in batches by one thread per process."""

    GATHER_SECONDS = 0.02

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[int] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, job_id: int) -> None:
        if not settings.SORAWEB_LIVE_OUTBOX_THREAD:
            # Tests: publish at once, on the committing thread (SQLite's in-memory test
            # database locks whole tables, so a second writer thread would collide with it).
            publish([job_id])
            return
        with self._lock:
            self._ids.add(int(job_id))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="soraweb-live-outbox", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        """Publish what is waiting, now (the thread does this; tests call it directly)."""
        with self._lock:
            ids, self._ids = sorted(self._ids), set()
        publish(ids)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.GATHER_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            finally:
                connections["default"].close()


outbox = Outbox()


def publish(job_ids: Iterable[int]) -> None:
    """Send ids on the channel now. A channel fault is logged, never raised: the job moved on,
    and open tabs still see it at their next card poll."""
    ids = [int(i) for i in job_ids]
    if not ids:
        return
    try:
        get_channel().publish(ids)
    except Exception:
        logger.warning("live: could not publish jobs %s", ids, exc_info=True)


# --- Channels --------------------------------------------------------------------------------------


class DatabaseChannel:
    """The channel on the database: one row per notice, read by time with an overlap."""

    name = "database"

    def publish(self, job_ids: list[int]) -> None:
        LiveEvent = _model("LiveEvent")  # noqa: N806
        now = timezone.now()
        LiveEvent.objects.bulk_create([LiveEvent(job_id=i, at=now) for i in job_ids])
        if random.random() < 0.02:  # about every 50th notice keeps the table at a minute's worth
            LiveEvent.objects.filter(at__lt=now - timedelta(seconds=REPLAY_SECONDS)).delete()

    def reader(self) -> DatabaseReader:
        return DatabaseReader()


class DatabaseReader:
    """Reads notices committed since the last read. Rows are read by time, a few seconds back,
    and each row id is taken once: an id handed out before a row committed later is not lost
    (PostgreSQL hands out sequence numbers before commit)."""

    def __init__(self) -> None:
        self.since = timezone.now()
        self.seen: dict[int, float] = {}

    def read(self, timeout: float) -> list[int]:
        LiveEvent = _model("LiveEvent")  # noqa: N806
        time.sleep(timeout)
        now = time.monotonic()
        rows = LiveEvent.objects.filter(
            at__gte=self.since - timedelta(seconds=DB_OVERLAP_SECONDS)
        ).values_list("pk", "job_id", "at")
        fresh = []
        for pk, job_id, at in rows:
            if pk not in self.seen:
                self.seen[pk] = now
                fresh.append(job_id)
            self.since = max(self.since, at)
        for pk in [pk for pk, seen in self.seen.items() if now - seen > 2 * DB_OVERLAP_SECONDS]:
            del self.seen[pk]
        return fresh

    def close(self) -> None:
        connections["default"].close()


class RedisChannel:
    """The channel on Redis pub/sub: a notice reaches every web process within milliseconds."""

    name = "redis"

    def __init__(self, url: str, channel: str | None = None) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.channel = channel or channel_name()

    def publish(self, job_ids: list[int]) -> None:
        self.client.publish(self.channel, ",".join(str(i) for i in job_ids))

    def reader(self) -> RedisReader:
        return RedisReader(self.client, self.channel)


class RedisReader:
    def __init__(self, client, channel: str) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)

    def read(self, timeout: float) -> list[int]:
        ids: list[int] = []
        message = self.pubsub.get_message(timeout=timeout)
        while message is not None:
            if message.get("type") == "message":
                ids.extend(_parse_ids(message["data"]))
            message = self.pubsub.get_message(timeout=0)
        return ids

    def close(self) -> None:
        self.pubsub.close()


def _parse_ids(data: bytes | str) -> list[int]:
    text = data.decode() if isinstance(data, bytes) else data
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


_channel: DatabaseChannel | RedisChannel | None = None
_channel_lock = threading.Lock()


def get_channel() -> DatabaseChannel | RedisChannel:
    global _channel
    with _channel_lock:
        if _channel is None:
            _channel = RedisChannel(settings.REDIS_URL) if settings.REDIS_URL else DatabaseChannel()
        return _channel


# --- The hub: one listener per process, fanning out to its streams ---------------------------------


class Subscription:
    """One open stream's interest: the viewer's own jobs and/or the jobs its page shows."""

    def __init__(self, *, owner_id: int | None, job_ids: frozenset[int]) -> None:
        self.owner_id = owner_id
        self.job_ids = job_ids
        self._pending: list[tuple[int, int]] = []
        self._ready = threading.Condition()

    def wants(self, job_id: int, owner_id: int | None) -> bool:
        return job_id in self.job_ids or (self.owner_id is not None and owner_id == self.owner_id)

    def push(self, event_id: int, job_id: int) -> None:
        with self._ready:
            self._pending.append((event_id, job_id))
            self._ready.notify()

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        """The events that arrived, waiting up to ``timeout`` for the first; one per job."""
        with self._ready:
            if not self._pending:
                self._ready.wait(timeout)
            pending, self._pending = self._pending, []
        latest: dict[int, int] = {}
        for event_id, job_id in pending:
            latest[job_id] = event_id
        return sorted((event_id, job_id) for job_id, event_id in latest.items())


class Hub:
    """Reads the channel in one thread and hands each id to the streams that want it."""

    def __init__(self, channel_factory: Callable[[], DatabaseChannel | RedisChannel]) -> None:
        self._channel_factory = channel_factory
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._recent: deque[tuple[int, int, int | None]] = deque()  # (event id, job, owner)
        self._owners: dict[int, int | None] = {}
        self._last_event_id = 0
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.connected = False
        self._watch_marked = -math.inf  # monotonic time of the last mark
        self._watch_new = False  # a stream opened since: mark its jobs at once

    # Streams ----------------------------------------------------------------------------------

    def subscribe(
        self, *, owner_id: int | None, job_ids: Iterable[int], since: int | None = None
    ) -> Subscription:
        sub = Subscription(owner_id=owner_id, job_ids=frozenset(job_ids))
        with self._lock:
            self._subs.add(sub)
            self._watch_new = True
            replay = [
                (eid, job) for eid, job, owner in self._recent if since is not None and eid > since
            ]
            replay = [(eid, job) for eid, job in replay if sub.wants(job, self._owners.get(job))]
        for event_id, job_id in replay:
            sub.push(event_id, job_id)
        self._ensure_running()
        self._wake.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def open_streams(self) -> int:
        with self._lock:
            return len(self._subs)

    def mark_watched(self) -> int:
        """Mark the jobs this process's streams follow as watched, when due (a stream opened, or
        the last mark is WATCH_RENEW_SECONDS old). Returns how many jobs were marked."""
        now = time.monotonic()
        with self._lock:
            if not self._subs:
                return 0
            if not self._watch_new and now - self._watch_marked < WATCH_RENEW_SECONDS:
                return 0
            self._watch_new = False
            self._watch_marked = now
            owners = {sub.owner_id for sub in self._subs if sub.owner_id is not None}
            job_ids = set().union(*(sub.job_ids for sub in self._subs))
        try:
            return jobs_mark_watched(owner_ids=owners, job_ids=job_ids)
        except Exception:
            # Only the polling gets sparser (the fixed interval); the streams go on, and the
            # next pass of the listener tries again rather than waiting for the renewal.
            logger.warning("live: could not mark watched jobs", exc_info=True)
            with self._lock:
                self._watch_new = True
            return 0

    # Delivery ---------------------------------------------------------------------------------

    def deliver(self, job_ids: list[int]) -> None:
        """Hand ids read from the channel to the streams that want them."""
        if not job_ids:
            return
        self._learn_owners(job_ids)
        now_ms = int(time.time() * 1000)
        with self._lock:
            cutoff = now_ms - int(REPLAY_SECONDS * 1000)
            while self._recent and self._recent[0][0] < cutoff:
                self._recent.popleft()
            events = []
            for job_id in job_ids:
                # Event ids are milliseconds since the epoch (increasing), so a tab reconnecting
                # to another process still names a moment that process understands.
                self._last_event_id = max(now_ms, self._last_event_id + 1)
                owner = self._owners.get(job_id)
                self._recent.append((self._last_event_id, job_id, owner))
                events.append((self._last_event_id, job_id, owner))
            subs = list(self._subs)
        for event_id, job_id, owner in events:
            for sub in subs:
                if sub.wants(job_id, owner):
                    sub.push(event_id, job_id)

    def _learn_owners(self, job_ids: list[int]) -> None:
        """Whose jobs these are, for streams that follow a person's own jobs: one query per
        batch of jobs this process has not seen yet (a job's owner never changes)."""
        VideoJob = _model("VideoJob")  # noqa: N806
        unknown = {i for i in job_ids if i not in self._owners}
        if not unknown:
            return
        found = dict(VideoJob.objects.filter(pk__in=unknown).values_list("pk", "owner_id"))
        if len(self._owners) > 50_000:
            self._owners.clear()
        for job_id in unknown:
            self._owners[job_id] = found.get(job_id)

    # The listener thread ----------------------------------------------------------------------

    def _ensure_running(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="soraweb-live", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        backoff = 1.0
        while True:
            self._wake.clear()  # before looking: a stream opening meanwhile sets it again
            if not self.open_streams:
                # Nobody listening in this process: no reads at all until a stream opens.
                self.connected = False
                self._wake.wait(30)
                continue
            reader = None
            try:
                reader = self._channel_factory().reader()
                self.connected = True
                backoff = 1.0
                while self.open_streams:
                    self.deliver(reader.read(DB_POLL_SECONDS))
                    self.mark_watched()
            except Exception:
                self.connected = False
                logger.warning("live: channel read failed; retrying in %.0f s", backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                if reader is not None:
                    try:
                        reader.close()
                    except Exception:
                        logger.debug("live: closing the reader failed", exc_info=True)
                connections["default"].close()


hub = Hub(get_channel)


def jobs_mark_watched(*, owner_ids: Iterable[int], job_ids: Iterable[int]) -> int:
    """Jobs still at the provider that an open tab shows (its person's own, or named by id):
    watched for the next WATCH_SECONDS."""
    from django.db.models import Q

    VideoJob = _model("VideoJob")  # noqa: N806  (the registry: the models import this module)
    owners, ids = list(owner_ids), list(job_ids)
    if not owners and not ids:
        return 0
    until = timezone.now() + timedelta(seconds=WATCH_SECONDS)
    return VideoJob.objects.filter(
        Q(pk__in=ids) | Q(owner_id__in=owners), state__in=VideoJob.at_provider_states
    ).update(watched_until=until)


# --- One stream ------------------------------------------------------------------------------------


class _Slots:
    """How many streams this process may hold; the rest of its threads stay for pages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = 0

    def take(self) -> bool:
        with self._lock:
            if self.held >= settings.SORAWEB_LIVE_STREAMS:
                return False
            self.held += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.held -= 1


slots = _Slots()
_draining = threading.Event()


def drain() -> None:
    """This process is stopping (gunicorn recycles or stops the worker): end every stream now,
    so its tabs reconnect to another process instead of holding this one for its grace period."""
    _draining.set()
    with hub._lock:
        subs = list(hub._subs)
    for sub in subs:
        sub.push(0, 0)  # wakes the stream, which then sees the process is draining


def stream(
    *, owner_id: int | None, job_ids: Iterable[int], since: int | None = None
) -> Iterator[str]:
    """A server-sent-events body: ``event: job-<id>`` each time one of the jobs changes."""
    if _draining.is_set() or not slots.take():
        low, high = BUSY_RETRY_MS
        yield f"retry: {random.randint(low, high)}\n: busy\n\n"
        return
    # The thread is held for minutes: it must not hold a database connection meanwhile.
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()
    sub = hub.subscribe(owner_id=owner_id, job_ids=job_ids, since=since)
    try:
        # "live" and "ping" tell the page the stream works (app.js then slows the card polls).
        yield f"retry: {RETRY_MS}\nevent: live\ndata: 1\n\n"
        ends = time.monotonic() + settings.SORAWEB_LIVE_STREAM_SECONDS
        while (left := ends - time.monotonic()) > 0 and not _draining.is_set():
            events = [
                e for e in sub.wait(min(settings.SORAWEB_LIVE_HEARTBEAT_SECONDS, left)) if e[1]
            ]
            if _draining.is_set():
                break
            if events:
                yield "".join(
                    f"id: {event_id}\nevent: job-{job_id}\ndata: {job_id}\n\n"
                    for event_id, job_id in events
                )
            else:
                yield "event: ping\ndata: 1\n\n"  # finds a closed tab; keeps proxies open
    finally:
        hub.unsubscribe(sub)
        slots.give_back()
