"""The simulator's job store, and the clock it reads.

A job's life is a pure function of the clock: queued for the first ``queue_fraction`` of its
run time, then running with rising progress, then completed (or failed, per the prompt's
fault markers), then expired once its result's time to live is over. Nothing needs a status
query to advance, so a ticker can fire webhooks.

The clock is injectable: ``SystemClock`` (the default) reads ``time.time()``; ``FakeClock``
only moves when a test calls ``advance(seconds)``, so a test about soraweb's handling of a
finished, failed or expired job need not sleep through the job's run time.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import catalogue_models
from .faults import Faults

FORMATS = ("unified", "chat", "openai", "newapi")
ORIENTATIONS = ("portrait", "landscape")
# What OpenAI's /videos takes (spec section 3); a catalogue model may list others its gateway
# accepts, any other model gets exactly these.
OPENAI_SECONDS = ("4", "8", "12")


# --------------------------------------------------------------------------- clocks


class Clock(Protocol):
    """Where the simulator reads the time of its jobs (unix seconds)."""

    def now(self) -> float: ...

    def sleep_until(self, deadline: float, stop: threading.Event) -> bool:
        """Wait until ``now() >= deadline``; True when ``stop`` was set (stopping)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()

    def sleep_until(self, deadline: float, stop: threading.Event) -> bool:
        wait = deadline - time.time()
        return stop.wait(wait) if wait > 0 else stop.is_set()


