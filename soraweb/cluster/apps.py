from __future__ import annotations

from django.apps import AppConfig


class ClusterConfig(AppConfig):
    """No models: registered so that its ``qcluster`` command replaces django-q2's."""

    name = "soraweb.cluster"
    label = "soraweb_cluster"
    verbose_name = "Task cluster"
