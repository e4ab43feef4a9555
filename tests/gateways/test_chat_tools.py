"""The chat format's tools field is a provider setting; the default works with both kinds of relay.

The seeds send ``tools: ["function:generate_animate"]``; LiteLLM and other strict relays refuse
strings and need tool objects. The simulator plays the strict kind with ``[sim:objecttools]``.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from soraweb.providers import CreateRequest, ProviderConfig, ProviderError, WireFormat, make_client
from soraweb.providers.base import ChatTools
from soraweb.videos.models import JobState, Provider
from tests.videos.test_formats import catalogue, submit  # noqa: F401 - fixture
from tests.videos.test_pipeline import drive


def chat_create(simulator, prompt: str, tools: ChatTools):
    config = ProviderConfig(
        base_url=simulator.base_url, wire_format=WireFormat.CHAT, chat_tools=tools
    )
    request = CreateRequest(
        model="sora-2", prompt=prompt, orientation="portrait", size="small", duration=10
    )
    return make_client(config).create(request)


@pytest.mark.parametrize("strict", [False, True])
def test_the_automatic_setting_works_with_both_kinds_of_relay(simulator, strict):
    prompt = f"a lighthouse auto-tools-{strict}" + (" [sim:objecttools]" if strict else "")
    posts_before = simulator.requests_to("POST", "/v1/chat/completions")
    result = chat_create(simulator, prompt, ChatTools.AUTO)
    assert result.status.video_url
    posts = simulator.requests_to("POST", "/v1/chat/completions") - posts_before
    assert posts == (2 if strict else 1)  # strict: refused (nothing made), then objects
    assert simulator.creates_for_prompt(f"auto-tools-{strict}") == 1  # one generation only


def test_strings_are_refused_by_a_strict_relay_and_objects_are_taken(simulator):
    with pytest.raises(ProviderError) as caught:
        chat_create(simulator, "a kite strings-strict [sim:objecttools]", ChatTools.STRINGS)
    assert caught.value.status_code == 400
    assert "expected an object" in caught.value.message
    assert simulator.creates_for_prompt("strings-strict") == 0
    assert chat_create(simulator, "a kite objects [sim:objecttools]", ChatTools.OBJECTS)
    assert chat_create(simulator, "a kite no tools [sim:objecttools]", ChatTools.NONE)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_default_chat_provider_reaches_ready_through_a_strict_relay(
    catalogue,  # noqa: F811
    simulator,
    member,
):
    assert catalogue["chat"].provider.chat_tools == ChatTools.AUTO
    job = drive(submit(member, catalogue["chat"], "a heron strict-relay [sim:objecttools]"))
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.creates_for_prompt("strict-relay") == 1


@pytest.mark.django_db
def test_the_admin_form_offers_the_setting_with_its_help(client, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin_user)
    provider = Provider.objects.create(name="Strict relay", base_url="https://r.example/v1")
    page = client.get(reverse("admin:videos_provider_change", args=[provider.pk]))
    html = page.content.decode()
    assert 'name="chat_tools"' in html
    assert (
        "LiteLLM refuse the seeds" in html
        or "LiteLLM refuse the seeds".replace("'", "&#x27;") in html
    )
    assert 'value="objects"' in html
