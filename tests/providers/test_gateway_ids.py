"""Gateway-managed ids: a remix through LiteLLM is followed by its source's deployment."""

from __future__ import annotations

import base64

import pytest

from soraweb.providers import gateway_ids
from soraweb.providers.gateway_ids import ManagedId


def litellm_id(provider: str, deployment: str, upstream: str, *, padded: bool = True) -> str:
    text = f"litellm:custom_llm_provider:{provider};model_id:{deployment};video_id:{upstream}"
    encoded = base64.b64encode(text.encode()).decode()
    return "video_" + (encoded if padded else encoded.rstrip("="))


def test_it_reads_litellm_ids_with_and_without_padding():
    for padded in (True, False):
        got = gateway_ids.decode(litellm_id("openai", "dep-1", "video_abc", padded=padded))
        assert got == ManagedId("openai", "dep-1", "video_abc")


def test_an_upstream_id_may_hold_the_separators():
    upstream = "task:9;model_id:x;video_id:y/=%"
    assert gateway_ids.decode(litellm_id("openai", "d", upstream)).upstream_id == upstream


@pytest.mark.parametrize(
    "remote_id",
    [
        "video_68d7512d07848190b3e45da0ecbebcde",  # OpenAI's own id: hex, not base64 text
        "task_123",
        "video_",
        "video_!!!not-base64",
        "video_" + base64.b64encode(b"\xff\xfe").decode(),
        "video_" + base64.b64encode(b"something;else;entirely").decode(),
    ],
)
def test_other_ids_are_not_managed_ones(remote_id):
    assert gateway_ids.decode(remote_id) is None
    assert gateway_ids.remix_id(remote_id, source_id=litellm_id("openai", "d", "v")) == remote_id


def test_a_remix_id_without_a_deployment_gets_its_sources():
    source = litellm_id("openai", "dep-1", "video_src")
    fixed = gateway_ids.remix_id(litellm_id("openai", "", "video_new"), source_id=source)
    assert gateway_ids.decode(fixed) == ManagedId("openai", "dep-1", "video_new")
    assert fixed == litellm_id("openai", "dep-1", "video_new")  # LiteLLM's own spelling


def test_a_remix_id_that_names_a_deployment_is_kept():
    remix = litellm_id("openai", "dep-2", "video_new")
    assert gateway_ids.remix_id(remix, source_id=litellm_id("openai", "dep-1", "s")) == remix


def test_nothing_is_invented_when_the_source_names_no_deployment():
    remix = litellm_id("openai", "", "video_new")
    assert gateway_ids.remix_id(remix, source_id=litellm_id("openai", "", "s")) == remix
    assert gateway_ids.remix_id(remix, source_id="plain-id") == remix
