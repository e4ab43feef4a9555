"""Why a job moved: a typed cause with its facts, recorded once; words are rendered from it.

Every transition and history entry carries a ``Cause`` and a small dict of facts (who, how long,
the provider's own reason...). The job card, the history, notices, e-mails and the ops charts
read the cause and render their sentence at display time, in the viewer's language, so nothing
parses a sentence to learn what happened. The English ``JobEvent.message`` and
``VideoJob.error_message`` are the same sentences rendered when they were written, kept for the
admin's search and for exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Cause(models.TextChoices):
    # The way there.
    CREATED = "created", pgettext_lazy("job history", "Created")
    SENDING = "sending", _("Sending to the provider")
    ACCEPTED = "accepted", _("Accepted by the provider")
    ACCEPTED_LATE = "accepted_late", _("Accepted (recorded late)")
    GENERATING = "generating", _("Generating")
    PROVIDER_FINISHED = "provider_finished", _("Provider finished")
    SAVED = "saved", _("Saved")
    RETRY_LATER = "retry_later", _("Provider busy; trying again")
    WAITING_FOR_PROVIDER = "waiting_for_provider", _("Waiting for the provider")
    WORKER_UNREACHABLE = "worker_unreachable", _("Worker unreachable")
    WEBHOOK = "webhook", _("Webhook received")
    SAVE_RETRY = "save_retry", _("Saving failed; trying again")
    SAVE_AGAIN = "save_again", _("Saving again")
    SAVE_RESTARTED = "save_restarted", _("Saving restarted")
    REMOTE_CANCEL_FAILED = "remote_cancel_failed", _("Remote cancel failed")
    FILES_DELETED = "files_deleted", _("Video files deleted")
    HELP_ASKED = "help_asked", _("An admin was asked to check")
    ADOPTED = "adopted", _("Found at the provider")
    # Endings, and the one state that waits for a person.
    MODERATION = "moderation", _("Refused by content moderation")
    PICTURE_SIZE = "picture_size", _("Picture refused: wrong size")
    PROVIDER_FAILED = "provider_failed", _("Provider could not make it")
    PROVIDER_REFUSED = "provider_refused", _("Provider refused the job")
    POLL_REFUSED = "poll_refused", _("Provider refuses status queries")
    EXPIRED = "expired", _("Result expired at the provider")
    RESULT_GONE = "result_gone", _("Result expired before it was saved")
    TIMEOUT = "timeout", _("Timed out at the provider")
    UNREACHABLE = "unreachable", _("Provider could not be reached")
    GAVE_UP_WAITING = "gave_up_waiting", _("Provider unreachable too long")
    OUTCOME_UNKNOWN = "outcome_unknown", _("Create outcome unknown")
    WORKER_STOPPED = "worker_stopped", _("Worker stopped while starting")
    UNEXPECTED = "unexpected", _("Unexpected error")
    STORAGE = "storage", _("Storage full or unavailable")
    SAVE_FAILED = "save_failed", _("Could not save the video")
    CANCELLED = "cancelled", _("Cancelled")
    MARKED_FAILED = "marked_failed", _("Marked failed by staff")


@dataclass(frozen=True)
class Words:
    """What is said about a cause: its history line, and for an ending what the owner reads
    (``problem``), the card's headline and what to do next."""

    history: Promise
    problem: Promise | str | None = None
    headline: Promise | None = None
    advice: Promise | None = None
    # The facts' "reason" is the provider's own words (shown labelled as such), not soraweb's.
    provider_words: bool = False


_TRY_AGAIN = _("Try again. If it keeps happening, tell an administrator.")
REASON = "%(reason)s"  # the provider's (or a person's) own words, shown as they were given

