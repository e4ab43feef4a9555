"""``manage.py qcluster``: django-q2's cluster with the sentinel in this process."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from soraweb.cluster.run import run_cluster


class Command(BaseCommand):
    help = (
        "Starts the django-q2 task cluster (workers, monitor, pusher) guarded from this "
        "process, one process fewer than django-q2's own qcluster."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # The options of django-q2's command, with the same meaning.
        parser.add_argument(
            "--run-once", action="store_true", help="Start, guard once and stop again."
        )
        parser.add_argument(
            "-n",
            "--name",
            dest="cluster_name",
            default=None,
            help="Cluster name instead of Q_CLUSTER's (the queue of a multi-queue setup).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 -- as django-q2: no cluster without a signing key
        if options["cluster_name"]:
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        run_cluster(run_once=options["run_once"])
