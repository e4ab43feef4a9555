"""Incoming provider webhooks, verified the Standard-Webhooks way (spec section 3).

The check itself is the reference implementation (the ``standardwebhooks`` package): signed
string ``"{webhook-id}.{webhook-timestamp}.{raw body}"``, HMAC-SHA256 with the base64-decoded
secret after ``whsec_``, any of the space-separated ``v1,<base64>`` entries may match, and
timestamps more than five minutes off are refused, which, with the delivery ids we remember,
makes a replay useless. This module only turns its outcomes into messages safe to send back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY_BYTES = 64 * 1024


class WebhookError(Exception):
    """Why a delivery was refused (safe to return to the sender: it names no secret)."""


def secret_bytes(secret: str) -> bytes:
    """The key a ``whsec_`` secret stands for; WebhookError when it is not usable."""
    raw = secret.strip()
    body = raw[len("whsec_") :] if raw.startswith("whsec_") else raw
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookError("the configured webhook secret is not valid base64") from exc
    if not key:
        raise WebhookError("the configured webhook secret is empty")
    return key


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> str:
    """Check one delivery; return its webhook-id, or raise WebhookError."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookError("body too large")
    wanted = {name: headers.get(name, "") for name in ("webhook-id", "webhook-timestamp")}
    wanted["webhook-signature"] = headers.get("webhook-signature", "")
    if not all(wanted.values()):
        raise WebhookError("missing webhook-id, webhook-timestamp or webhook-signature header")
    hook = Webhook(secret_bytes(secret))
    try:
        hook.verify(body, wanted, json_parse=False)
    except WebhookVerificationError as exc:
        if "too old" in str(exc) or "too new" in str(exc):
            raise WebhookError(
                "webhook-timestamp is more than 5 minutes away from our clock"
            ) from None
        if "Invalid Signature Headers" in str(exc):
            raise WebhookError("webhook-timestamp is not a number") from None
        raise WebhookError("signature does not match") from None
    except (ValueError, binascii.Error):
        # A malformed entry ("v1" with no comma, bad base64) or a body that is not UTF-8.
        raise WebhookError("signature does not match") from None
    return wanted["webhook-id"]
