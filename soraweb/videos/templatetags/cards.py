"""What a finished-but-failed job card says beyond its headline: whether it was charged, and
whether trying the same prompt again can help at all."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from soraweb.ops.models import LedgerEntry, LedgerStatus
from soraweb.videos.causes import Cause
from soraweb.videos.templatetags.studio import money

register = template.Library()


@register.simple_tag
def charge_note(job) -> str:
    """One sentence on what this failed job cost (one query; only failed cards ask)."""
    entry = LedgerEntry.objects.filter(job=job).only("status", "amount").first()
    if entry is None or entry.status == LedgerStatus.NOT_CHARGED or not entry.amount:
        return _("Not charged.")
    if entry.status == LedgerStatus.CHARGED:
        return _("Charged %(amount)s: this provider bills failed videos.") % {
            "amount": money(entry.amount)
        }
    return _("%(amount)s is held until the provider settles the charge.") % {
        "amount": money(entry.amount)
    }


@register.filter
def refused_by_moderation(job) -> bool:
    """The same prompt would be refused again: offer to edit it instead of a blind retry."""
    return job.state == "failed" and job.cause == Cause.MODERATION
