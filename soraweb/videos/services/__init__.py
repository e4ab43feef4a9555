"""User writes, one module per concern; the background steps live in ``soraweb.videos.pipeline``.

- ``jobs``: a person's own jobs: create (one, a batch, a remix, a retry), cancel, pictures;
- ``team``: what the team does with each other's videos: reviews, favourites, deleting;
- ``fixes``: the admin's fixes for stuck or wrong jobs, and ``FIXES``, the table the admin shows.

Callers import the functions from here.
"""

from soraweb.videos.services.fixes import (
    FIXES,
    FIXES_BY_NAME,
    Candidate,
    Fix,
    fix_run,
    fixes_available,
    job_adopt,
    job_check_provider,
    job_delete_files,
    job_mark_failed,
    job_refresh_now,
    tasks_for_adoption,
)
from soraweb.videos.services.jobs import (
    BatchItem,
    BatchOutcome,
    job_ask_admin,
    job_cancel,
    job_create,
    job_remix,
    job_remix_cost,
    job_retry,
    job_settings,
    job_validate_settings,
    jobs_create_batch,
    reference_image_store,
)
from soraweb.videos.services.team import job_delete, job_favourite_set, job_review

__all__ = [
    "FIXES",
    "FIXES_BY_NAME",
    "BatchItem",
    "BatchOutcome",
    "Candidate",
    "Fix",
    "fix_run",
    "fixes_available",
    "job_adopt",
    "job_ask_admin",
    "job_check_provider",
    "job_cancel",
    "job_create",
    "job_delete",
    "job_delete_files",
    "job_favourite_set",
    "job_mark_failed",
    "job_refresh_now",
    "job_remix",
    "job_remix_cost",
    "job_retry",
    "job_review",
    "job_settings",
    "job_validate_settings",
    "jobs_create_batch",
    "reference_image_store",
    "tasks_for_adoption",
]
