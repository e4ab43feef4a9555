"""Docker HEALTHCHECK for both roles, told apart by the processes the container runs.

web: GET /healthz (database and broker) with a Host header the site accepts.
worker: a django-q2 cluster process is running, and it can reach the database and broker.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def _running_qcluster() -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"qcluster" in cmdline.read_bytes():
                return True
        except OSError:  # the process ended while we looked
            continue
    return False


def check_web() -> bool:
    hosts = [h.strip() for h in os.environ.get("SORAWEB_ALLOWED_HOSTS", "localhost").split(",")]
    host = next((h.lstrip(".") for h in hosts if h and h != "*"), "localhost")
    port = os.environ.get("SORAWEB_PORT", "8000")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - fixed URL
            return response.status == 200
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return False


def check_worker() -> bool:
    if not _running_qcluster():
        print("unhealthy: the cluster is not running", file=sys.stderr)
        return False
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soraweb.settings")
    import django

    django.setup()
    from soraweb.health import run_checks

    results = run_checks()
    if any(value != "ok" for value in results.values()):
        print(f"unhealthy: {results}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ("worker" if _running_qcluster() else "web")
    sys.exit(0 if (check_worker() if role == "worker" else check_web()) else 1)
