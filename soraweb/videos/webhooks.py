"""Incoming provider webhooks, verified the Standard-Webhooks way (spec section 3).

The signed string is ``"{webhook-id}.{webhook-timestamp}.{raw body}"``, HMAC-SHA256 with the
base64-decoded secret that follows ``whsec_``; the header holds space-separated ``v1,<base64>``
entries, any one of which may match. Timestamps more than five minutes off are refused, which,
with the delivery ids we remember, makes a replay useless.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024


class WebhookError(Exception):
    """Why a delivery was refused (safe to return to the sender: it names no secret)."""


def secret_bytes(secret: str) -> bytes:
    raw = secret.strip()
    if raw.startswith("whsec_"):
        raw = raw[len("whsec_") :]
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookError("the configured webhook secret is not valid base64") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> str:
    """Check one delivery; return its webhook-id, or raise WebhookError."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("body too large")
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not stamp or not signatures:
        raise WebhookError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise WebhookError("webhook-timestamp is not a number") from exc
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise WebhookError("webhook-timestamp is more than 5 minutes away from our clock")
    expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return msg_id
    raise WebhookError("signature does not match")
