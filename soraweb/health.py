"""``/healthz``: is this process able to reach the database and the task broker?

200 with ``{"status": "ok", ...}`` when both answer, else 503 naming the part that failed. Open
without login (container and load-balancer probes have no session), exempt from the HTTPS
redirect, never cached. The reason names the exception class only; details go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 3.0


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    """Ping the broker django-q2 uses: Redis with a bounded wait, else the ORM broker's table."""
    redis_url = settings.Q_CLUSTER.get("redis")
    if isinstance(redis_url, str) and redis_url:
        import redis

        client = redis.Redis.from_url(
            redis_url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()
        return
    from django_q.brokers import get_broker

    # The ORM broker's ping() answers True without asking anything; counting its queue reads
    # the broker's table.
    get_broker().queue_size()


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "broker": check_broker}


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            logger.warning("health check %s failed: %s", name, exc, exc_info=True)
            results[name] = f"unavailable ({type(exc).__name__})"
        else:
            results[name] = "ok"
    return results


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **results}, status=200 if healthy else 503
    )
