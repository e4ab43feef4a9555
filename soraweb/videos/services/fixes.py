"""The admin's fixes for a job that is stuck or wrong: refresh now, mark failed, delete its
files, and ``FIXES``: every fix the admin offers, with when it applies and what it needs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from soraweb.providers import ProviderError, TaskSummary
from soraweb.videos.causes import Cause
from soraweb.videos.models import (
    AT_PROVIDER_STATES,
    TRANSITIONS,
    JobState,
    VideoJob,
)
from soraweb.videos.pipeline import archive, poll, queue
from soraweb.videos.pipeline.common import provider_client
from soraweb.videos.selectors import (
    job_waiting_for_worker,
    provider_can,
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


# --- A job whose create answer was lost: find it at the provider ----------------------------------

# How far from the job's own start a provider's task may have started to be offered for it.
ADOPT_WINDOW = timedelta(minutes=30)


def job_adopt(*, job: VideoJob, by, remote_id: str) -> bool:
    """Follow ``remote_id`` as this job's task at the provider: staff found it there (its create
    answer was lost). The job is queued again and polled, so it finishes like any other."""
    remote_id = (remote_id or "").strip()
    if job.state != JobState.NEEDS_ATTENTION:
        raise ValidationError(_("Only a job that needs attention can be matched to a task."))
    if not remote_id:
        raise ValidationError(_("Choose the provider's task that is this job."))
    taken = (
        VideoJob.objects.with_remote_id(remote_id)
        .filter(provider_id=job.provider_id)
        .exclude(pk=job.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if taken:
        raise ValidationError(
            _("That task is already job %(n)d: one task cannot be two jobs.") % {"n": taken}
        )
    moved = job.transition(
        JobState.QUEUED,
        cause=Cause.ADOPTED,
        facts={"by": str(by), "remote_id": remote_id},
        remote_id=remote_id,
        next_poll_at=timezone.now(),
        lease_until=None,
        poll_errors=0,
    )
    if moved:
        transaction.on_commit(queue.kick_poll_loop)
    return moved


def job_check_provider(*, job: VideoJob, by) -> tuple[bool, str]:
    """Ask the provider about a job that needs attention but has its id: if it knows the job,
    follow it again; if not, it was never made."""
    try:
        status = provider_client(job.provider).status(job.remote_id)
    except ProviderError as exc:
        if exc.status_code == 404:
            return False, _(
                "%(job)s: the provider does not know this job, so it was not made (nor billed). "
                "Retry it or mark it failed."
            ) % {"job": _name(job)}
        return False, _("%(job)s: the provider could not be asked: %(reason)s") % {
            "job": _name(job),
            "reason": exc.message,
        }
    job_adopt(job=job, by=by, remote_id=job.remote_id)
    return True, _("%(job)s: the provider has it (%(status)s); soraweb follows it again.") % {
        "job": _name(job),
        "status": status.raw_status or status.state,
    }


@dataclass(frozen=True)
class Candidate:
    """One of the provider's tasks that may be this job."""

    task: TaskSummary
    minutes_apart: int | None
    same_prompt: bool
    taken_by: int | None  # another job already follows it


def tasks_for_adoption(*, job: VideoJob, limit: int = 50) -> list[Candidate]:
    """The provider's recent tasks that started near this job, the likeliest first (same
    prompt, then closest in time). Raises ProviderError when the list cannot be read."""
    client = provider_client(job.provider)
    tasks = client.list_tasks(limit=limit)
    started = job.created_at.timestamp()
    found = []
    for task in tasks:
        apart = None if task.created_at is None else abs(task.created_at - started)
        if apart is not None and apart > ADOPT_WINDOW.total_seconds():
            continue
        taken = (
            VideoJob.objects.with_remote_id(task.remote_id)
            .filter(provider_id=job.provider_id)
            .exclude(pk=job.pk)
            .values_list("pk", flat=True)
            .first()
        )
        found.append(
            Candidate(
                task=task,
                minutes_apart=None if apart is None else int(apart // 60),
                same_prompt=task.prompt.strip() == job.prompt.text.strip(),
                taken_by=taken,
            )
        )
    found.sort(key=lambda c: (not c.same_prompt, c.minutes_apart is None, c.minutes_apart or 0))
    return found


def provider_lists_tasks(job: VideoJob) -> bool:
    return provider_can(job.provider, "can_list_tasks")


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
    needs_choice: bool = False  # which of the provider's tasks (the admin lists them)


def _name(job: VideoJob) -> str:
    return _("Job %(n)d") % {"n": job.pk}


def _refresh(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
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


def _cancel(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
    if not job_cancel(job=job, by=by):
        return False, _("%(job)s has already finished, so it cannot be cancelled.") % {
            "job": _name(job)
        }
    return True, _("%(job)s: cancelled.") % {"job": _name(job)}


def _retry(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
    # The same person's video, started again; staff have checked the provider first.
    new = job_retry(job=job, by=job.owner, accept_double_billing=True)
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


def _rearchive(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
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


def _mark_failed(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
    if not job_mark_failed(job=job, by=by, reason=reason):
        return False, _("%(job)s changed meanwhile; reload and try again.") % {"job": _name(job)}
    return True, _("%(job)s: marked failed.") % {"job": _name(job)}


def _check_provider(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
    return job_check_provider(job=job, by=by)


def _adopt(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
    if not job_adopt(job=job, by=by, remote_id=choice):
        return False, _("%(job)s changed meanwhile; reload and try again.") % {"job": _name(job)}
    return True, _("%(job)s: follows the provider's task %(id)s again.") % {
        "job": _name(job),
        "id": choice if len(choice) <= 40 else choice[:37] + "...",
    }


def _delete_stored(
    job: VideoJob, by, *, single: bool, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
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
    Fix(
        "check_provider",
        gettext_lazy("Ask the provider"),
        gettext_lazy(
            "Ask the provider about this job's id: if it has the job, soraweb follows it again."
        ),
        lambda job: job.state == JobState.NEEDS_ATTENTION and bool(job.remote_id),
        _check_provider,
    ),
    Fix(
        "adopt",
        gettext_lazy("This is the job"),
        gettext_lazy("Follow this task of the provider's as this job."),
        lambda job: job.state == JobState.NEEDS_ATTENTION and provider_lists_tasks(job),
        _adopt,
        needs_choice=True,
    ),
)
FIXES_BY_NAME = {fix.name: fix for fix in FIXES}


def fixes_available(job: VideoJob) -> list[Fix]:
    return [fix for fix in FIXES if fix.available(job)]


def fix_run(
    *, name: str, job: VideoJob, by, single: bool = True, reason: str = "", choice: str = ""
) -> tuple[bool, str]:
    """Run the fix ``name`` on ``job``; a refusal comes back as (False, its sentence)."""
    fix = FIXES_BY_NAME[name]  # KeyError: no such fix (the admin answers 404)
    try:
        return fix.run(job, by, single=single, reason=reason, choice=choice)
    except ValidationError as exc:
        return False, f"{_name(job)}: {' '.join(exc.messages)}"
