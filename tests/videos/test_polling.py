"""Predictive polling (when to ask next) and the poll loop's pass deadline (a hanging status query
holds up no other job), the latter against a real simulator over HTTP."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from soraweb.simulator.server import Simulator
from soraweb.videos import services
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel, WorkerLease
from soraweb.videos.pipeline import common, loop, poll
from soraweb.videos.pipeline.common import (
    DENSE_GAP,
    Estimate,
    GenerationStats,
    finish_estimate,
    next_poll_delay,
    progress_estimate,
)
from tests.factories import job_row


def _queries(
    finish: float, *, stats=None, progress=None, interval: float = 3.0, poll_after=None
) -> tuple[int, float]:
    """Walk one job's schedule: (queries asked until the first at or after ``finish``, how long
    after ``finish`` that one came). ``progress(age)`` is the percent a query at ``age`` sees."""
    age, asked, seen = 0.0, 0, {}
    while True:
        if progress is not None and age > 0:
            seen = common.note_progress(seen, age, progress(age))
        estimate = finish_estimate(
            stats=stats, progress_first=seen.get("first"), progress_last=seen.get("last")
        )
        age += next_poll_delay(age=age, estimate=estimate, interval=interval, poll_after=poll_after)
        asked += 1
        if age >= finish:
            return asked, age - finish
        assert asked < 1000


def _fixed_10_s(finish: float) -> int:
    return int(finish // 10) + 1


@pytest.mark.parametrize("finish", [60.0, 120.0, 183.0, 300.0])
def test_without_progress_a_model_with_a_tight_history_is_caught_sooner_for_fewer_queries(finish):
    stats = GenerationStats(median=finish, spread=0.01 * finish, jobs=20)
    asked, late = _queries(finish, stats=stats)
    assert asked <= _fixed_10_s(finish)
    assert late <= DENSE_GAP + 1e-6


@pytest.mark.parametrize("spread", [0.05, 0.1, 0.2])
def test_a_model_with_a_wide_history_still_costs_fewer_queries_than_fixed_10_s(spread):
    rng = random.Random(16)
    asked, fixed, late = [], [], []
    for median in (60.0, 120.0, 180.0, 240.0, 300.0):
        stats = GenerationStats(median=median, spread=spread * median, jobs=20)
        for _ in range(40):
            finish = rng.gauss(median, spread * median)
            n, after = _queries(finish, stats=stats)
            asked.append(n)
            fixed.append(_fixed_10_s(finish))
            late.append(after)
    assert statistics.mean(asked) <= statistics.mean(fixed)
    # ... and still sees them done sooner than fixed 10 s polling would (5 s on average).
    assert statistics.median(late) < 5.0 * 0.7


@pytest.mark.parametrize("finish", [60.0, 140.0, 300.0])
def test_progress_reports_pin_the_finish_even_when_the_history_is_wide(finish):
    queued = 0.15 * finish  # no progress while queued, then a straight line to 100 %

    def progress(age: float) -> int:
        return int(max(0.0, (age - queued) / (finish - queued)) * 100)

    stats = GenerationStats(median=finish * 1.2, spread=0.25 * finish, jobs=20)
    asked, late = _queries(finish, stats=stats, progress=progress)
    assert asked <= _fixed_10_s(finish)
    assert late <= DENSE_GAP + 1e-6


def test_progress_that_stalls_makes_the_job_late_not_later():
    def stalls_at_half(age: float) -> int:
        return min(50, int(age * 10))

    # Stalled at 50 % after 5 s, finished at 200 s: asked at the fixed interval meanwhile,
    # never left for long.
    asked, late = _queries(200.0, progress=stalls_at_half, interval=3.0)
    assert late <= 3.0
    assert asked <= 200 / 3.0 + 20


def test_a_straight_progress_line_gives_the_finishing_age():
    est = progress_estimate((20.0, 10), (60.0, 50))
    assert est.age == pytest.approx(110.0)  # 1 % a second, 50 % to go from 60 s
    assert est.sigma < 10
    assert progress_estimate((20.0, 10), (20.5, 12)) is None  # too close together to tell
    assert progress_estimate((20.0, 50), (30.0, 40)) is None  # going backwards says nothing


def test_without_anything_known_the_fixed_interval_holds_and_the_provider_is_a_floor():
    assert next_poll_delay(age=5, estimate=None, interval=3.0) == 3.0
    assert next_poll_delay(age=5, estimate=None, interval=3.0, poll_after=7.5) == 7.5
    near = Estimate(age=60.0, sigma=1.0)
    assert next_poll_delay(age=59.5, estimate=near, interval=3.0) == pytest.approx(DENSE_GAP)
    assert next_poll_delay(age=59.5, estimate=near, interval=3.0, poll_after=5.0) == 5.0


def test_early_queries_are_sparse_and_a_late_job_is_never_asked_less_than_the_interval():
    est = Estimate(age=300.0, sigma=5.0)
    assert next_poll_delay(age=0, estimate=est, interval=3.0) == common.MAX_GAP
    assert next_poll_delay(age=250, estimate=est, interval=3.0) > 20
    late = [next_poll_delay(age=300 + k, estimate=est, interval=3.0) for k in (1, 10, 60, 600)]
    assert late == sorted(late)
    assert max(late) == 3.0


def test_a_late_job_of_a_short_model_with_a_wide_spread_is_asked_at_the_interval():
    # Short jobs that vary a lot (median 14 s, spread 10 s): the window around the estimate is
    # sparse (tens of seconds between queries, to stay within fixed 10 s polling's count), but
    # once the job is past its estimate it is asked about at the provider's interval.
    est = finish_estimate(stats=GenerationStats(median=14.0, spread=10.0, jobs=11))
    assert common.dense_gap(est) > 20
    for age in (15.0, 30.0, 45.0, 120.0):
        assert next_poll_delay(age=age, estimate=est, interval=3.0) == 3.0
    asked, late = _queries(60.0, stats=GenerationStats(median=14.0, spread=10.0, jobs=11))
    assert late <= 3.0


@pytest.mark.django_db
def test_the_model_history_is_its_last_jobs_of_that_length_else_of_any_length(member, sim_provider):
    common.forget_generation_stats()
    model = VideoModel.objects.get(name="sora-2")
    start = timezone.now() - timedelta(hours=1)
    for i, (duration, took) in enumerate([(10, 60), (10, 62), (10, 58), (10, 61), (15, 200)]):
        job_row(
            member,
            model,
            text=f"old {i}",
            state=JobState.SUCCEEDED,
            orientation="portrait",
            duration=duration,
            submitted_at=start,
            provider_completed_at=start + timedelta(seconds=took),
        )
    ten = common.generation_stats(video_model_id=model.pk, duration=10)
    assert ten.median == pytest.approx(60.5) and ten.jobs == 4
    assert 0 < ten.spread < 3
    # Only one 15 s job: too few, so the model's jobs of any length stand in.
    assert common.generation_stats(video_model_id=model.pk, duration=15).jobs == 5
    common.forget_generation_stats()


@pytest.mark.django_db
def test_a_provider_without_predictive_polling_keeps_its_fixed_interval(member, sim_provider):
    common.forget_generation_stats()
    model = VideoModel.objects.get(name="sora-2")
    Provider.objects.filter(pk=model.provider_id).update(
        predictive_polling=False, poll_interval_seconds=10
    )
    model.provider.refresh_from_db()
    now = timezone.now()
    job = job_row(member, model, state=JobState.RUNNING, orientation="portrait", submitted_at=now)
    job = VideoJob.objects.select_related("provider").get(pk=job.pk)
    delay, seen = common.plan_next_poll(job, progress=30, poll_after=None, now=now)
    assert delay == 1.0  # the environment's simulator: its interval is a second
    assert seen == {"first": [now.timestamp(), 30], "last": [now.timestamp(), 30]}


# --- a job someone is watching (an open tab's live stream names it) -----------------------------


def test_a_watched_job_the_planner_knows_nothing_about_is_asked_every_watched_gap():
    unwatched = next_poll_delay(age=5, estimate=None, interval=3.0)
    assert unwatched == 3.0
    gap = common.watched_gap(watched=1, rate=16)
    assert common.watched_delay(planned=unwatched, age=5, estimate=None, gap=gap) == (
        common.WATCHED_GAP
    )
    # The provider's floors hold: openai-poll-after-ms, and DENSE_GAP (one poller per job).
    assert common.watched_delay(planned=3.0, age=5, estimate=None, gap=gap, poll_after=2.5) == 2.5
    slow = next_poll_delay(age=5, estimate=None, interval=3.0, poll_after=7.5)
    assert common.watched_delay(planned=slow, age=5, estimate=None, gap=gap, poll_after=7.5) == 7.5
    assert common.watched_delay(planned=3.0, age=5, estimate=None, gap=0.1) == DENSE_GAP
    assert common.WATCHED_GAP >= DENSE_GAP


def test_watching_changes_nothing_before_an_expected_finish_and_is_dense_once_late():
    est = Estimate(age=120.0, sigma=2.0)
    gap = common.watched_gap(watched=1, rate=16)
    early = next_poll_delay(age=10, estimate=est, interval=3.0)
    assert common.watched_delay(planned=early, age=10, estimate=est, gap=gap) == early
    late = next_poll_delay(age=150, estimate=est, interval=3.0)
    assert late == 3.0
    assert common.watched_delay(planned=late, age=150, estimate=est, gap=gap) == (
        common.WATCHED_GAP
    )
    # Never sparser than unwatched, even with a gap widened by many watched jobs.
    near = next_poll_delay(age=119.5, estimate=est, interval=3.0)
    assert common.watched_delay(planned=near, age=125, estimate=est, gap=9.0) == near


def test_a_providers_watched_jobs_together_stay_within_its_concurrency_per_second():
    assert common.watched_gap(watched=12, rate=16) == common.WATCHED_GAP
    assert common.watched_gap(watched=64, rate=16) == 4.0  # 16 queries a second in all
    assert common.watched_gap(watched=5, rate=0) == 5.0  # a limit of 0 counts as 1


@pytest.fixture
def relay_without_history(member):
    """A predictive relay polled every 3 s whose model has no finished jobs yet."""
    common.forget_generation_stats()
    common.forget_watched_jobs()
    provider = Provider.objects.create(
        name="Relay polled every 3 s", base_url="http://relay.invalid/v1", concurrency_limit=4
    )
    seed = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    model = VideoModel.objects.create(
        name="sora-2",
        display_name="Sora 2 (3 s relay)",
        provider=provider,
        orientations=seed.orientations,
        sizes=seed.sizes,
        durations=seed.durations,
        price_per_second=seed.price_per_second,
    )
    yield model
    common.forget_generation_stats()
    common.forget_watched_jobs()


def _running(member, model, now, *, watched: bool, n: int = 1) -> list[VideoJob]:
    until = now + timedelta(seconds=30) if watched else None
    jobs = [
        job_row(
            member,
            model,
            orientation="portrait",
            state=JobState.RUNNING,
            text=f"job {watched} {i}",
            submitted_at=now - timedelta(seconds=20),
            watched_until=until,
        )
        for i in range(n)
    ]
    return list(VideoJob.objects.select_related("provider").filter(pk__in=[j.pk for j in jobs]))


@pytest.mark.django_db
def test_the_planner_asks_about_a_watched_job_densely_until_its_watch_runs_out(
    member, relay_without_history
):
    now = timezone.now()
    (unwatched,) = _running(member, relay_without_history, now, watched=False)
    (watched,) = _running(member, relay_without_history, now, watched=True)
    assert common.plan_next_poll(unwatched, progress=None, poll_after=None, now=now)[0] == 3.0
    assert common.plan_next_poll(watched, progress=None, poll_after=None, now=now)[0] == (
        common.WATCHED_GAP
    )
    # The tab closed: its last mark runs out, and the fixed interval holds again.
    later = now + timedelta(seconds=31)
    assert common.plan_next_poll(watched, progress=None, poll_after=None, now=later)[0] == 3.0


@pytest.mark.django_db
def test_many_watched_jobs_of_one_relay_share_its_budget(member, relay_without_history):
    now = timezone.now()
    jobs = _running(member, relay_without_history, now, watched=True, n=10)
    # concurrency_limit 4: ten watched jobs together at most four queries a second.
    delay, _ = common.plan_next_poll(jobs[0], progress=None, poll_after=None, now=now)
    assert delay == pytest.approx(10 / 4)


@pytest.mark.django_db
def test_watching_does_not_densify_a_relay_without_predictive_polling(
    member, relay_without_history
):
    Provider.objects.filter(pk=relay_without_history.provider_id).update(predictive_polling=False)
    now = timezone.now()
    (watched,) = _running(member, relay_without_history, now, watched=True)
    assert common.plan_next_poll(watched, progress=None, poll_after=None, now=now)[0] == 3.0


# --- the pass deadline, against a relay whose status query hangs --------------------------------

HANG = 6.0


@pytest.fixture
def hanging_relay(member):
    sim = Simulator(job_seconds=600, hang_seconds=HANG).start()
    provider = Provider.objects.create(name="Hangs sometimes", base_url=sim.base_url)
    seed = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    model = VideoModel.objects.create(
        name="sora-2",
        display_name="Sora 2 (hangs)",
        provider=provider,
        orientations=seed.orientations,
        sizes=seed.sizes,
        durations=seed.durations,
        price_per_second=seed.price_per_second,
    )
    yield sim, model
    sim.stop()


def _submitted(member, model, prompt: str) -> VideoJob:
    job = services.job_create(
        owner=member,
        video_model=model,
        prompt_text=prompt,
        orientation="landscape",
        size="small",
        duration=10,
    )
    job.refresh_from_db()
    assert job.state in (JobState.QUEUED, JobState.RUNNING), job.error_message
    return job


def _make_due(*jobs: VideoJob) -> None:
    VideoJob.objects.filter(pk__in=[j.pk for j in jobs]).update(next_poll_at=timezone.now())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_hanging_status_query_holds_up_no_other_job(hanging_relay, member):
    sim, model = hanging_relay
    hanging = _submitted(member, model, "hangs [sim:pollhang]")
    others = [_submitted(member, model, f"plain {i}") for i in range(3)]
    _make_due(hanging, *others)
    poller = loop.Poller()
    try:
        poller.run_pass(deadline=0.5)
        # The pass moved on: the others' answers are in, the hanging query is still out.
        assert list(poller.in_flight) == [hanging.pk]
        assert [VideoJob.objects.get(pk=j.pk).poll_count for j in others] == [1, 1, 1]
        for job in others:
            sim.complete_now(job.remote_id)
        _make_due(*others)
        assert poll.job_request_refresh(job=hanging)  # someone watches it: a refresh is asked
        poller.run_pass(deadline=0.5)
        # Finished at the relay, noticed by the next pass, while the hanging query is still out
        # and was not sent a second time.
        assert hanging.pk in poller.in_flight
        assert sim.job(hanging.remote_id)["polls"] == 1
        for job in others:
            job.refresh_from_db()
            assert job.state == JobState.SUCCEEDED, job.error_message
        stuck = VideoJob.objects.get(pk=hanging.pk)
        assert stuck.poll_count == 0 and stuck.lease_until > timezone.now()
        # Its answer comes, late, and is applied like any other; the refresh asked for meanwhile
        # makes it due again at once.
        poller.apply_answers(until=time.monotonic() + HANG + 5)
        assert not poller.in_flight
    finally:
        poller.close()
    stuck.refresh_from_db()
    assert stuck.state in (JobState.QUEUED, JobState.RUNNING)
    assert stuck.poll_count == 1 and stuck.lease_until is None
    assert stuck.next_poll_at <= timezone.now()
    assert sim.job(hanging.remote_id)["polls"] == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_loop_ends_without_waiting_for_a_hanging_query_whose_answer_lands_later(
    hanging_relay, member, settings
):
    sim, model = hanging_relay
    settings.SORAWEB_POLL_LOOP_SECONDS = 0  # one pass, no hand-over
    hanging = _submitted(member, model, "hangs past the loop [sim:pollhang]")
    _make_due(hanging)
    assert loop.poll_loop()["ran"]
    # The loop let go of its lease with the query still out; nobody else may ask meanwhile.
    assert WorkerLease.objects.get(name=loop.POLL_LEASE).holder == ""
    assert poll.jobs_claim_due_polls() == []
    assert poll.job_poll_now(job_id=hanging.pk) is False
    assert sim.job(hanging.remote_id)["polls"] == 1
    # The answer lands in the background and is applied there.
    deadline = time.monotonic() + HANG + 10
    while VideoJob.objects.get(pk=hanging.pk).poll_count == 0:
        assert time.monotonic() < deadline, "the late answer was never applied"
        time.sleep(0.2)
    job = VideoJob.objects.get(pk=hanging.pk)
    assert job.lease_until is None and job.state in (JobState.QUEUED, JobState.RUNNING)
    # The webhook's refresh, turned away while the query was out, is not lost.
    assert job.next_poll_at <= timezone.now()
    assert sim.job(hanging.remote_id)["polls"] == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_rate_limit_answer_holds_every_query_to_that_relay_until_its_retry_after(
    hanging_relay, member
):
    sim, model = hanging_relay
    sim.retry_after = 30.0
    limited = _submitted(member, model, "rate limited [sim:poll429]")
    other = _submitted(member, model, "same relay, not limited")
    with loop.Poller() as poller:
        _make_due(limited)
        poller.run_pass(deadline=None)
        assert sim.job(limited.remote_id)["polls"] == 1
        _make_due(other)
        poller.run_pass(deadline=None)
        # Not asked: the relay said to wait; the job is due again when the wait is over.
        assert sim.job(other.remote_id)["polls"] == 0
        other.refresh_from_db()
        assert other.lease_until is None
        assert other.next_poll_at > timezone.now() + timedelta(seconds=20)
    limited.refresh_from_db()
    assert limited.poll_errors == 1 and limited.next_poll_at > timezone.now() + timedelta(
        seconds=20
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("predictive", "forced"), [(True, False), (False, True)])
def test_a_watched_card_forces_a_query_only_under_fixed_polling(client, member, predictive, forced):
    """With predictive polling the planner decides; a card poll every 3 s must not turn that
    back into a status query every 3 s. Under fixed polling a watched card asks sooner."""
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    Provider.objects.filter(pk=vm.provider_id).update(predictive_polling=predictive)
    later = timezone.now() + timedelta(seconds=40)
    job = job_row(
        member,
        vm,
        state=JobState.RUNNING,
        remote_id="r-w",
        orientation="portrait",
        next_poll_at=later,
    )
    client.force_login(member)
    client.get(f"/jobs/{job.pk}/card/", HTTP_HX_REQUEST="true")
    job.refresh_from_db()
    assert (job.next_poll_at < later) is forced
