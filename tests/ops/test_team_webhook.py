"""The team webhook over real HTTP: signature, retries with backoff, giving up, SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from soraweb.ops import services
from soraweb.ops.models import DeliveryStatus, OutgoingDelivery, TeamWebhook
from soraweb.videos.models import JobState
from tests.factories import ago, job_row, seeded_row

pytestmark = pytest.mark.django_db
SECRET = "whsec_dGVhbS1zZWNyZXQtZm9yLXRlc3RzLTMyLWJ5dGVzLi4u"
# What soraweb generated before secrets were standard base64: stock verifiers must accept it too.
LEGACY_SECRET = "whsec_team-secret_for-tests"


class Receiver:
    """A chat server's incoming webhook: it checks every request's signature on its own."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.requests: list[dict] = []
        self.replies: list[tuple[int, dict]] = []  # planned answers; then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = (
                    "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                )
                payload = json.loads(body)
                try:
                    # The stock Standard Webhooks verifier, as a receiver would use it.
                    Webhook(receiver.secret).verify(body, dict(self.headers), json_parse=False)
                    standard = self.headers["webhook-id"] == payload.get("delivery_id")
                except WebhookVerificationError:
                    standard = False
                valid = (
                    standard
                    and hmac.compare_digest(expected, self.headers.get("X-Soraweb-Signature", ""))
                    and self.headers.get("X-Soraweb-Timestamp") == str(payload.get("timestamp"))
                    and abs(time.time() - int(self.headers["X-Soraweb-Timestamp"])) < 300
                )
                receiver.requests.append(
                    {"headers": dict(self.headers), "payload": payload, "valid": valid}
                )
                code, headers = (
                    (401, {})
                    if not valid
                    else (receiver.replies.pop(0) if receiver.replies else (200, {}))
                )
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if code >= 300 else b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/soraweb"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.SORAWEB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    r = Receiver()
    yield r
    r.close()


def finish(job, state, capture, **fields) -> None:
    with capture(execute=True):
        assert job.transition(state, message="test", **fields)


