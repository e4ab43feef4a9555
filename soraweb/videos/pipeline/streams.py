"""Chat-format generations read side by side in one worker process, not one task each.

A chat relay answers the create call with a stream that lasts as long as the generation (spec
section 2), minutes at a time. Read inside the submit task, each stream held a whole django-q2
worker process. Here the submit task claims the job, builds the request and hands the stream to
this process's reader, then returns: the worker takes its next task while the stream is read.

- One thread per stream, blocked in ``recv`` nearly all the time (the GIL is released there),
  running the same ``ChatClient.create`` as before, so its timeouts, URL guard and its verdict on
  a stream that broke (``outcome_unknown``: never sent again) are the same code.
- One writer thread does every database write for all of them: progress, the claim's lease and
  the final answer through the same functions the task used (``job_apply_answer`` and the
  recording retry of ``submit``). So a hundred streams use one connection, and SQLite sees one
  writer instead of a hundred queueing on its lock.
- The claim's lease (``lease_until`` of a "submitting" job) is renewed for every stream that is
  being read, by a heartbeat. When the process dies, its streams die with it, nobody renews,
  the lease runs out and the sweep (``recover.jobs_recover``) parks the job in "Needs
  attention", as it did when the task died. Nothing here ever sends a create again.
- Stream threads are not daemons and each waits until its answer is recorded: a worker that
  django-q2 recycles (or stops gracefully) finishes its streams before the process exits.
- django-q2's task timeout covers the task, which is over at once; it no longer applies to the
  stream. The stream is bounded by the client's own limits (per-chunk read timeout, overall
  ``stream_max_seconds``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_q.conf import Conf

from soraweb.providers.base import CreateRequest, CreateResult, JobStatus, VideoProvider
from soraweb.videos.models import JobState, VideoJob

logger = logging.getLogger(__name__)

# Progress lines that arrive together (a hundred streams tick at once) go out in one transaction:
# the writer waits this long after the first before writing. Far below the 1 s a line may take.
COALESCE_SECONDS = 0.02


def lease_seconds() -> float:
    return float(settings.SORAWEB_SUBMIT_LEASE_SECONDS)


# How a finished stream's outcome is recorded: submit.job_apply_create (passed in, so that this
# module does not import the one that calls it).
Record = Callable[..., None]


@dataclass
class _Stream:
    job: VideoJob
    record: Record
    record_seconds: float  # the most the recording may take (it retries while the DB is away)
    outcome: CreateResult | BaseException | None = None
    recorded: threading.Event = field(default_factory=threading.Event)


class StreamReader:
    """Reads up to ``max_streams`` chat streams at once in this process (see the module doc)."""

    def __init__(self, *, max_streams: int) -> None:
        self.pid = os.getpid()
        self.max_streams = max_streams
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._reading: dict[int, _Stream] = {}
        self._progress: dict[int, JobStatus] = {}  # the latest unwritten line of each job
        self._finished: deque[_Stream] = deque()
        self._writer: threading.Thread | None = None

    def start(
        self,
        job: VideoJob,
        client: VideoProvider,
        request: CreateRequest,
        *,
        record: Record,
        record_seconds: float,
    ) -> bool:
        """Start reading ``job``'s stream in a thread of its own; ``record(job=, outcome=)``
        is called with how the create ended. False when this process already reads as many as
        it may (the caller then reads it inline, as before)."""
        stream = _Stream(job=job, record=record, record_seconds=record_seconds)
        with self._lock:
            if len(self._reading) >= self.max_streams or job.pk in self._reading:
                return False
            self._ensure_writer()
            self._reading[job.pk] = stream
        thread = threading.Thread(
            target=self._read,
            args=(stream, client, request),
            name=f"stream-{job.pk}",
            daemon=False,  # see the module doc: a billed generation is read to its end
        )
        try:
            thread.start()
        except RuntimeError:  # no more threads for this process: read it inline instead
            with self._lock:
                self._reading.pop(job.pk, None)
            return False
        return True

    # -- the stream threads --------------------------------------------------------------

    def _read(self, stream: _Stream, client: VideoProvider, request: CreateRequest) -> None:
        pk = stream.job.pk

        def on_progress(status: JobStatus) -> None:
            with self._lock:
                self._progress[pk] = status
            self._wake.set()

        try:
            stream.outcome = client.create(request, on_progress=on_progress)
        except BaseException as exc:  # ProviderError, or a bug: the writer decides what it means
            stream.outcome = exc
        with self._lock:
            self._finished.append(stream)
        self._wake.set()
        # Held until the answer is in the database (the recording retries while the database
        # is away), so that the process stays until then.
        if not stream.recorded.wait(stream.record_seconds + 4 * lease_seconds()):
            logger.error("job %s: the stream's answer was not recorded in time", pk)

    # -- the writer ----------------------------------------------------------------------

    def _ensure_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            # A daemon: it never keeps the process alive by itself; the stream threads do,
            # until it has recorded their answers.
            self._writer = threading.Thread(
                target=self._write_loop, name="stream-writer", daemon=True
            )
            self._writer.start()

    def _write_loop(self) -> None:
        beat = max(0.5, lease_seconds() / 4)
        next_beat = time.monotonic() + beat
        while True:
            woken = self._wake.wait(timeout=max(0.0, next_beat - time.monotonic()))
            if woken:
                time.sleep(COALESCE_SECONDS)
            self._wake.clear()
            try:
                self._write_progress()
                self._record_finished()
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + beat
                    # A long-lived thread has no request cycle to drop a stale or too old
                    # connection (CONN_MAX_AGE, health checks): do it here, once per beat.
                    close_old_connections()
                    self._renew_leases()
            except Exception:
                # The database is away, or a bug: log, reconnect next time, keep going. A lease
                # that runs out meanwhile parks its job, which is the safe way to fail.
                logger.warning("stream writer: could not write", exc_info=True)
                connection.close()
                time.sleep(0.5)
                self._wake.set()

    def _write_progress(self) -> None:
        with self._lock:
            pending, self._progress = self._progress, {}
        if not pending:
            return
        until = timezone.now() + timedelta(seconds=lease_seconds())
        try:
            with transaction.atomic():
                for pk, status in pending.items():
                    # Only while still "submitting": a cancel or the final answer wins.
                    VideoJob.objects.filter(pk=pk, state=JobState.SUBMITTING).update(
                        progress=status.progress or 0,
                        raw_status=status.raw_status[:100],
                        lease_until=until,
                    )
        except Exception:
            with self._lock:  # keep the lines for the next try, unless newer ones came
                self._progress = {**pending, **self._progress}
            raise

    def _record_finished(self) -> None:
        while True:
            with self._lock:
                if not self._finished:
                    return
                stream = self._finished.popleft()
                self._progress.pop(stream.job.pk, None)
            try:
                stream.record(job=stream.job, outcome=stream.outcome)
            except Exception:
                # The job stays "submitting" and its lease is no longer renewed: the sweep parks
                # it, as it parked a task that died here.
                logger.exception("job %s: could not record the stream's answer", stream.job.pk)
            finally:
                with self._lock:
                    self._reading.pop(stream.job.pk, None)
                stream.recorded.set()

    def _renew_leases(self) -> None:
        with self._lock:
            reading = list(self._reading)
        if reading:
            VideoJob.objects.filter(pk__in=reading, state=JobState.SUBMITTING).update(
                lease_until=timezone.now() + timedelta(seconds=lease_seconds())
            )


_reader: StreamReader | None = None
_reader_lock = threading.Lock()


def reader() -> StreamReader:
    """This process's reader (a worker forked from a parent that had one gets its own)."""
    global _reader
    with _reader_lock:
        if _reader is None or _reader.pid != os.getpid():
            _reader = StreamReader(max_streams=settings.SORAWEB_STREAMS_PER_WORKER)
        return _reader


def hand_over(
    job: VideoJob,
    client: VideoProvider,
    request: CreateRequest,
    *,
    record: Record,
    record_seconds: float,
) -> bool:
    """Give a claimed job's stream to this process's reader; False means read it inline.

    Inline when tasks run synchronously (``sync``: inside a web request or a test, where no
    thread should outlive the call) or when the reader is switched off or full.
    """
    if Conf.SYNC or settings.SORAWEB_STREAMS_PER_WORKER <= 0:
        return False
    return reader().start(job, client, request, record=record, record_seconds=record_seconds)
