"""The admin's fixes for a job that is stuck or wrong: refresh now, mark failed, delete its
files, and ``FIXES``: every fix the admin offers, with when it applies and what it needs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from soraweb.videos.causes import Cause
from soraweb.videos.models import (
    AT_PROVIDER_STATES,
    TRANSITIONS,
    JobState,
    VideoJob,
)
from soraweb.videos.pipeline import archive, poll, queue
from soraweb.videos.selectors import (
    job_waiting_for_worker,
)
from soraweb.videos.services.jobs import job_cancel, job_retry

logger = logging.getLogger(__name__)

# --- Fixing stuck jobs (the admin) -----------------------------------------------------------------


def job_refresh_now(*, job: VideoJob, wait: bool = True) -> bool:
    """Ask again now: check a job at the provider (at once, or via the worker when ``wait`` is
    False), or hand a job that is waiting to start to the worker without further delay."""
    if job.state in AT_PROVIDER_STATES:
        if wait:
            return poll.job_poll_now(job_id=job.pk)
        changed = VideoJob.objects.filter(pk=job.pk, state__in=AT_PROVIDER_STATES).update(
            next_poll_at=timezone.now()
        )
        if changed:
            transaction.on_commit(lambda: queue.enqueue("poll_job", job.pk))
        return bool(changed)
    if job.state == JobState.PENDING:
        changed = VideoJob.objects.filter(pk=job.pk, state=JobState.PENDING).update(
            next_poll_at=timezone.now()
        )
        if changed:
            transaction.on_commit(lambda: queue.hand_over("submit_job", job.pk))
        return bool(changed)
    return False


def job_mark_failed(*, job: VideoJob, by, reason: str) -> bool:
    """End a job by hand with a reason its owner will read. The provider is not told."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Say why, so the person who made it knows what happened.")}
        )
    if JobState.FAILED not in TRANSITIONS[job.state]:
        raise ValidationError(
            _("A job that is “%(state)s” cannot be marked failed.")
            % {"state": job.get_state_display()}
        )
    return job.transition(
        JobState.FAILED,
        cause=Cause.MARKED_FAILED,
        facts={"by": str(by), "reason": reason[:2000]},
        lease_until=None,
        next_poll_at=None,
    )


def job_delete_files(*, job: VideoJob, by) -> list[str]:
    """Delete a job's stored video and poster (to free space or take a video down). The job and
    its history stay; returns the names of the files removed."""
    names = [f.name for f in (job.video, job.poster) if f.name]
    if not names:
        return []
    storage = job.video.storage
    with transaction.atomic():
        VideoJob.objects.filter(pk=job.pk).update(video="", poster="")
        job.note(Cause.FILES_DELETED, {"by": str(by)}, files=names)

        def remove() -> None:
            for name in names:
                try:
                    storage.delete(name)
                except Exception:  # a file already gone must not hide that the rest went
                    logger.warning("could not delete %s", name, exc_info=True)

        transaction.on_commit(remove)
    job.video, job.poster = "", ""
    return names


# --- The fixes the admin offers, as one table ----------------------------------------------------


@dataclass(frozen=True)
class Fix:
    """One fix: its button, when it applies, what it needs, and how it runs.

    ``run(job, by, single=..., reason=...)`` returns (worked, a sentence saying what happened);
    ``single`` is True when one job is fixed from its page (it may then wait for the provider).
    """

    name: str
    label: Promise
    help: Promise
    available: Callable[[VideoJob], bool]
    run: Callable[..., tuple[bool, str]]
    permission: str = "change"  # the admin permission it needs ("delete" for deleting files)
    needs_reason: bool = False


def _name(job: VideoJob) -> str:
    return _("Job %(n)d") % {"n": job.pk}


def _refresh(job: VideoJob, by, *, single: bool, reason: str = "") -> tuple[bool, str]:
    if not job_refresh_now(job=job, wait=single):
        return False, _("%(job)s: nothing to refresh (it is not waiting or at the provider).") % {
            "job": _name(job)
        }
    job.refresh_from_db()
    if job_waiting_for_worker(job=job):
        return True, _("%(job)s: queued; it will start as soon as the worker is reachable.") % {
            "job": _name(job)
        }
    return True, _("%(job)s: refreshed; it is now “%(state)s” (%(progress)d%%).") % {
        "job": _name(job),
        "state": job.get_state_display(),
        "progress": job.progress,
    }


