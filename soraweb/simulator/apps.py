from __future__ import annotations

from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Registered only so that ``manage.py runsimulator`` is found; the app has no models."""

    name = "soraweb.simulator"
    label = "simulator"
    verbose_name = "Relay simulator"
