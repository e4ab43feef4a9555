"""Signals other parts of soraweb can listen to without the pipeline knowing about them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after the transaction commits, once per job, when a job reaches a settled state
# (succeeded, failed, expired, needs attention, cancelled). Arguments: job, from_state, to_state.
job_settled = Signal()

# Sent when saving a video failed because our own storage did (full, read-only, gone), each time
# it happens. Arguments: job, cause ("storage_full" or "storage_unavailable").
storage_failed = Signal()