def _cancel(job: VideoJob, by, *, single: bool, reason: str = "") -> tuple[bool, str]:
    if not job_cancel(job=job, by=by):
        return False, _("%(job)s has already finished, so it cannot be cancelled.") % {
            "job": _name(job)
        }
    return True, _("%(job)s: cancelled.") % {"job": _name(job)}


def _retry(job: VideoJob, by, *, single: bool, reason: str = "") -> tuple[bool, str]:
    new = job_retry(job=job, by=job.owner)  # the same person's video, started again
    if job_waiting_for_worker(job=new):
        return True, _(
            "%(job)s: saved again as job %(new)d, queued: it will start as soon as the worker is "
            "reachable."
        ) % {"job": _name(job), "new": new.pk}
    return True, _("%(job)s: started again as job %(new)d for %(owner)s.") % {
        "job": _name(job),
        "new": new.pk,
        "owner": job.owner.get_username(),
    }


def _rearchive(job: VideoJob, by, *, single: bool, reason: str = "") -> tuple[bool, str]:
    if not archive.job_rearchive(job=job, by=by):
        return False, _("%(job)s changed meanwhile; reload and try again.") % {"job": _name(job)}
    job.refresh_from_db()
    if job_waiting_for_worker(job=job):
        return True, _(
            "%(job)s: queued to be saved again; it will start as soon as the worker is reachable."
        ) % {"job": _name(job)}
    return True, _("%(job)s: saving the video again; it is now “%(state)s”.") % {
        "job": _name(job),
        "state": job.get_state_display(),
    }


def _mark_failed(job: VideoJob, by, *, single: bool, reason: str = "") -> tuple[bool, str]:
    if not job_mark_failed(job=job, by=by, reason=reason):
        return False, _("%(job)s changed meanwhile; reload and try again.") % {"job": _name(job)}
    return True, _("%(job)s: marked failed.") % {"job": _name(job)}


def _delete_stored(job: VideoJob, by, *, single: bool, reason: str = "") -> tuple[bool, str]:
    if not job_delete_files(job=job, by=by):
        return False, _("%(job)s has no stored files.") % {"job": _name(job)}
    return True, _("%(job)s: deleted the video and poster.") % {"job": _name(job)}


FIXES: tuple[Fix, ...] = (
    Fix(
        "refresh",
        gettext_lazy("Refresh now"),
        gettext_lazy("Ask the provider for the job's state now, or start a waiting job now."),
        lambda job: job.state in AT_PROVIDER_STATES or job.state == JobState.PENDING,
        _refresh,
    ),
    Fix(
        "cancel",
        gettext_lazy("Cancel"),
        gettext_lazy("Stop the job (at the provider too, where it can)."),
        lambda job: job.can_cancel,
        _cancel,
    ),
    Fix(
        "retry",
        gettext_lazy("Retry as a new job"),
        gettext_lazy("Start the same video again as a new job for the same person."),
        lambda job: job.can_retry,
        _retry,
    ),
    Fix(
        "rearchive",
        gettext_lazy("Save the video again"),
        gettext_lazy("Copy the finished video from the provider into storage again."),
        archive.job_can_rearchive,
        _rearchive,
    ),
    Fix(
        "delete_files",
        gettext_lazy("Delete files"),
        gettext_lazy("Remove the stored video and poster; the job and its history stay."),
        lambda job: bool(job.video or job.poster),
        _delete_stored,
        permission="delete",
    ),
    Fix(
        "mark_failed",
        gettext_lazy("Mark failed"),
        gettext_lazy("End the job by hand, with a reason its owner will read."),
        lambda job: JobState.FAILED in TRANSITIONS[job.state],
        _mark_failed,
        needs_reason=True,
    ),
)
FIXES_BY_NAME = {fix.name: fix for fix in FIXES}


def fixes_available(job: VideoJob) -> list[Fix]:
    return [fix for fix in FIXES if fix.available(job)]


def fix_run(
    *, name: str, job: VideoJob, by, single: bool = True, reason: str = ""
) -> tuple[bool, str]:
    """Run the fix ``name`` on ``job``; a refusal comes back as (False, its sentence)."""
    fix = FIXES_BY_NAME[name]  # KeyError: no such fix (the admin answers 404)
    try:
        return fix.run(job, by, single=single, reason=reason)
    except ValidationError as exc:
        return False, f"{_name(job)}: {' '.join(exc.messages)}"
