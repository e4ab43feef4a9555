from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

from soraweb.money import money as format_money
from soraweb.videos import causes
from soraweb.videos.forms import orientation_label, size_label

register = template.Library()


@register.filter
def size_name(token: str) -> str:
    return size_label(token)


@register.filter
def orientation_name(token: str) -> str:
    return orientation_label(token)


@register.filter
def duration_clock(value: timedelta | None) -> str:
    """Elapsed time as m:ss (or h:mm:ss), the way a stopwatch shows it."""
    if value is None:
        return ""
    total = max(0, int(value.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.simple_tag
def state_tone(job) -> str:
    """A CSS tone for a state badge."""
    return {
        "succeeded": "ok",
        "failed": "bad",
        "expired": "bad",
        "needs_attention": "warn",
        "cancelled": "muted",
    }.get(job.state, "busy")


@register.filter
def money(value) -> str:
    """{{ amount|money }}: "$1.50"; nothing for no amount."""
    return "" if value is None else format_money(value)


@register.simple_tag
def review_tone(state: str) -> str:
    return {
        "approved": "ok",
        "rejected": "bad",
        "changes_requested": "warn",
        "comment": "busy",
    }.get(state, "muted")


@register.simple_tag
def error_summary(job, user=None) -> dict | None:
    """What went wrong, in plain words for a person who is not a developer: a headline, the
    provider's own reason where it gave one, and what to do next. Read from the job's cause,
    rendered in the viewer's language."""
    if job.state not in ("failed", "expired", "needs_attention"):
        return None
    words = causes.headline(job.cause)
    if words is None:  # a job older than causes that could not be recognised
        words = {
            "needs_attention": (
                _("soraweb cannot tell whether the provider started this video."),
                _("Check with the provider before you try again, so you are not billed twice."),
            ),
            "expired": (
                _("The finished video expired at the provider before soraweb could save it."),
                _("Try again to make it anew."),
            ),
        }.get(job.state) or (
            _("The provider could not make this video."),
            _("Try again, or change the prompt."),
        )
    headline, advice = words
    if (
        job.state == "needs_attention"
        and user is not None
        and not user.has_perm("ops.view_operations")
    ):
        # A member cannot check with the provider; an admin can.
        advice = _(
            "An admin can check with the provider whether it was made. Ask one, or try again if "
            "you accept it may be billed twice."
        )
    reason = str((job.cause_facts or {}).get("reason", "")).strip()
    detail = job.problem_text.strip()
    return {
        "headline": headline,
        "reason": reason,
        # Whether ``reason`` is the provider's own words (labelled so), not soraweb's.
        "provider_said": bool(reason) and causes.from_provider(job.cause),
        "detail": "" if detail == reason else detail,
        "advice": advice,
    }


@register.filter
def managed_by(job, user) -> bool:
    """{% if job|managed_by:user %}: may this person cancel, retry or delete the job?"""
    return job.is_managed_by(user)


@register.filter
def deletable_by(job, user) -> bool:
    """{% if job|deletable_by:user %}: the owner, or someone with ``videos.delete_videojob``."""
    return job.is_managed_by(user, "delete")


@register.filter
def state_name(state: str) -> str:
    from soraweb.videos.models import JobState

    try:
        return str(JobState(state).label)
    except ValueError:
        return state


@register.filter
def decision_name(decision: str) -> str:
    """A review decision's label in the page's language ("approved" -> "Approved")."""
    from soraweb.videos.models import ReviewDecision

    try:
        return str(ReviewDecision(decision).label)
    except ValueError:
        return decision
