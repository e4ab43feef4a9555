"""Start everything soraweb needs on one machine and stop it all together.

The web server (gunicorn), one django-q2 cluster and, when no provider is configured, the
built-in relay simulator run as child processes. Ctrl-C, SIGTERM or SIGHUP (its terminal closed)
stops all of them; if one of them dies, the others are stopped too, so nothing is left
half-running. If this process itself is killed, its children still stop (see
``soraweb.supervise``), and a second start while one runs says so in one line.
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
from django.utils.translation import gettext as _

from soraweb import supervise
from soraweb.env import env_bool, env_int
from soraweb.videos.management.commands.soraweb_setup import announce_first_admin_when_ready

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Run the web server, a background worker and (without a provider) the simulator."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=env_int("SORAWEB_PORT", 8000))
        parser.add_argument("--host", default=os.environ.get("SORAWEB_HOST", "127.0.0.1"))
        parser.add_argument("--web-workers", type=int, default=env_int("SORAWEB_WEB_WORKERS", 2))

    def handle(self, *args, **options) -> None:
        lock = supervise.PidLock(settings.DATA_DIR / "runstack.pid")
        try:
            lock.acquire()
        except supervise.AlreadyRunning as running:
            self._refuse(
                _("soraweb is already running here (pid %(pid)s); stop it with: kill %(pid)s")
                % {"pid": running.pid or "?"}
            )
        ports = [(options["host"], options["port"])]
        if not settings.SORAWEB_PROVIDER_BASE_URL:
            ports.append(("127.0.0.1", settings.SORAWEB_SIMULATOR_PORT))
        for host, port in ports:
            if supervise.port_in_use(host, port):
                lock.release()
                self._refuse(
                    _(
                        "Port %(port)s on %(host)s is already in use by another program; stop it "
                        "or choose another port (SORAWEB_PORT, SORAWEB_SIMULATOR_PORT)."
                    )
                    % {"port": port, "host": host}
                )
        try:
            self._run(options)
        finally:
            lock.release()

    def _refuse(self, line: str) -> None:
        self.stderr.write(line)
        sys.exit(1)

    def _say(self, text: str) -> None:
        # After SIGHUP the terminal is gone and writing to it fails; stopping must go on.
        with contextlib.suppress(OSError):
            self.stdout.write(self.style.WARNING(text))
            sys.stdout.flush()
            self.stdout.flush()

    def _run(self, options) -> None:
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
        # --skip-checks: the system checks import every view, form and URL (Pillow among them)
        # into the cluster's main process, and every process it forks carries them (about 5 MB
        # each); migrate and the web server's setup check the same configuration.
        children.append(("worker", [python, manage, "qcluster", "--skip-checks"]))
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
                    # Page threads plus one per live stream this process may hold (see
                    # soraweb.videos.live): held streams never take a page's thread.
                    "--threads",
                    str(env_int("SORAWEB_WEB_THREADS", 8) + settings.SORAWEB_LIVE_STREAMS),
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
        signal.signal(signal.SIGHUP, stop)
        guard = supervise.Guard(python, grace=STOP_GRACE_SECONDS, cwd=settings.BASE_DIR, env=env)
        die_with_us = supervise.die_with_parent()
        for name, cmd in children:
            # Each child gets its own process group, so a terminal's Ctrl-C reaches only us and we
            # stop the children in order. If we die without stopping them, the kernel sends them
            # SIGTERM and the guard stops their groups.
            procs[name] = subprocess.Popen(
                cmd,
                env=env,
                cwd=settings.BASE_DIR,
                start_new_session=True,
                preexec_fn=die_with_us,
            )
            guard.watch(procs[name].pid, signalled=die_with_us is not None)
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
            guard.done()
        self._say("soraweb stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _stop_all(self, procs: dict[str, subprocess.Popen]) -> None:
        # A worker finishes the step it is on; after the grace period it is killed, which is
        # safe: every step claims its job and the next start resumes it.
        self._say("Stopping: the worker finishes its current step (at most 15 s)…")
        for proc in reversed(list(procs.values())):
            if proc.poll() is None:
                # The child only, not its group: gunicorn's master and the cluster stop their
                # own workers, and a django-q2 worker given SIGTERM directly dies mid-task.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
