"""Wait for the database, then migrate and run ``soraweb_setup``, one process at a time.

Container entry points call this on every start. Several containers may start together, and
Django's ``migrate`` takes no lock of its own, so on PostgreSQL the work runs under an advisory
lock (the others wait, then find nothing left to do). On SQLite the database file's write lock
already serialises them.
"""

from __future__ import annotations

import contextlib
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection

LOCK_KEY = 0x50_52_41_57_45_42  # any constant shared by every soraweb process


@contextlib.contextmanager
def _migration_lock():
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


class Command(BaseCommand):
    help = "Wait for the database, then migrate and set up, under a lock across processes."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--wait", type=float, default=60.0, help="Seconds to wait for the database."
        )

    def handle(self, *args, **options) -> None:
        deadline = time.monotonic() + options["wait"]
        while True:
            try:
                connection.ensure_connection()
                break
            except OperationalError as exc:
                if time.monotonic() > deadline:
                    raise CommandError(f"the database is not reachable: {exc}") from exc
                self.stderr.write("waiting for the database...")
                time.sleep(2)
        with _migration_lock():
            call_command("migrate", interactive=False, verbosity=options["verbosity"])
            call_command("soraweb_setup")
