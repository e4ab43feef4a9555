"""gunicorn settings for production: ``gunicorn -c python:soraweb.gunicorn_conf soraweb.wsgi``.

Threaded workers (gthread): requests mostly wait on the database, and a video streamed by the
app holds one thread for as long as the viewer downloads, so threads are cheaper than
processes. Everything can still be overridden with gunicorn's own ``GUNICORN_CMD_ARGS``.
"""

from __future__ import annotations

import os

from soraweb.env import LIVE_STREAMS_DEFAULT, env_int, env_str
from soraweb.logs import default_format, logging_config

bind = f"{env_str('SORAWEB_HOST', '0.0.0.0')}:{env_int('SORAWEB_PORT', 8000)}"  # noqa: S104
workers = env_int("SORAWEB_WEB_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 8))
worker_class = "gthread"
# Live pages hold one thread per open tab (soraweb.videos.live caps them per process): those
# threads come on top of the ones pages use, so held streams never queue a page request.
threads = env_int("SORAWEB_WEB_THREADS", 8) + env_int("SORAWEB_LIVE_STREAMS", LIVE_STREAMS_DEFAULT)
timeout = env_int("SORAWEB_WEB_TIMEOUT", 120)
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = 2000
max_requests_jitter = 200
# Only a proxy on these addresses may tell gunicorn the original scheme (X-Forwarded-Proto).
forwarded_allow_ips = env_str("SORAWEB_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Heartbeat files on tmpfs: a container's overlay filesystem can stall them under load.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# Recent gunicorn opens a control socket under $HOME; the image's user has no writable home.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
logconfig_dict = logging_config(fmt=default_format(), level=env_str("SORAWEB_LOG_LEVEL", "INFO"))


def post_worker_init(worker) -> None:
    """Once a worker stops being alive (SIGTERM, or recycled after max_requests), its live streams
    end at once: their tabs reconnect to another worker instead of holding this one open for the
    whole graceful timeout (see soraweb.videos.live)."""
    import threading
    import time

    def watch() -> None:
        while worker.alive:
            time.sleep(0.5)
        from soraweb.videos import live

        live.drain()

    threading.Thread(target=watch, name="soraweb-live-drain", daemon=True).start()
