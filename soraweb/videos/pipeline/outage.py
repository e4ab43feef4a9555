"""A provider that cannot be reached: creates wait for it, and its return is noticed at once.

Only for errors where nothing was sent (connection refused, DNS failure before any byte): such a
create cannot have been billed, so waiting and trying again is safe. A create whose outcome is
unknown never comes here.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from soraweb.providers.base import ProviderError
from soraweb.videos.causes import Cause
from soraweb.videos.models import AT_PROVIDER_STATES, JobEvent, JobState, Provider, VideoJob
from soraweb.videos.pipeline.common import backoff_seconds

logger = logging.getLogger(__name__)

# While a provider refuses connections: a waiting create tries again at most this far apart, and
# one job of the provider is checked this often, so its return is noticed within seconds.
OUTAGE_RETRY_CAP_SECONDS = 15.0
OUTAGE_PROBE_SECONDS = 5.0


def submit_unreachable(job: VideoJob, exc: ProviderError) -> None:
    """Not one byte reached the provider: wait out its outage (up to the configured minutes)."""
    provider_mark_unreachable(provider_id=job.provider_id)
    now = timezone.now()
    since = (
        JobEvent.objects.filter(job_id=job.pk, cause=Cause.WAITING_FOR_PROVIDER)
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    ) or now
    minutes = settings.SORAWEB_PROVIDER_OUTAGE_MINUTES
    if now - since >= timedelta(minutes=minutes):
        job.transition(
            JobState.FAILED,
            cause=Cause.GAVE_UP_WAITING,
            facts={"minutes": f"{minutes:g}", "reason": exc.message},
            lease_until=None,
        )
        return
    # Tries while the provider is away do not count against the job's tries to start; they
    # spread out as the wait grows (about 2, 4, 8, then every 15 s at most).
    waited = (now - since).total_seconds()
    delay = backoff_seconds(1 + int(waited // 5), cap=OUTAGE_RETRY_CAP_SECONDS)
    # The last try comes when the wait is over, not up to a whole delay after it.
    delay = max(1.0, min(delay, minutes * 60 - waited + 0.5))
    job.transition(
        JobState.PENDING,
        cause=Cause.WAITING_FOR_PROVIDER,
        facts={"delay": f"{delay:.0f}", "reason": exc.message},
        error_message="",
        lease_until=None,
        next_poll_at=now + timedelta(seconds=delay),
        submit_attempts=F("submit_attempts") - 1,
    )


def provider_mark_unreachable(*, provider_id: int) -> None:
    Provider.objects.filter(pk=provider_id, unreachable_since__isnull=True).update(
        unreachable_since=timezone.now()
    )


def provider_mark_reachable(*, provider_id: int) -> int:
    """The provider answered after an outage: every job waiting on it is due now.

    Returns how many jobs were made due (0 when the provider was not marked unreachable, or
    another worker noticed first).
    """
    if not Provider.objects.filter(pk=provider_id, unreachable_since__isnull=False).update(
        unreachable_since=None
    ):
        return 0
    now = timezone.now()
    waiting = VideoJob.objects.filter(provider_id=provider_id, next_poll_at__gt=now)
    pulled = waiting.filter(state__in=AT_PROVIDER_STATES).update(next_poll_at=now)
    pulled += waiting.filter(state=JobState.PENDING).update(next_poll_at=now)
    logger.info("provider %s answers again; %d waiting jobs are due now", provider_id, pulled)
    return pulled


_last_probe: dict[int, float] = {}


def providers_probe_unreachable(*, every: float = OUTAGE_PROBE_SECONDS) -> int:
    """While a provider is unreachable, make one of its jobs due every ``every`` seconds.

    Its jobs back off further with each failed check; this one check (and the first answer it
    gets, see ``provider_mark_reachable``) notices the provider's return within seconds.
    """
    probed = 0
    now = timezone.now()
    for provider_id in Provider.objects.filter(unreachable_since__isnull=False).values_list(
        "pk", flat=True
    ):
        if time.monotonic() - _last_probe.get(provider_id, float("-inf")) < every:
            continue
        _last_probe[provider_id] = time.monotonic()
        jobs = VideoJob.objects.filter(provider_id=provider_id, state__in=AT_PROVIDER_STATES)
        if jobs.filter(next_poll_at__lte=now).exists():
            continue  # one is due anyway
        first = jobs.filter(next_poll_at__gt=now).order_by("next_poll_at").first()
        if first is not None:
            probed += VideoJob.objects.filter(pk=first.pk, next_poll_at=first.next_poll_at).update(
                next_poll_at=now
            )
    return probed
