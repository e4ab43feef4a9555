"""``manage.py runsimulator``: serve the relay simulator until Ctrl-C.

Only a thin wrapper: the simulator itself is plain Python (``soraweb.simulator``) and
runs the same way with ``python -m soraweb.simulator.cli``.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from soraweb.simulator import cli


class Command(BaseCommand):
    help = (
        "Run the local relay simulator (unified, chat, openai and newapi wire formats, with "
        "fault markers such as [sim:429] in the prompt). Options also read "
        "SORAWEB_SIMULATOR_<OPTION> from the environment."
    )
    # A dev tool with no models: it must start even while the database is not migrated.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        # Request lines go to stderr at -v 2 and above.
        sim = cli.simulator_from_options(options, quiet=options["verbosity"] < 2)

        def say(line: str) -> None:
            self.stdout.write(line)
            self.stdout.flush()

        cli.serve(sim, say, options.get("serve_seconds"))
