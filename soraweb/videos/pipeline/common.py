"""What several pipeline steps share: the provider client, backoff, limits, picture fitting."""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from soraweb.providers import make_client
from soraweb.providers.base import VideoProvider
from soraweb.providers.http import full_jitter_delay
from soraweb.videos.models import AT_PROVIDER_STATES, ImageFit, Provider, VideoJob
from soraweb.videos.params import frame_of
from soraweb.videos.selectors import provider_needs_exact_image, video_frame

logger = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 4
MAX_ARCHIVE_ATTEMPTS = 5
MAX_PERMANENT_POLL_ERRORS = 3


def provider_client(provider: Provider) -> VideoProvider:
    return make_client(provider.config())


def backoff_seconds(
    attempt: int, *, base: float = 2.0, cap: float = 300.0, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter; never sooner than the provider asked, nor under 1 s."""
    return max(full_jitter_delay(attempt, base=base, cap=cap), retry_after or 0.0, 1.0)


def reference_fit_for(
    job: VideoJob, *, body: dict | None = None, values: dict | None = None
) -> tuple[str, tuple[int, int] | None]:
    """How (crop, pad or "" for unchanged) and to what frame a job's reference image is fitted.

    The frame is the size the wire body asks for (``1024x1792``, ``1280*720``), else the one the
    aspect ratio and resolution make, else the old size tokens'. Jobs from before the choice
    existed get a crop where the format insists on an exact size.
    """
    frame = frame_of(body or {}, values or {})
    if frame is None:
        frame = video_frame(size=job.size, orientation=job.orientation)
    mode = job.image_fit
    if not mode:
        mode = ImageFit.CROP if provider_needs_exact_image(job.provider) else ImageFit.NONE
    return ("" if mode == ImageFit.NONE else mode), frame


# --- When to ask next: predictive polling ---------------------------------------------------------
#
# A status query is worth most just after the job finished and is wasted long before. What is known
# about when it will finish: the model's recent generation times (median and spread of the last
# jobs per model and length), and, once the provider reports progress twice, how fast it moves.
# Both give a normal estimate of the finishing age E ± sigma. Queries are then spaced so that the
# gap at age t is DENSE_GAP * exp((t - E)^2 / (4 sigma^2)): spacing by the inverse square root of the
# finishing density is what minimises the expected delay for a given number of queries. Far from E
# the gaps are long (sparse early), near E they are DENSE_GAP, or wider when sigma is so large
# that this would ask more often than fixed 10 s polling (dense_gap). A job later than expected is
# asked about at a gap that grows slowly with how late it is, never sparser than the provider's
# fixed interval. Without any estimate (a model's first jobs, no progress) the fixed interval holds.

DENSE_GAP = 0.8  # seconds between queries around the expected finish
MAX_GAP = 60.0  # early gaps: a job that fails early is still noticed within a minute
LATE_GROWTH = 0.1  # overdue by 30 s: asked every DENSE_GAP + 3 s (capped at the fixed interval)
BUDGET_INTERVAL = 10.0  # never more queries than polling at this fixed interval would make
EARLY_QUERIES = 2  # what the sparse queries before the dense window take of that budget
STATS_JOBS = 20  # finished jobs per model the median and spread are taken from
STATS_MIN_JOBS = 3
STATS_TTL = 30.0  # seconds a model's figures are reused before they are read again


@dataclass(frozen=True)
class Estimate:
    """When a job should finish, as its age in seconds since it was submitted, and how sure."""

    age: float
    sigma: float


@dataclass(frozen=True)
class GenerationStats:
    median: float
    spread: float  # a robust standard deviation: 1.4826 x the median absolute deviation
    jobs: int

    @classmethod
    def of(cls, seconds: list[float]) -> GenerationStats | None:
        if len(seconds) < STATS_MIN_JOBS:
            return None
        median = statistics.median(seconds)
        mad = statistics.median(abs(s - median) for s in seconds)
        return cls(median=median, spread=1.4826 * mad, jobs=len(seconds))


def _stats_sigma(stats: GenerationStats) -> float:
    # A handful of identical times says little: never trust them to better than 2 %, or 0.5 s.
    return max(stats.spread, 0.02 * stats.median, 0.5)


def progress_estimate(
    first: tuple[float, int] | None, last: tuple[float, int] | None
) -> Estimate | None:
    """The finishing age from two progress reports ``(age, percent)``: a straight line through
    them. Its uncertainty covers whole-percent rounding of both reports (the rate's error grows
    the remaining time) plus the time one percent takes."""
    if not first or not last:
        return None
    (t1, p1), (t2, p2) = first, last
    if p2 <= p1 or t2 - t1 < 1.0 or p2 >= 100:
        return None
    rate = (p2 - p1) / (t2 - t1)  # percent per second
    remaining = (100 - p2) / rate
    sigma = remaining * 2.0 / (p2 - p1) + 1.0 / rate
    return Estimate(age=t2 + remaining, sigma=max(sigma, 0.3))


def finish_estimate(
    *,
    stats: GenerationStats | None,
    progress_first: tuple[float, int] | None = None,
    progress_last: tuple[float, int] | None = None,
) -> Estimate | None:
    """Both estimates weighed by how sure each is (inverse variance), or whichever exists."""
    from_stats = Estimate(stats.median, _stats_sigma(stats)) if stats else None
    from_progress = progress_estimate(progress_first, progress_last)
    if not from_stats or not from_progress:
        return from_progress or from_stats
    w_s, w_p = 1 / from_stats.sigma**2, 1 / from_progress.sigma**2
    age = (from_stats.age * w_s + from_progress.age * w_p) / (w_s + w_p)
    return Estimate(age=age, sigma=(w_s + w_p) ** -0.5)


def dense_gap(est: Estimate) -> float:
    """The gap around the expected finish: DENSE_GAP, or wider when the estimate is so unsure
    that polling that densely would ask more often than the seeds' fixed 10 s polling does. The
    spacing below asks sqrt(4 pi) sigma / gap times over the whole window and a job is seen done
    about half-way through it, so sqrt(2 pi) sigma / gap is a fair count, plus a few early."""
    budget = max(1.0, est.age / BUDGET_INTERVAL - EARLY_QUERIES)
    return max(DENSE_GAP, math.sqrt(2 * math.pi) * est.sigma / budget)


def _gap_at(t: float, est: Estimate) -> float:
    z = (t - est.age) / (2 * est.sigma)
    return dense_gap(est) * math.exp(min(z * z, 50.0))


def next_poll_delay(
    *, age: float, estimate: Estimate | None, interval: float, poll_after: float | None = None
) -> float:
    """Seconds until the next status query of a job ``age`` seconds after it was submitted.

    ``interval`` is the provider's fixed interval (used without an estimate, and the sparsest a
    late job is asked about); ``poll_after`` is what the provider asked for (openai-poll-after-ms),
    a floor: asking sooner than a relay says only earns 429s.
    """
    floor = max(poll_after or 0.0, DENSE_GAP)
    if estimate is None:
        return max(interval, floor)
    dense = dense_gap(estimate)
    if age >= estimate.age:
        late = dense + LATE_GROWTH * (age - estimate.age)
        # Capped at the fixed interval, however wide the window was: a model whose short jobs
        # vary a lot has a dense gap of tens of seconds, and a job past its estimate must not
        # wait that long to be seen (the fixed interval is what polling without a plan gives).
        return max(min(_gap_at(age, estimate), late, interval), floor)
    # The next query at the first t' with t' - age >= gap(t'): the gap of the moment asked about,
    # so a long early jump lands where queries are dense, not past the finish.
    lo, hi = age + dense, max(estimate.age, age + dense)
    if hi - age >= _gap_at(hi, estimate):
        for _ in range(40):
            mid = (lo + hi) / 2
            if mid - age >= _gap_at(mid, estimate):
                hi = mid
            else:
                lo = mid
    return max(min(hi - age, MAX_GAP), floor)


_stats_cache: dict[tuple[int, int], tuple[float, GenerationStats | None]] = {}


def generation_stats(*, video_model_id: int, duration: int) -> GenerationStats | None:
    """Median and spread of submit-to-finished over the model's last jobs of this length (or of
    any length, while fewer than a few have finished), reread at most every ``STATS_TTL``."""
    key = (video_model_id, duration)
    now = time.monotonic()
    cached = _stats_cache.get(key)
    if cached and now - cached[0] < STATS_TTL:
        return cached[1]
    done = VideoJob.objects.filter(
        video_model_id=video_model_id,
        provider_completed_at__isnull=False,
        submitted_at__isnull=False,
    ).order_by("-provider_completed_at")
    stats = None
    for rows in (done.filter(duration=duration), done):
        times = [
            (finished - submitted).total_seconds()
            for submitted, finished in rows.values_list("submitted_at", "provider_completed_at")[
                :STATS_JOBS
            ]
            if submitted and finished  # the filter above; said again for the type checker
        ]
        stats = GenerationStats.of([t for t in times if t > 0])
        if stats:
            break
    _stats_cache[key] = (now, stats)
    return stats


def forget_generation_stats() -> None:
    _stats_cache.clear()


def note_progress(seen: dict | None, at: float, progress: int | None) -> dict:
    """The progress reports worth keeping after one at unix time ``at``: the first above zero,
    and the latest *change* (a value seen again keeps the time it was first seen, so progress
    that stalls makes the job late, polled at the fixed interval, rather than pushing its
    expected finish ever further out)."""
    seen = dict(seen or {})
    if progress is None or not 0 < progress < 100:
        return seen
    first = seen.get("first")
    if not first or progress < first[1]:  # none yet, or the provider started over
        seen["first"] = seen["last"] = [at, progress]
    elif progress != seen.get("last", first)[1]:
        seen["last"] = [at, progress]
    return seen


# --- A job someone is watching -------------------------------------------------------------------
#
# While a tab shows a job (its live stream names it, see soraweb.videos.live), the person waits for
# that card to turn Ready. Where the planner knows nothing (no history, no progress: the fixed
# interval would hold) or the job is already late, such a job is asked about every WATCHED_GAP
# instead, so it is seen done within about a second. Before an expected finish the predictive
# schedule stands: it is already dense where the finish is likely, and watching does not make the
# job finish sooner. The provider's floors still hold (openai-poll-after-ms, DENSE_GAP, and a
# 429's Retry-After, which the poll loop applies to every query to that relay), and all of a
# provider's watched jobs together are asked about at most ``concurrency_limit`` times a second:
# with more watched jobs than that, each one's gap widens (never past what it would be unwatched).

WATCHED_GAP = 1.0  # seconds between queries of a watched job (>= DENSE_GAP: one poller per job)
WATCHED_COUNT_TTL = 5.0  # seconds a provider's count of watched jobs is reused

_watched_cache: dict[int, tuple[float, int]] = {}


def watched_jobs(provider_id: int) -> int:
    """How many of the provider's jobs at the provider an open tab shows now (cached briefly)."""
    now = time.monotonic()
    cached = _watched_cache.get(provider_id)
    if cached and now - cached[0] < WATCHED_COUNT_TTL:
        return cached[1]
    count = VideoJob.objects.filter(
        provider_id=provider_id,
        state__in=AT_PROVIDER_STATES,
        watched_until__gt=timezone.now(),
    ).count()
    _watched_cache[provider_id] = (now, count)
    return count


