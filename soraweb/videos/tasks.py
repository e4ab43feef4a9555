"""django-q2 entry points, named by the schedules and the queue: each calls one pipeline step.

The work itself lives in ``soraweb.videos.pipeline``; these names only have to stay stable,
because queued tasks and stored schedules refer to them by their dotted path.
"""

from __future__ import annotations

from soraweb.videos.pipeline import archive, loop, poll, submit


def submit_job(job_id: int) -> None:
    submit.job_submit(job_id=job_id)


def poll_job(job_id: int) -> None:
    poll.job_poll_now(job_id=job_id, then_save=True)


def archive_job(job_id: int) -> None:
    archive.job_archive(job_id=job_id)


def poll_loop(patience: float = 0.0, successor_of: str = "") -> dict:
    return loop.poll_loop(patience, successor_of)