def test_it_posts_a_signed_announcement_when_a_video_is_ready(
    receiver, member, django_capture_on_commit_callbacks
):
    TeamWebhook.objects.create(name="Team chat", url=receiver.url, secret=SECRET)
    job = job_row(
        member,
        state=JobState.ARCHIVING,
        text="a fox in the snow",
        cost="1.50",
        created_at=ago(minutes=5),
        events=True,
    )
    finish(job, JobState.SUCCEEDED, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["valid"]
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Soraweb-Event"] == "job.succeeded"
    payload = request["payload"]
    assert payload["event"] == "job.succeeded"
    assert payload["delivery_id"] == request["headers"]["X-Soraweb-Delivery"]
    assert payload["job"]["id"] == job.pk
    assert payload["job"]["prompt"] == "a fox in the snow"
    assert payload["job"]["estimated_cost"] == "1.50"
    assert payload["job"]["video_url"] == f"/jobs/{job.pk}/video.mp4"
    assert payload["text"] == f"mia: The video “a fox in the snow” is ready. /jobs/{job.pk}/"
    delivery = OutgoingDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


@pytest.mark.parametrize("secret", ["generated", LEGACY_SECRET])
def test_stock_standard_webhooks_verifiers_accept_it(
    settings, member, secret, django_capture_on_commit_callbacks
):
    settings.SORAWEB_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    hook = TeamWebhook.objects.create(
        name="Std",
        url="http://127.0.0.1:1/",
        **({} if secret == "generated" else {"secret": secret}),
    )
    receiver = Receiver(secret=hook.secret)
    try:
        hook.url = receiver.url
        hook.save()
        finish(
            seeded_row(
                member,
                state=JobState.RUNNING,
                created_at=ago(minutes=5),
            ),
            JobState.FAILED,
            django_capture_on_commit_callbacks,
        )
    finally:
        receiver.close()
    [request] = receiver.requests
    assert request["valid"]
    headers = request["headers"]
    assert headers["webhook-id"] == headers["X-Soraweb-Delivery"]
    assert headers["webhook-timestamp"] == headers["X-Soraweb-Timestamp"]
    assert headers["webhook-signature"].startswith("v1,")


def test_a_receiver_with_another_secret_refuses_it_and_the_failure_is_recorded(
    receiver, member, django_capture_on_commit_callbacks
):
    TeamWebhook.objects.create(name="Wrong secret", url=receiver.url, secret="whsec_other")
    finish(
        seeded_row(
            member,
            state=JobState.RUNNING,
            created_at=ago(minutes=5),
        ),
        JobState.FAILED,
        django_capture_on_commit_callbacks,
    )
    assert [r["valid"] for r in receiver.requests] == [False]
    delivery = OutgoingDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED  # a 4xx answer will not change by retrying
    assert delivery.last_status_code == 401
    assert "HTTP 401" in delivery.last_error


def test_it_retries_with_backoff_until_the_receiver_accepts(receiver, member):
    receiver.replies = [(503, {}), (502, {})]
    hook = TeamWebhook.objects.create(name="Team chat", url=receiver.url, secret=SECRET)
    job = seeded_row(
        member,
        state=JobState.SUCCEEDED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    [delivery] = services.webhook_deliveries_create(job=job, state=JobState.SUCCEEDED)
    assert delivery.webhook == hook
    # The hand-over to the worker runs on commit; here the attempts are driven by hand.
    now = timezone.now()
    assert services.delivery_attempt(delivery_id=delivery.pk, now=now) == "retry"
    delivery.refresh_from_db()
    first_wait = (delivery.next_attempt_at - now).total_seconds()
    assert 30 <= first_wait <= 33
    assert services.deliveries_send_due(now=now + timedelta(seconds=10)) == 0  # not due yet
    later = delivery.next_attempt_at + timedelta(seconds=1)
    assert services.delivery_attempt(delivery_id=delivery.pk, now=later) == "retry"
    delivery.refresh_from_db()
    assert 60 <= (delivery.next_attempt_at - later).total_seconds() <= 66  # doubled
    assert services.deliveries_send_due(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    ids = {r["headers"]["X-Soraweb-Delivery"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(ids) == 1  # same delivery id: receivers dedupe
    assert all(r["valid"] for r in receiver.requests)


def test_it_gives_up_after_the_last_attempt(receiver, member):
    receiver.replies = [(500, {})] * 20
    TeamWebhook.objects.create(name="Down", url=receiver.url, secret=SECRET)
    [delivery] = services.webhook_deliveries_create(
        job=seeded_row(
            member,
            state=JobState.SUCCEEDED,
            created_at=ago(minutes=5),
            seconds=60,
        ),
        state=JobState.SUCCEEDED,
    )
    now = timezone.now()
    for _ in range(10):
        services.deliveries_send_due(now=now)
        now += timedelta(hours=2)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == services.MAX_DELIVERY_ATTEMPTS == len(receiver.requests)
    assert delivery.last_error == "The receiver answered HTTP 500: no"


def test_private_addresses_are_refused_unless_an_operator_allows_the_host(
    settings, member, django_capture_on_commit_callbacks
):
    settings.SORAWEB_WEBHOOK_ALLOWED_HOSTS = []
    receiver = Receiver()
    try:
        hook = TeamWebhook(name="Internal", url=receiver.url, secret=SECRET)
        with pytest.raises(ValidationError, match="private or local network"):
            hook.full_clean()
        with pytest.raises(ValidationError, match="private or local network"):
            TeamWebhook(name="Metadata", url="http://169.254.169.254/latest/").full_clean()
        hook.save()  # saved behind the form's back: sending still refuses
        finish(
            seeded_row(
                member,
                state=JobState.RUNNING,
                created_at=ago(minutes=5),
            ),
            JobState.FAILED,
            django_capture_on_commit_callbacks,
        )
        delivery = OutgoingDelivery.objects.get()
        assert delivery.status == DeliveryStatus.FAILED
        assert "SORAWEB_WEBHOOK_ALLOWED_HOSTS" in delivery.last_error
        assert receiver.requests == []

        settings.SORAWEB_WEBHOOK_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.server.server_port}"]
        hook.full_clean()
        with django_capture_on_commit_callbacks(execute=True):
            services.delivery_send_again(delivery=delivery)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DELIVERED and len(receiver.requests) == 1
    finally:
        receiver.close()


def test_redirects_are_not_followed(receiver, member):
    receiver.replies = [(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    TeamWebhook.objects.create(name="Moved", url=receiver.url, secret=SECRET)
    [delivery] = services.webhook_deliveries_create(
        job=seeded_row(
            member,
            state=JobState.SUCCEEDED,
            created_at=ago(minutes=5),
            seconds=60,
        ),
        state=JobState.SUCCEEDED,
    )
    assert services.delivery_attempt(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and len(receiver.requests) == 1


def test_only_finished_videos_are_announced_when_asked(
    receiver, member, django_capture_on_commit_callbacks
):
    TeamWebhook.objects.create(
        name="Wins only", url=receiver.url, secret=SECRET, only_succeeded=True
    )
    finish(
        seeded_row(
            member,
            state=JobState.RUNNING,
            created_at=ago(minutes=5),
        ),
        JobState.FAILED,
        django_capture_on_commit_callbacks,
    )
    assert receiver.requests == []
    finish(
        seeded_row(
            member,
            state=JobState.ARCHIVING,
            created_at=ago(minutes=5),
        ),
        JobState.SUCCEEDED,
        django_capture_on_commit_callbacks,
    )
    assert [r["payload"]["event"] for r in receiver.requests] == ["job.succeeded"]


def test_the_admin_can_send_a_test_message(client, staff, receiver):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    hook = TeamWebhook.objects.create(name="Team chat", url=receiver.url, secret=SECRET)
    response = client.post(
        reverse("admin:ops_teamwebhook_changelist"),
        {"action": "send_test", "_selected_action": [hook.pk]},
        follow=True,
    )
    assert (
        "Team chat: the receiver accepted the test message (HTTP 200)." in response.content.decode()
    )
    assert receiver.requests[0]["payload"]["event"] == "ping"
    assert receiver.requests[0]["valid"]
