"""What happens when a job settles: its ledger entry, a notice, an e-mail, the team webhook;
and the staff notice when videos cannot be saved.

Runs after the job's transaction has committed, in whichever process moved the job. Each step
is independent and a failure in one is logged, never raised: the pipeline must not stop because
a notification could not be written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings

from soraweb.ops import selectors, services
from soraweb.ops.queue import enqueue
from soraweb.videos.models import VideoJob

logger = logging.getLogger(__name__)


def on_job_settled(sender, job: VideoJob, from_state: str, to_state: str, **kwargs) -> None:
    steps: list[tuple[str, Callable[[], object]]] = [
        ("ledger", lambda: services.ledger_settle(job=job)),
        ("notice", lambda: services.notice_create_for_job(job=job, state=to_state)),
    ]
    # "Needs attention" waits for a person; only an ending is announced outside the app.
    if to_state in selectors.ENDED_STATES:
        if settings.SORAWEB_EMAIL_NOTIFICATIONS and job.owner.email:
            steps.append(("e-mail", lambda: enqueue("send_job_email", job.pk, to_state)))
        steps.append(
            ("webhook", lambda: services.webhook_deliveries_create(job=job, state=to_state))
        )
    for name, step in steps:
        try:
            step()
        except Exception:
            logger.exception("job %s settled as %s: the %s step failed", job.pk, to_state, name)


def on_storage_failed(sender, job: VideoJob, cause: str, **kwargs) -> None:
    """Saving a video failed on our own storage: staff hear of the outage once."""
    try:
        services.notices_create_for_storage(job=job, cause=cause)
    except Exception:
        logger.exception("job %s: the staff notice about %s could not be written", job.pk, cause)