class FakeClock:
    """A clock that moves only when told: ``advance(seconds)``. Starts at the wall time of its
    creation (or ``start``), so the times it gives look like real ones."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._changed = threading.Condition()

    def now(self) -> float:
        with self._changed:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the new time. Sleepers past their deadline wake."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._changed:
            self._now += seconds
            self._changed.notify_all()
            return self._now

    def sleep_until(self, deadline: float, stop: threading.Event) -> bool:
        with self._changed:
            while self._now < deadline:
                if stop.is_set():
                    return True
                # Short waits: ``stop`` is an Event, not this condition.
                self._changed.wait(0.05)
        return stop.is_set()


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelRule:
    """What the simulator accepts for one model name."""

    sizes: tuple[str, ...] = ("small", "large")  # unified size tokens
    durations: tuple[int, ...] | None = None  # unified/newapi; None = any 1..60
    openai_sizes: tuple[str, ...] | None = None  # None = any WxH
    # From a catalogue file: durations per format, openai seconds, content[] role limits.
    durations_by_format: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    openai_seconds: tuple[str, ...] = OPENAI_SECONDS
    role_limits: Mapping[str, int] = field(default_factory=dict)
    # Where sound and the first / last frames arrive, per format (catalogue_models.Place).
    media: Mapping[str, Mapping[str, catalogue_models.Place]] = field(default_factory=dict)
    audio_default: bool | None = None

    def durations_for(self, fmt: str) -> tuple[int, ...] | None:
        return self.durations_by_format.get(fmt, self.durations)


def rules_from_catalogue(
    paths: Iterable[str | os.PathLike[str]] | None = None,
) -> dict[str, ModelRule]:
    """ModelRules for every model of catalogue files (the app's presets by default)."""
    models = catalogue_models.load(paths) if paths is not None else catalogue_models.load()
    return {
        name: ModelRule(
            sizes=m.unified_sizes,
            durations=m.durations.get("unified") or m.durations.get("newapi"),
            openai_sizes=m.openai_sizes,
            durations_by_format=dict(m.durations),
            openai_seconds=m.openai_seconds or OPENAI_SECONDS,
            role_limits=dict(m.role_limits),
            media=dict(m.media),
            audio_default=m.audio_default,
        )
        for name, m in models.items()
    }


# The simulator sells the catalogue's presets, read as a file like any outside relay would.
DEFAULT_MODEL_RULES: dict[str, ModelRule] = rules_from_catalogue()
# New catalogue models (Seedance, Veo, ...) must work without touching the simulator.
PERMISSIVE_RULE = ModelRule()


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Media:
    """What a create asked the clip to carry: sound, and the first and last pictures."""

    audio: bool | None = None
    first: bytes | None = None
    last: bytes | None = None


@dataclass
class Job:
    id: str
    format: str
    prompt: str
    model: str
    orientation: str
    size: str  # as requested: "small"/"large" or "WxH"
    seconds: int
    width: int  # of the rendered clip
    height: int
    large: bool
    images: list[str]
    created_at: float
    run_seconds: float
    faults: Faults
    token: str  # names the result files: the URL is the credential, like a signed CDN link
    seq: int
    remixed_from: str | None = None
    forced_at: float | None = None
    deleted: bool = False
    notified: bool = False
    polls: int = 0
    # Chat streams: (unix time, percent) of each progress line, taken as it was written.
    progress_sent: list[tuple[float, int]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # What the clip carries: sound (None: the server's default) and the pictures it starts and
    # ends on (decoded bytes, None when not given or only given as an outside URL).
    audio: bool | None = None
    first_frame: bytes | None = None
    last_frame: bytes | None = None
    render_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(frozen=True)
class JobView:
    """A job at one instant."""

    state: str  # queued | running | completed | failed | expired
    progress: float  # 0..1
    changed_at: float  # when ``state`` began (unix seconds)
    completed_at: float | None
    expires_at: float | None
    error: str | None

    @property
    def terminal(self) -> bool:
        return self.state in ("completed", "failed", "expired")

    @property
    def has_result(self) -> bool:
        return self.state == "completed"


class JobStore:
    """Every job of every format, the per-prompt counters the fault markers read, and the
    jobs whose end a ticker still awaits. Thread-safe; times come from ``clock``."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        queue_fraction: float = 0.15,
        result_ttl: float | None = 3600.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.queue_fraction = min(max(float(queue_fraction), 0.0), 0.9)
        self.result_ttl = result_ttl
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.by_token: dict[str, str] = {}
        self.pending: set[str] = set()  # jobs whose terminal moment the ticker still awaits
        self._seq = 0
        self._create_attempts: dict[str, int] = {}  # prompt -> validated create attempts
        self._accepted_by_prompt: dict[str, int] = {}

    # ----------------------------------------------------------------- writing

    def add(self, *, media: Media | None = None, **fields: Any) -> Job:
        """Store a new job created now (``fields``: Job's, less the ones the store assigns)."""
        with self.lock:
            self._seq += 1
            job = Job(
                created_at=self.clock.now(),
                token=secrets.token_urlsafe(18),
                seq=self._seq,
                **fields,
            )
            if media is not None:
                job.audio, job.first_frame, job.last_frame = media.audio, media.first, media.last
            self.jobs[job.id] = job
            self.by_token[job.token] = job.id
            self._accepted_by_prompt[job.prompt] = self._accepted_by_prompt.get(job.prompt, 0) + 1
            self.pending.add(job.id)
        return job

    def force(self, job: Job) -> None:
        """End the job now with its planned outcome (unless it has ended already)."""
        with self.lock:
            if job.forced_at is None and not self.view(job).terminal:
                job.forced_at = self.clock.now()

    def delete(self, job: Job) -> None:
        with self.lock:
            job.deleted = True

    def note_attempt(self, prompt: str) -> int:
        """Count a valid create attempt; return how many came before it for this prompt."""
        with self.lock:
            before = self._create_attempts.get(prompt, 0)
            self._create_attempts[prompt] = before + 1
            return before

    def accepted_before(self, prompt: str) -> int:
        with self.lock:
            return self._accepted_by_prompt.get(prompt, 0) - 1

    def note_poll(self, job: Job) -> int:
        with self.lock:
            before = job.polls
            job.polls += 1
            return before

    def settle(self) -> list[tuple[Job, JobView]]:
        """The jobs that reached their end since the last call, each reported once."""
        with self.lock:
            pending = [self.jobs[job_id] for job_id in self.pending]
        now = self.clock.now()
        ended: list[tuple[Job, JobView]] = []
        for job in pending:
            view = self.view(job, now)
            if not view.terminal:
                continue
            with self.lock:
                if job.notified:
                    continue
                job.notified = True
                self.pending.discard(job.id)
            ended.append((job, view))
        return ended

    # ----------------------------------------------------------------- reading

    def get(self, remote_id: str, *, include_deleted: bool = False) -> Job | None:
        with self.lock:
            job = self.jobs.get(remote_id)
        if job is None or (job.deleted and not include_deleted):
            return None
        return job

    def by_file_token(self, token: str) -> Job | None:
        with self.lock:
            job_id = self.by_token.get(token)
        return self.get(job_id) if job_id else None

    def ordered(self, fmt: str | None = None) -> list[Job]:
        """Jobs in creation order (of one format, if given), deleted ones included."""
        with self.lock:
            jobs = [j for j in self.jobs.values() if fmt is None or j.format == fmt]
        return sorted(jobs, key=lambda j: j.seq)

    def count(self) -> int:
        with self.lock:
            return len(self.jobs)

    def creates_for_prompt(self, text: str) -> int:
        with self.lock:
            return sum(1 for job in self.jobs.values() if text in job.prompt)

    def attempts_for_prompt(self, text: str) -> int:
        with self.lock:
            return sum(n for prompt, n in self._create_attempts.items() if text in prompt)

    def view(self, job: Job, now: float | None = None) -> JobView:
        """Where the job is at ``now``: every format's status is derived from this."""
        now = self.clock.now() if now is None else now
        run = job.run_seconds
        queue_end = job.created_at + run * self.queue_fraction
        full_end = job.created_at + run
        reason = job.faults.failure_reason
        if job.forced_at is not None:
            end = job.forced_at
        elif job.faults.stuck:
            end = math.inf
        elif reason:
            # Moderation rejects early; a generic failure strikes late, after progress.
            end = job.created_at + run * (0.3 if job.faults.moderation else 0.7)
        else:
            end = full_end

        def progress_at(t: float) -> float:
            if t <= queue_end:
                return 0.0
            value = (t - queue_end) / max(full_end - queue_end, 1e-6)
            return min(value, 0.5 if job.faults.stuck else 0.99)

        if now >= end:
            if reason:
                return JobView("failed", progress_at(end), end, None, None, reason)
            ttl = job.faults.expire_after
            if ttl is None:
                ttl = self.result_ttl
            expires = end + ttl if ttl is not None else None
            if expires is not None and now >= expires:
                return JobView("expired", 1.0, expires, end, expires, None)
            return JobView("completed", 1.0, end, end, expires, None)
        if now < queue_end:
            return JobView("queued", 0.0, job.created_at, None, None, None)
        return JobView("running", progress_at(now), queue_end, None, None, None)
