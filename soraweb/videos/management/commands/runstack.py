"""Start everything soraweb needs on one machine and stop it all together.

The web server (gunicorn), one django-q2 cluster and, when no provider is configured, the
built-in relay simulator run as child processes. Ctrl-C or SIGTERM stops all of them; if one of
them dies, the others are stopped too, so nothing is left half-running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from soraweb.env import env_bool, env_int
from soraweb.videos.management.commands.soraweb_setup import announce_first_admin_when_ready


class Command(BaseCommand):
    help = "Run the web server, a background worker and (without a provider) the simulator."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=env_int("SORAWEB_PORT", 8000))
        parser.add_argument("--host", default=os.environ.get("SORAWEB_HOST", "127.0.0.1"))
        parser.add_argument("--web-workers", type=int, default=env_int("SORAWEB_WEB_WORKERS", 2))

    def handle(self, *args, **options) -> None:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        env = dict(os.environ)
        children: list[tuple[str, list[str]]] = []
        if not settings.SORAWEB_PROVIDER_BASE_URL:
            children.append(
                (
                    "simulator",
                    [
                        python,
                        manage,
                        "runsimulator",
                        "--port",
                        str(settings.SORAWEB_SIMULATOR_PORT),
                    ],
                )
            )
        children.append(("worker", [python, manage, "qcluster"]))
        children.append(
            (
                "web",
                [
                    python,
                    "-m",
                    "gunicorn",
                    "soraweb.wsgi:application",
                    "--bind",
                    f"{options['host']}:{options['port']}",
                    "--workers",
                    str(options["web_workers"]),
                    "--threads",
                    "8",
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "10",
                    # One line per card poll drowns what matters: SORAWEB_ACCESS_LOG=1 brings it.
                    *(["--access-logfile", "-"] if env_bool("SORAWEB_ACCESS_LOG") else []),
                    "--error-logfile",
                    "-",
                ],
            )
        )
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in children:
            # Each child gets its own process group, so a terminal's Ctrl-C reaches only us and we
            # stop the children in order.
            procs[name] = subprocess.Popen(
                cmd, env=env, cwd=settings.BASE_DIR, start_new_session=True
            )
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(
            self.style.SUCCESS(f"soraweb is running at {url}  (Ctrl-C stops everything)")
        )
        if not settings.SORAWEB_PROVIDER_BASE_URL:
            self.stdout.write(
                f"No provider configured: using the built-in simulator at {settings.SORAWEB_SIMULATOR_URL}"
            )
        sys.stdout.flush()
        announce_first_admin_when_ready(write=self._say, site_url=url)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(
                            f"{name} stopped unexpectedly (exit code {proc.returncode}); stopping everything."
                        )
                        exit_code = 1
                        stopping = True
                        break
                time.sleep(0.3)
        finally:
            self._stop_all(procs)
        self.stdout.write("soraweb stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _say(self, text: str) -> None:
        self.stdout.write(self.style.WARNING(text))
        sys.stdout.flush()

    def _stop_all(self, procs: dict[str, subprocess.Popen]) -> None:
        # A worker finishes the step it is on; after the grace period it is killed, which is
        # safe: every step claims its job and the next start resumes it.
        self.stdout.write("Stopping: the worker finishes its current step (at most 15 s)…")
        sys.stdout.flush()
        for proc in reversed(list(procs.values())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
