"""Standard-Webhooks events the simulator sends when a job ends (``video.completed`` /
``video.failed``), retried on non-2xx after the configured delays.

The retry schedule reads the store's clock: with a ``FakeClock`` a retry goes out when a test
advances the clock past it. The signature's timestamp is the wall time, as the receiver checks
it against its own clock (a 300 s window).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from .store import Clock


def sign_webhook(secret: str | None, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard-Webhooks headers. Without a secret the message goes out unsigned."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        # Signed by the reference implementation, as a real sender signs.
        when = datetime.fromtimestamp(timestamp, tz=UTC)
        headers["webhook-signature"] = Webhook(webhook_key(secret)).sign(
            msg_id=msg_id, timestamp=when, data=body.decode()
        )
    return headers


def webhook_key(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        # Not base64: use the text itself rather than refuse to sign at all.
        return raw.encode()


class WebhookSender:
    """Delivers one event per ended job, each in its own thread, and logs every attempt."""

    def __init__(
        self,
        *,
        url: str | None,
        secret: str | None,
        formats: Iterable[str],
        retry_delays: Iterable[float],
        clock: Clock,
        stop: threading.Event,
        lock: threading.RLock,
        log: Callable[[str], None],
    ) -> None:
        self.url = url
        self.secret = secret
        self.formats = frozenset(formats)
        self.retry_delays = tuple(float(d) for d in retry_delays)
        self.clock = clock
        self._stop = stop
        self._lock = lock
        self._say = log
        self.entries: list[dict[str, Any]] = []

    def wants(self, fmt: str) -> bool:
        return bool(self.url) and fmt in self.formats

    def send(self, job_id: str, event_type: str) -> None:
        threading.Thread(
            target=self.deliver,
            args=(job_id, event_type),
            name=f"sim-webhook-{job_id}",
            daemon=True,
        ).start()

    def deliver(self, job_id: str, event_type: str) -> None:
        event_id = f"evt_{secrets.token_hex(16)}"
        body = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "created_at": int(self.clock.now()),
                "type": event_type,
                "data": {"id": job_id},
            },
            separators=(",", ":"),
        ).encode()
        due = self.clock.now()
        for attempt in range(1, len(self.retry_delays) + 2):
            if self.clock.sleep_until(due, self._stop) or self._stop.is_set():
                return
            status, error = self._post(event_id, body)
            ok = status is not None and 200 <= status < 300
            if attempt <= len(self.retry_delays):
                # Set before the attempt is logged: a test that sees the attempt may advance a
                # fake clock past the retry at once.
                due = self.clock.now() + self.retry_delays[attempt - 1]
            with self._lock:
                self.entries.append(
                    {
                        "event_id": event_id,
                        "type": event_type,
                        "video_id": job_id,
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "delivered": ok,
                    }
                )
            if ok:
                return

    def _post(self, event_id: str, body: bytes) -> tuple[int | None, str | None]:
        # Re-signed per attempt, on the wall clock: a late retry must still pass the
        # receiver's 300 s window.
        headers = sign_webhook(self.secret, event_id, int(time.time()), body)
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = "soraweb-simulator-webhooks/1"
        try:
            # The scheme was checked to be http(s) when the simulator was made.
            request = urllib.request.Request(  # noqa: S310
                self.url or "", data=body, headers=headers, method="POST"
            )
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (OSError, ValueError) as exc:
            return None, str(exc)