WORDS: dict[str, Words] = {
    Cause.CREATED: Words(pgettext_lazy("job history", "Created")),
    Cause.SENDING: Words(_("Sending to the provider")),
    Cause.ACCEPTED: Words(_("Accepted by the provider as %(remote_id)s")),
    Cause.ACCEPTED_LATE: Words(_("The provider had accepted it as %(remote_id)s (recorded late)")),
    Cause.GENERATING: Words(_("Generating")),
    Cause.PROVIDER_FINISHED: Words(_("Provider finished; saving the video")),
    Cause.SAVED: Words(_("Saved %(size)s bytes, sha256 %(sha256)s")),
    Cause.RETRY_LATER: Words(_("Will try again in %(delay)s s: %(reason)s")),
    Cause.WAITING_FOR_PROVIDER: Words(
        _("Waiting for the provider (next try in %(delay)s s): %(reason)s")
    ),
    Cause.WORKER_UNREACHABLE: Words(_("Worker unreachable; waiting for the sweep to hand it over")),
    Cause.WEBHOOK: Words(_("Webhook %(event_type)s received")),
    Cause.SAVE_RETRY: Words(_("Saving failed, will try again in %(delay)s s: %(reason)s")),
    Cause.SAVE_AGAIN: Words(_("Saving again, asked by %(by)s")),
    Cause.SAVE_RESTARTED: Words(_("Saving restarted by %(by)s")),
    Cause.REMOTE_CANCEL_FAILED: Words(_("Remote cancel failed: %(reason)s")),
    Cause.FILES_DELETED: Words(_("Video files deleted by %(by)s")),
    Cause.HELP_ASKED: Words(_("%(by)s asked an admin to check with the provider")),
    Cause.ADOPTED: Words(_("%(by)s found it at the provider as %(remote_id)s; following it again")),
    Cause.MODERATION: Words(
        _("Provider reports failure"),
        REASON,
        _("Refused by the provider’s safety check."),
        _("Change the wording (or the picture) and try again."),
        provider_words=True,
    ),
    Cause.PICTURE_SIZE: Words(
        _("Provider refused the job"),
        REASON,
        _("The provider refused the picture: its size does not match the video."),
        _("Choose “Crop to fill the frame” or “Add bars to fit the frame” and try again."),
        provider_words=True,
    ),
    Cause.PROVIDER_FAILED: Words(
        _("Provider reports failure"),
        REASON,
        _("The provider could not make this video."),
        _("Try again, or change the prompt."),
        provider_words=True,
    ),
    Cause.PROVIDER_REFUSED: Words(
        _("Provider refused the job"),
        REASON,
        _("The provider could not make this video."),
        _("Try again, or change the prompt."),
        provider_words=True,
    ),
    Cause.POLL_REFUSED: Words(
        _("Provider refuses status queries"),
        REASON,
        _("The provider stopped answering questions about this video."),
        _TRY_AGAIN,
        provider_words=True,
    ),
    Cause.EXPIRED: Words(
        _("Provider reports expired"),
        _("The provider's link to this video expired before soraweb could save a copy."),
        _("The finished video expired at the provider before soraweb could save it."),
        _("Try again to make it anew."),
    ),
    Cause.RESULT_GONE: Words(
        _("Result gone: %(reason)s"),
        _("The provider's link to this video expired before soraweb could save a copy."),
        _("The finished video expired at the provider before soraweb could save it."),
        _("Try again to make it anew."),
    ),
    Cause.TIMEOUT: Words(
        _("Deadline passed"),
        _(
            "Timed out at the provider: no result after %(minutes)d minutes (last status seen: "
            "%(status)s)."
        ),
        _("The provider took too long, so soraweb stopped waiting."),
        _TRY_AGAIN,
    ),
    Cause.UNREACHABLE: Words(
        _("Gave up starting"),
        _("The provider could not be reached after %(n)d tries: %(reason)s"),
        _("soraweb could not reach the provider."),
        _("Try again in a few minutes."),
    ),
    Cause.GAVE_UP_WAITING: Words(
        _("Gave up waiting for the provider"),
        _("The provider could not be reached for %(minutes)s minutes: %(reason)s"),
        _("soraweb could not reach the provider."),
        _("Try again in a few minutes."),
    ),
    Cause.OUTCOME_UNKNOWN: Words(
        _("Create outcome unknown"),
        REASON,
        _("soraweb cannot tell whether the provider started this video."),
        _("Check with the provider before you try again, so you are not billed twice."),
    ),
    Cause.WORKER_STOPPED: Words(
        _("Worker stopped while starting this job"),
        _(
            "soraweb was interrupted while starting this video, so it may or may not have been "
            "started (and billed) at the provider. Check the provider, then retry or cancel."
        ),
        _("soraweb cannot tell whether the provider started this video."),
        _("Check with the provider before you try again, so you are not billed twice."),
    ),
    Cause.UNEXPECTED: Words(
        _("Unexpected error while starting: %(error_type)s"),
        _(
            "Something went wrong while starting this video. An administrator can check the "
            "job's history."
        ),
        _("soraweb cannot tell whether the provider started this video."),
        _("Check with the provider before you try again, so you are not billed twice."),
    ),
    Cause.STORAGE: Words(
        _("Could not save the video"),
        _("The video was made but could not be saved: %(reason)s"),
        _("The video was made, but soraweb’s storage could not take it."),
        _("An administrator can free space, then use “Save the video again”."),
    ),
    Cause.SAVE_FAILED: Words(
        _("Could not save the video"),
        _("The video was made but could not be saved: %(reason)s"),
        _("The video was made, but soraweb could not save a copy."),
        _TRY_AGAIN,
    ),
    Cause.CANCELLED: Words(_("Cancelled by %(by)s")),
    Cause.MARKED_FAILED: Words(
        _("Marked failed by %(by)s: %(reason)s"),
        REASON,
        _("Marked as failed by the team."),
        _("Try again, or ask the person who marked it."),
    ),
}

# Causes that end a job badly or stop it for a person: what the ops chart counts.
PROBLEMS = frozenset(c for c, w in WORDS.items() if w.problem is not None)


def _render(template: Promise | str | None, facts: Mapping[str, Any] | None) -> str:
    """The sentence with its facts, or "" when a fact it needs is missing (an event recorded
    before causes had facts): the caller then shows the sentence stored with it."""
    if template is None:
        return ""
    try:
        return str(template) % dict(facts or {})
    except (KeyError, TypeError, ValueError):
        return ""


def history_line(cause: str, facts: Mapping[str, Any] | None = None) -> str:
    """The history entry for ``cause``, in the active language ("" for an unknown cause)."""
    words = WORDS.get(cause)
    return _render(words.history, facts) if words else ""


def problem(cause: str, facts: Mapping[str, Any] | None = None) -> str:
    """What the owner reads about an ending, in the active language."""
    words = WORDS.get(cause)
    return _render(words.problem, facts) if words else ""


def headline(cause: str) -> tuple[str, str] | None:
    """The card's headline and advice for an ending, or None."""
    words = WORDS.get(cause)
    if words is None or words.headline is None:
        return None
    return str(words.headline), str(words.advice or "")


def from_provider(cause: str) -> bool:
    """Whether the cause's "reason" fact is the provider's own words."""
    words = WORDS.get(cause)
    return bool(words and words.provider_words)


def label(cause: str) -> str:
    try:
        return str(Cause(cause).label)
    except ValueError:
        return cause


def in_english(render, *args) -> str:
    """A sentence as written into ``JobEvent.message`` / ``error_message``: the admin searches
    these, so they are written in one language whatever the worker's request was."""
    with translation.override("en"):
        return render(*args)
