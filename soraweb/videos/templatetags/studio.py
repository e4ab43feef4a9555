from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils.translation import gettext as _

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
    if value is None:
        return ""
    return _("$%(amount)s") % {"amount": f"{value:.2f}"}


@register.simple_tag
def review_tone(state: str) -> str:
    return {
        "approved": "ok",
        "rejected": "bad",
        "changes_requested": "warn",
        "comment": "busy",
    }.get(state, "muted")


_MODERATION = (
    "moderation",
    "flagged",
    "content policy",
    "safety",
    "violat",
    "审核",
    "违规",
    "敏感",
)
_PICTURE_SIZE = ("must match", "input_reference", "inpaint image", "width and height")
_TIMEOUT = ("timed out", "deadline", "timeout")
_UNREACHABLE = ("could not be reached", "connection", "unavailable", "502", "503", "504")


@register.simple_tag
def error_summary(job) -> dict | None:
    """What went wrong, in plain words for a person who is not a developer: a headline, the
    provider's own reason where it gave one, and what to do next."""
    detail = (job.error_message or "").strip()
    lowered = detail.lower()
    reason = ""
    if job.state == "needs_attention":
        headline = _("soraweb cannot tell whether the provider started this video.")
        advice = _("Check with the provider before you try again, so you are not billed twice.")
    elif job.state == "expired":
        headline = _("The finished video expired at the provider before soraweb could save it.")
        advice = _("Try again to make it anew.")
    elif job.state != "failed":
        return None
    elif any(word in lowered for word in _MODERATION):
        headline = _("Refused by the provider’s safety check.")
        advice = _("Change the wording (or the picture) and try again.")
        reason = detail.split(":", 1)[1].strip() if ":" in detail else ""
    elif any(word in lowered for word in _PICTURE_SIZE):
        headline = _("The provider refused the picture: its size does not match the video.")
        advice = _("Choose “Crop to fill the frame” or “Add bars to fit the frame” and try again.")
    elif any(word in lowered for word in _TIMEOUT):
        headline = _("The provider took too long, so soraweb stopped waiting.")
        advice = _("Try again. If it keeps happening, tell an administrator.")
    elif any(word in lowered for word in _UNREACHABLE):
        headline = _("soraweb could not reach the provider.")
        advice = _("Try again in a few minutes.")
    else:
        headline = _("The provider could not make this video.")
        advice = _("Try again, or change the prompt.")
    return {"headline": headline, "reason": reason, "detail": detail, "advice": advice}


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
