"""Abuse limits: how many videos one person may have in progress, and start per minute.

One member once made 200 jobs in 8 seconds and 100 in one batch. The caps are team settings
(``BudgetPolicy``, edited in the admin) and are checked here, for every way a job is made: the
create form, a batch (refused whole when it does not fit), a retry and a remix.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

RATE_WINDOW = timedelta(minutes=1)


def jobs_limit_check(*, owner, adding: int = 1, now=None, batch: bool = False) -> None:
    """Refuse ``adding`` new jobs for ``owner`` when they would pass a cap; say what to do.

    Inside a transaction the person's user row is locked first, so two requests racing from
    the same person are counted one after the other instead of both seeing room for one more.
    """
    from soraweb.ops.models import BudgetPolicy
    from soraweb.videos.models import VideoJob

    if adding <= 0 or owner is None or owner.pk is None:
        return
    policy = BudgetPolicy.load()
    max_active = policy.max_active_jobs_per_user
    max_rate = policy.max_jobs_per_minute_per_user
    if not max_active and not max_rate:
        return
    if transaction.get_connection().in_atomic_block:
        list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values("pk"))
    mine = VideoJob.objects.filter(owner=owner)
    if max_active:
        active = mine.active().count()
        if active + adding > max_active:
            raise ValidationError(
                {NON_FIELD_ERRORS: _active_message(active, max_active, adding, batch)}
            )
    if max_rate:
        since = (now or timezone.now()) - RATE_WINDOW
        recent = mine.filter(created_at__gte=since).count()
        if recent + adding > max_rate:
            raise ValidationError(
                {NON_FIELD_ERRORS: _rate_message(recent, max_rate, adding, batch)}
            )


def _active_message(active: int, limit: int, adding: int, batch: bool) -> str:
    if batch:
        return _(
            "This batch has %(rows)d videos, but each person can have at most %(max)d in progress "
            "and you already have %(n)d. Nothing was started: send fewer rows, or wait for some "
            "videos to finish (or cancel some) and send the batch again."
        ) % {"rows": adding, "max": limit, "n": active}
    return ngettext(
        "You have %(n)d video in progress, the most allowed; wait for it to finish or cancel it.",
        "You have %(n)d videos in progress; wait for one to finish or cancel one.",
        active,
    ) % {"n": active}


def _rate_message(recent: int, limit: int, adding: int, batch: bool) -> str:
    if batch:
        return _(
            "This batch has %(rows)d videos, but each person can start at most %(max)d per minute "
            "and you started %(n)d in the last minute. Nothing was started: send fewer rows, or "
            "wait a minute and send the batch again."
        ) % {"rows": adding, "max": limit, "n": recent}
    return _(
        "You started %(n)d videos in the last minute, the most allowed; wait a minute and try again."
    ) % {"n": recent}
