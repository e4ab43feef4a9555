"""The relay simulator: one local HTTP server speaking all four wire formats of
``shared/spec/providers.md`` (unified, chat, openai, newapi) over one job store.

Plain Python on purpose (no Django): the app's tests start it in a thread, and
``manage.py runsimulator`` / ``python -m soraweb.simulator.cli`` (or ``.server``) run it
standalone. The parts: ``relay`` (``Simulator``), ``store`` (jobs and their clock), ``http``,
``formats/`` (one module per wire format), ``webhooks`` and ``cli``. This module keeps the names
callers import from it.
"""

from __future__ import annotations

from .cli import add_arguments, main, serve, simulator_from_options
from .relay import Simulator
from .store import (
    DEFAULT_MODEL_RULES,
    FORMATS,
    OPENAI_SECONDS,
    ORIENTATIONS,
    PERMISSIVE_RULE,
    Clock,
    FakeClock,
    Job,
    JobView,
    Media,
    ModelRule,
    SystemClock,
    rules_from_catalogue,
)
from .webhooks import sign_webhook, webhook_key

__all__ = [
    "DEFAULT_MODEL_RULES",
    "FORMATS",
    "OPENAI_SECONDS",
    "ORIENTATIONS",
    "PERMISSIVE_RULE",
    "Clock",
    "FakeClock",
    "Job",
    "JobView",
    "Media",
    "ModelRule",
    "Simulator",
    "SystemClock",
    "add_arguments",
    "main",
    "rules_from_catalogue",
    "serve",
    "sign_webhook",
    "simulator_from_options",
    "webhook_key",
]


if __name__ == "__main__":
    main()
