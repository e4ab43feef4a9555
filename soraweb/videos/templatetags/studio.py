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
