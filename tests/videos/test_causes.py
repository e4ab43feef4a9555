"""Typed causes: every ending is recorded as a cause with facts, and its words are rendered
when shown, in the viewer's language (nothing parses a sentence to learn what happened)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import translation

from soraweb.ops import selectors as ops_selectors
from soraweb.videos import causes
from soraweb.videos.causes import REASON, WORDS, Cause
from soraweb.videos.models import JobEvent, JobState, VideoJob, VideoModel
from soraweb.videos.templatetags.studio import error_summary
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def test_every_cause_has_words_and_every_sentence_has_chinese():
    assert set(WORDS) == set(Cause.values)
    for cause, words in WORDS.items():
        for text in (Cause(cause).label, *words.__dict__.values()):
            if text is None or text is REASON or isinstance(text, bool):
                continue
            english = str(text)
            with translation.override("zh-hans"):
                assert str(text) != english, f"{cause}: no Chinese for {english!r}"


def test_history_words_are_not_the_column_labels_of_the_same_english():
    """The history's "Created" is an event (已创建), not the job page's "Created" column (创建时间);
    the two share an English word, so the history's is translated in its own context."""
    with translation.override("zh-hans"):
        event = str(WORDS[Cause.CREATED].history)
        assert event == str(Cause.CREATED.label)
        assert event != translation.gettext("Created"), event


def test_a_missing_fact_renders_nothing_so_the_stored_sentence_shows():
    assert causes.history_line(Cause.CANCELLED, {"by": "ada"}) == "Cancelled by ada"
    assert causes.history_line(Cause.CANCELLED, {}) == ""
    assert causes.history_line("no-such-cause", {}) == ""


@pytest.fixture
def running(member):
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    return job_row(
        member,
        vm,
        text="a slow one",
        state=JobState.RUNNING,
        remote_id="r-9",
        orientation="portrait",
    )


def test_one_ending_reads_in_each_viewers_language(running):
    running.transition(
        JobState.FAILED, cause=Cause.TIMEOUT, facts={"minutes": 30, "status": "running"}
    )
    job = VideoJob.objects.get(pk=running.pk)
    event = job.events.last()
    assert (job.cause, job.cause_facts) == (Cause.TIMEOUT, {"minutes": 30, "status": "running"})
    # What is stored is English, for the admin's search and exports ...
    assert job.error_message.startswith("Timed out at the provider: no result after 30 minutes")
    assert (event.cause, event.message) == (Cause.TIMEOUT, "Deadline passed")
    english = error_summary(job)
    with translation.override("zh-hans"):
        chinese = error_summary(job)
        assert event.sentence != "Deadline passed" and "截止" in event.sentence
        assert "30" in job.problem_text and job.problem_text != job.error_message
    # ... and each viewer reads it in their own language.
    assert english["headline"] == "The provider took too long, so soraweb stopped waiting."
    assert chinese["headline"] != english["headline"]
    assert chinese["advice"] != english["advice"]


def test_the_card_reads_the_cause_not_the_words(running):
    """A provider reason that mentions "moderation" in passing is not a moderation refusal,
    and the chart counts by cause, not by the words in the error."""
    running.transition(
        JobState.FAILED,
        cause=Cause.PROVIDER_FAILED,
        facts={"reason": "GPU pool drained; moderation queue unaffected"},
    )
    job = VideoJob.objects.get(pk=running.pk)
    summary = error_summary(job)
    assert summary["headline"] == "The provider could not make this video."
    assert summary["reason"] == "GPU pool drained; moderation queue unaffected"
    counts = ops_selectors.failures_by_cause(since=job.created_at)
    assert [(c.cause, c.count) for c in counts] == [("Provider could not make it", 1)]


def test_saving_again_clears_the_old_ending(running):
    running.transition(JobState.ARCHIVING, cause=Cause.PROVIDER_FINISHED)
    running.transition(JobState.FAILED, cause=Cause.STORAGE, facts={"reason": "storage full"})
    assert VideoJob.objects.get(pk=running.pk).cause == Cause.STORAGE
    running.transition(JobState.ARCHIVING, cause=Cause.SAVE_AGAIN, facts={"by": "ada"})
    job = VideoJob.objects.get(pk=running.pk)
    assert (job.cause, job.cause_facts, job.error_message) == ("", {}, "")


def test_old_history_is_recognised_by_the_migration(member):
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    rows = {
        "moderation": ("Provider reports failure", "Refused by content moderation: a person"),
        "picture_size": ("Provider refused the job", "inpaint image must match the size"),
        "timeout": ("Deadline passed", "Timed out at the provider"),
        "storage": (
            "Could not save the video",
            "The video was made but could not be saved: storage full: there is no free space left",
        ),
        "provider_refused": ("Provider refused the job", "prompt too long"),
    }
    jobs = {}
    for expected, (message, error) in rows.items():
        job = job_row(
            member,
            vm,
            text=expected,
            state=JobState.FAILED,
            orientation="portrait",
            error_message=error,
        )
        JobEvent.objects.create(job=job, to_state=JobState.PENDING, message="Created")
        JobEvent.objects.create(job=job, from_state="running", to_state="failed", message=message)
        jobs[expected] = job
    unknown = job_row(member, vm, text="?", state=JobState.FAILED, orientation="portrait")
    JobEvent.objects.create(job=unknown, to_state="failed", message="something else entirely")

    migration = importlib.import_module("soraweb.videos.migrations.0009_causes")
    migration.recognise(apps, None)

    for expected, job in jobs.items():
        job.refresh_from_db()
        assert job.cause == expected
        assert job.events.first().cause == Cause.CREATED
        assert job.problem_text == job.error_message  # no facts: the stored words show
    unknown.refresh_from_db()
    assert unknown.cause == ""
    assert error_summary(unknown)["headline"] == "The provider could not make this video."


def test_only_the_providers_own_words_are_labelled_as_the_providers(running, member):
    running.transition(JobState.FAILED, cause=Cause.MODERATION, facts={"reason": "a real person"})
    refused = error_summary(VideoJob.objects.get(pk=running.pk))
    assert (refused["reason"], refused["provider_said"], refused["detail"]) == (
        "a real person",
        True,
        "",
    )
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    slow = job_row(
        member, vm, text="slow", state=JobState.RUNNING, remote_id="r-10", orientation="portrait"
    )
    slow.transition(JobState.FAILED, cause=Cause.TIMEOUT, facts={"minutes": 5, "status": "queued"})
    timed_out = error_summary(VideoJob.objects.get(pk=slow.pk))
    assert timed_out["provider_said"] is False and timed_out["reason"] == ""
    assert timed_out["detail"].startswith("Timed out at the provider: no result after 5 minutes")
