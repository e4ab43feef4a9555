"""Signals other parts of soraweb can listen to without the pipeline knowing about them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent after the transaction commits, once per job, when a job reaches a settled state
# (succeeded, failed, expired, needs attention, cancelled). Arguments: job, from_state, to_state.
job_settled = Signal()
