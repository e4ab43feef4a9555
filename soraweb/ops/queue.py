"""Handing ops work to the task queue. Imports no ops module, so services, receivers and the
task entry points can all use it without importing each other."""

from __future__ import annotations

from django_q.tasks import async_task


def enqueue(task: str, *args) -> None:
    """Queue ``soraweb.ops.tasks.<task>(*args)``."""
    async_task(f"soraweb.ops.tasks.{task}", *args, task_name=f"{task}{args or ''}")