def forget_watched_jobs() -> None:
    _watched_cache.clear()


def watched_gap(*, watched: int, rate: float) -> float:
    """The gap of each of ``watched`` jobs when together they may make ``rate`` queries a second."""
    return max(WATCHED_GAP, watched / max(rate, 1.0))


def watched_delay(
    *,
    planned: float,
    age: float,
    estimate: Estimate | None,
    gap: float,
    poll_after: float | None = None,
) -> float:
    """``planned`` (the unwatched delay) for a job a tab shows: ``gap`` where the planner knows
    nothing or the job is late, never under the provider's floor nor over ``planned``."""
    if estimate is not None and age < estimate.age:
        return planned
    return min(planned, max(gap, poll_after or 0.0, DENSE_GAP))


def plan_next_poll(
    job: VideoJob, *, progress: int | None, poll_after: float | None, now: datetime
) -> tuple[float, dict]:
    """The delay until ``job``'s next status query after an answer at ``now``, and the progress
    reports to keep on the job (``progress_seen``: the first above zero and the latest, each as
    ``[unix seconds, percent]``)."""
    provider = job.provider
    interval = provider.effective_poll_interval
    at = now.timestamp()
    seen = note_progress(job.progress_seen, at, progress)
    if not provider.predictive_polling:
        return max(poll_after or 0.0, interval), seen
    started = (job.submitted_at or job.created_at).timestamp()

    def aged(sample):
        return (sample[0] - started, sample[1]) if sample else None

    estimate = finish_estimate(
        stats=generation_stats(video_model_id=job.video_model_id, duration=job.duration),
        progress_first=aged(seen.get("first")),
        progress_last=aged(seen.get("last")),
    )
    delay = next_poll_delay(
        age=at - started, estimate=estimate, interval=interval, poll_after=poll_after
    )
    if job.watched_until is not None and job.watched_until > now:
        gap = watched_gap(watched=watched_jobs(provider.pk), rate=provider.concurrency_limit)
        delay = watched_delay(
            planned=delay, age=at - started, estimate=estimate, gap=gap, poll_after=poll_after
        )
    return delay, seen
