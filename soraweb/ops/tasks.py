"""django-q2 entry points for operations. Each is a thin wrapper around one service."""

from __future__ import annotations

from soraweb.ops import services


def deliver_webhook(delivery_id: int) -> str:
    return services.delivery_attempt(delivery_id=delivery_id)


def every_minute() -> dict:
    """The minute schedule: webhook retries whose backoff has passed (and any hand-over that was
    lost), and ledger entries whose job ended while no process was listening."""
    return {
        "deliveries": services.deliveries_send_due(),
        "ledger_settled": services.ledger_reconcile(),
    }


def send_job_email(job_id: int, state: str) -> bool:
    return services.job_email_send(job_id=job_id, state=state)
