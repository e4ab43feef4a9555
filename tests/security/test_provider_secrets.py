"""The provider's key and webhook secret stay write-only, and stay with the address they are for.

Anyone who may edit a provider could once point its base URL at their own host, keep the stored
key and press "Test connection": the key went to the new host. And whether a provider has a
webhook secret could be told from outside by how its webhook endpoint answered.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from soraweb.videos import webhooks
from soraweb.videos.models import Provider, WebhookDelivery
from tests.providers.conftest import FakeServer

pytestmark = pytest.mark.django_db

KEY = "relay-key-0123456789-abcdef"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"provider-webhook-secret-32-bytes").decode()


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(username="root", password="pw-root-123456")
    client.force_login(user)
    return client


@pytest.fixture
def relay():
    server = FakeServer().start()

    @server.route("GET", "/v1/models")
    def models(h):
        h.reply_json(200, {"data": [{"id": "sora-2"}]})

    yield server
    server.stop()


@pytest.fixture
def elsewhere():
    """Someone else's host, which must never receive the relay's key."""
    server = FakeServer().start()

    @server.route("GET", "/v1/models")
    def models(h):
        h.reply_json(200, {"data": []})

    yield server
    server.stop()


def make_provider(base_url: str, **fields) -> Provider:
    return Provider.objects.create(
        name="Relay",
        base_url=base_url,
        api_key=KEY,
        extra_headers={"X-Group": "video"},
        webhook_secret=WEBHOOK_SECRET,
        **fields,
    )


def form_post(provider: Provider, **changes) -> dict:
    data = {
        "name": provider.name,
        "base_url": provider.base_url,
        "wire_format": provider.wire_format,
        "api_key": "",
        "extra_headers": json.dumps(provider.extra_headers),
        "concurrency_limit": str(provider.concurrency_limit),
        "poll_interval_seconds": str(provider.poll_interval_seconds),
        "webhook_secret": "",
        "enabled": "on",
        "_save": "Save",
    }
    data.update(changes)
    return data


def change_url(provider: Provider) -> str:
    return reverse("admin:videos_provider_change", args=[provider.pk])


def test_moving_the_base_url_requires_the_key_again_so_test_connection_cannot_leak_it(
    admin_client, relay, elsewhere
):
    provider = make_provider(relay.base_url)
    response = admin_client.post(
        change_url(provider), form_post(provider, base_url=elsewhere.base_url)
    )
    assert response.status_code == 200  # the form again, with an error
    assert "type the API key again" in response.content.decode()
    provider.refresh_from_db()
    assert provider.base_url == relay.base_url
    assert provider.api_key == KEY

    admin_client.post(reverse("admin:videos_provider_test_connection", args=[provider.pk]))
    assert all(KEY not in str(seen.headers) for seen in elsewhere.seen)
    assert elsewhere.seen == []
    assert relay.seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_changing_the_extra_headers_requires_the_key_again(admin_client, relay):
    provider = make_provider(relay.base_url)
    response = admin_client.post(
        change_url(provider),
        form_post(provider, extra_headers=json.dumps({"X-Group": "video", "X-Forward-To": "x"})),
    )
    assert response.status_code == 200
    assert "type the API key again" in response.content.decode()
    provider.refresh_from_db()
    assert provider.extra_headers == {"X-Group": "video"}


def test_the_reason_is_given_in_chinese_too(admin_client, relay, elsewhere):
    provider = make_provider(relay.base_url)
    admin_client.cookies["django_language"] = "zh-hans"
    response = admin_client.post(
        change_url(provider),
        form_post(provider, base_url=elsewhere.base_url),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert "重新输入 API 密钥" in response.content.decode()


def test_moving_the_base_url_with_the_key_typed_again_is_saved(admin_client, relay, elsewhere):
    provider = make_provider(relay.base_url)
    response = admin_client.post(
        change_url(provider),
        form_post(provider, base_url=elsewhere.base_url, api_key="key-for-the-new-host-42"),
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.base_url == elsewhere.base_url
    assert provider.api_key == "key-for-the-new-host-42"


def test_moving_the_base_url_and_removing_the_key_is_saved(admin_client, relay, elsewhere):
    provider = make_provider(relay.base_url)
    response = admin_client.post(
        change_url(provider),
        form_post(provider, base_url=elsewhere.base_url, clear_api_key="on"),
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == ""


def test_other_edits_keep_the_stored_key(admin_client, relay):
    provider = make_provider(relay.base_url)
    response = admin_client.post(change_url(provider), form_post(provider, name="Relay two"))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert (provider.name, provider.api_key) == ("Relay two", KEY)


def test_a_base_url_with_credentials_or_a_backslash_is_refused(admin_client, relay):
    provider = make_provider(relay.base_url)
    for url in ["https://user:pw@relay.example.com/v1", "http://127.0.0.1:1\\@relay.example/v1"]:
        response = admin_client.post(
            change_url(provider), form_post(provider, base_url=url, api_key="typed-again-123")
        )
        assert response.status_code == 200, url
    provider.refresh_from_db()
    assert provider.base_url == relay.base_url


def test_the_webhook_secret_is_write_only(admin_client, relay):
    provider = make_provider(relay.base_url)
    page = admin_client.get(change_url(provider)).content.decode()
    assert WEBHOOK_SECRET not in page
    assert WEBHOOK_SECRET.removeprefix("whsec_") not in page
    # Saving without typing it keeps it; typing a new one replaces it; ticking removes it.
    admin_client.post(change_url(provider), form_post(provider, name="Relay b"))
    provider.refresh_from_db()
    assert provider.webhook_secret == WEBHOOK_SECRET
    new_secret = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
    admin_client.post(change_url(provider), form_post(provider, webhook_secret=new_secret))
    provider.refresh_from_db()
    assert provider.webhook_secret == new_secret
    assert new_secret not in admin_client.get(change_url(provider)).content.decode()
    admin_client.post(change_url(provider), form_post(provider, clear_webhook_secret="on"))
    provider.refresh_from_db()
    assert provider.webhook_secret == ""


# --- Signed out, a provider with a webhook secret looks like one without -------------------


def _attempts(client, provider_id: int) -> list[tuple[int, bytes]]:
    url = reverse("videos:provider_webhook", args=[provider_id])
    body = json.dumps({"type": "video.completed", "data": {"id": "x"}}).encode()
    now = int(time.time())
    guess = "whsec_" + base64.b64encode(b"a guess at the secret, 32 bytes").decode()
    guessed = Webhook(guess).sign(
        msg_id="m1", timestamp=datetime.fromtimestamp(now, tz=UTC), data=body.decode()
    )
    tries = [
        {},
        {"HTTP_WEBHOOK_ID": "m1", "HTTP_WEBHOOK_TIMESTAMP": str(now)},
        {
            "HTTP_WEBHOOK_ID": "m1",
            "HTTP_WEBHOOK_TIMESTAMP": "yesterday",
            "HTTP_WEBHOOK_SIGNATURE": guessed,
        },
        {
            "HTTP_WEBHOOK_ID": "m1",
            "HTTP_WEBHOOK_TIMESTAMP": str(now - 3600),
            "HTTP_WEBHOOK_SIGNATURE": guessed,
        },
        {
            "HTTP_WEBHOOK_ID": "m1",
            "HTTP_WEBHOOK_TIMESTAMP": str(now),
            "HTTP_WEBHOOK_SIGNATURE": guessed,
        },
    ]
    answers = []
    for headers in tries:
        response = client.post(url, body, content_type="application/json", **headers)
        answers.append((response.status_code, response.content))
    big = client.post(url, b"x" * (webhooks.MAX_BODY_BYTES + 1), content_type="application/json")
    answers.append((big.status_code, big.content))
    return answers


def test_the_webhook_endpoint_answers_alike_with_and_without_a_secret(client, relay):
    with_secret = make_provider(relay.base_url)
    without = Provider.objects.create(name="No hooks", base_url=relay.base_url, api_key=KEY)
    bad_secret = Provider.objects.create(
        name="Bad secret", base_url=relay.base_url, webhook_secret="not base64 !!"
    )
    disabled = Provider.objects.create(
        name="Off", base_url=relay.base_url, webhook_secret=WEBHOOK_SECRET, enabled=False
    )
    expected = _attempts(client, with_secret.pk)
    assert {code for code, _body in expected} == {400, 413}
    for other in (without.pk, bad_secret.pk, disabled.pk, 999_999):
        assert _attempts(client, other) == expected, other
    assert WebhookDelivery.objects.count() == 0
