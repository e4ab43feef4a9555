"""Provider webhooks: Standard-Webhooks signatures, replay window, idempotency, and effect."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from soraweb.videos import webhooks
from soraweb.videos.models import JobEvent, JobState, Provider, VideoJob, WebhookDelivery
from tests.factories import service_job

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """A signature made by the reference implementation, as a real sender makes it."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=body.decode())


def deliver(
    client, provider, body: dict, *, msg_id="msg_1", timestamp=None, secret=SECRET, signature=None
):
    raw = json.dumps(body).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    sig = signature or sign(secret, msg_id, ts, raw)
    return client.post(
        reverse("videos:provider_webhook", args=[provider.pk]),
        raw,
        content_type="application/json",
        HTTP_WEBHOOK_ID=msg_id,
        HTTP_WEBHOOK_TIMESTAMP=str(ts),
        HTTP_WEBHOOK_SIGNATURE=sig,
    )


def event(remote_id: str, kind: str = "video.completed") -> dict:
    return {
        "id": "evt_1",
        "object": "event",
        "created_at": int(time.time()),
        "type": kind,
        "data": {"id": remote_id},
    }


def test_verify_accepts_any_matching_entry_and_refuses_the_rest():
    body = b'{"a":1}'
    now = int(time.time())

    def headers(ts: int, signature: str | None = None) -> dict[str, str]:
        good = sign(SECRET, "m1", ts, body)
        return {
            "webhook-id": "m1",
            "webhook-timestamp": str(ts),
            "webhook-signature": signature or f"v1,bm90LXRoZS1zaWc= {good}",
        }

    assert webhooks.verify(SECRET, headers(now - 100), body) == "m1"
    with pytest.raises(webhooks.WebhookError, match="does not match"):
        webhooks.verify(SECRET, headers(now), b'{"a":2}')
    with pytest.raises(webhooks.WebhookError, match="5 minutes"):
        webhooks.verify(SECRET, headers(now - 301), body)
    with pytest.raises(webhooks.WebhookError, match="5 minutes"):
        webhooks.verify(SECRET, headers(now + 301), body)
    with pytest.raises(webhooks.WebhookError, match="missing"):
        webhooks.verify(SECRET, {"webhook-id": "m1"}, body)
    for malformed in ("v1", "v1,a,b", "v1,!!!notbase64", "v2,xyz"):
        with pytest.raises(webhooks.WebhookError, match="does not match"):
            webhooks.verify(SECRET, headers(now, malformed), body)
    with pytest.raises(webhooks.WebhookError, match="does not match"):
        webhooks.verify(SECRET, headers(now), b"\xff\xfe not utf-8")
    with pytest.raises(webhooks.WebhookError, match="not valid base64"):
        webhooks.verify("whsec_not*base64", headers(now), body)
    bad_stamp = {**headers(now), "webhook-timestamp": "soon"}
    with pytest.raises(webhooks.WebhookError, match="not a number"):
        webhooks.verify(SECRET, bad_stamp, body)


@pytest.mark.django_db
class TestEndpoint:
    @pytest.fixture
    def provider(self, settings):
        settings.SORAWEB_PROVIDER_WEBHOOK_SECRET = SECRET
        return Provider.objects.get(from_environment=True)

    def test_a_forged_signature_is_refused_without_any_change(self, client, provider):
        response = deliver(client, provider, event("sora-2:task_x"), signature="v1,Zm9yZ2Vk")
        assert response.status_code == 400
        assert "signature" in response.json()["error"]
        assert WebhookDelivery.objects.count() == 0

    def test_a_stale_timestamp_is_refused(self, client, provider):
        response = deliver(
            client, provider, event("sora-2:task_x"), timestamp=int(time.time()) - 600
        )
        assert response.status_code == 400
        assert WebhookDelivery.objects.count() == 0

    def test_an_oversized_body_is_refused(self, client, provider):
        response = deliver(client, provider, {"pad": "x" * (webhooks.MAX_BODY_BYTES + 10)})
        assert response.status_code == 413

    def test_a_replayed_delivery_is_acted_on_once(self, client, provider):
        assert deliver(client, provider, event("sora-2:task_unknown")).json()["status"] == "ignored"
        assert (
            deliver(client, provider, event("sora-2:task_unknown")).json()["status"] == "duplicate"
        )
        assert WebhookDelivery.objects.count() == 1

    def test_webhooks_are_off_without_a_secret(self, client, provider, settings):
        settings.SORAWEB_PROVIDER_WEBHOOK_SECRET = ""
        response = deliver(client, provider, event("x"))
        assert response.status_code == 400  # the same answer as a wrong secret gets
        assert WebhookDelivery.objects.count() == 0

    def test_the_endpoint_needs_no_login_or_csrf_token(self, provider):
        from django.test import Client

        strict = Client(enforce_csrf_checks=True)
        assert deliver(strict, provider, event("sora-2:task_nobody")).status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_valid_event_refreshes_the_job_at_once(client, sim_provider, simulator, member, settings):
    settings.SORAWEB_PROVIDER_WEBHOOK_SECRET = SECRET
    job = service_job(member, "webhook refresh [sim:slow=30]")
    job.refresh_from_db()
    assert job.state in (JobState.QUEUED, JobState.RUNNING)
    # Far from its next poll: only the webhook can make it move now.
    VideoJob.objects.filter(pk=job.pk).update(
        next_poll_at=job.created_at + (job.deadline_at - job.created_at)
    )
    simulator.complete_now(job.remote_id)
    response = deliver(client, sim_provider, event(job.remote_id))
    assert response.json()["status"] == "accepted"
    job.refresh_from_db()
    assert (
        job.state == JobState.SUCCEEDED
    )  # polled, then archived, within the request (sync worker)
    assert JobEvent.objects.filter(job=job, message__startswith="Webhook video.completed").exists()
