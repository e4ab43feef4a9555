"""Scrub, then cut, then scrub: a relay that echoes the key must not leak any piece of it.

Error texts are shortened (300 characters of a reason, 500 of a failed job's reason, 200 of an
unreadable body). Cutting first and scrubbing afterwards left all but the last characters of a
key on a job page, because the scrubber only recognises the whole key. Each key shape below is
echoed at offsets that put the cut inside it, through the real client over real HTTP.
"""

from __future__ import annotations

import json

import pytest

from soraweb.ops.redaction import redact
from soraweb.providers import ProviderError, WireFormat, make_client
from soraweb.providers.http import shorten
from tests.providers.conftest import FakeServer

KEYS = {
    "sk": "sk-proj-Q7wXz9Lm2Rt4Vb6Nc8Hd0Jf3",
    "hex64": "3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzb3Jhd2ViIn0.c2lnbmF0dXJlLXNpZy1aWjk",
    "slash_plus": "AbC/dEf+GhI/jKl+MnO/pQr+StU=",
    "short12": "Zq8Lm2Rt7Wp4",
}
FILLER = "relay said "


def echo_text(key: str, cut_at: int, into_key: int) -> str:
    """A message in which ``key`` starts so that a cut at ``cut_at`` falls ``into_key`` chars
    into it."""
    start = cut_at - into_key
    filler = (FILLER * (start // len(FILLER) + 1))[:start]
    return filler + key + " and then some more words after the key"


def assert_no_piece_of(key: str, text: str) -> None:
    window = min(6, len(key) - 1)
    for i in range(len(key) - window + 1):
        assert key[i : i + window] not in text, (key[i : i + window], text)


def offsets(key: str) -> list[int]:
    return sorted({1, 4, len(key) // 2, len(key) - 2, len(key) - 1})


@pytest.fixture
def relay():
    server = FakeServer().start()
    yield server
    server.stop()


CASES = [(shape, d) for shape, key in KEYS.items() for d in offsets(key)]


@pytest.mark.parametrize(("shape", "into_key"), CASES)
def test_a_refusal_reason_never_keeps_a_piece_of_the_key(relay, shape, into_key):
    key = KEYS[shape]
    # The reason is cut to 300 characters; the message wrapper adds none before the reason.
    reason = echo_text(key, 299, into_key)

    @relay.route("GET", "/v1/video/query")
    def refuse(h):
        h.reply_json(400, {"error": {"message": reason}})

    with pytest.raises(ProviderError) as caught:
        make_client(relay.config(api_key=key)).status("x")
    assert "relay said" in caught.value.message  # the reason is shown, just not the key
    assert_no_piece_of(key, caught.value.message)


@pytest.mark.parametrize(("shape", "into_key"), CASES)
def test_a_failed_jobs_reason_never_keeps_a_piece_of_the_key(relay, shape, into_key):
    key = KEYS[shape]
    reason = echo_text(key, 499, into_key)  # failure reasons are cut to 500

    @relay.route("GET", "/v1/video/query")
    def failed(h):
        h.reply_json(200, {"id": "x", "status": "failed", "error": reason})

    status = make_client(relay.config(api_key=key)).status("x")
    assert status.error and "relay said" in status.error
    assert_no_piece_of(key, status.error)


@pytest.mark.parametrize(("shape", "into_key"), CASES)
def test_an_unreadable_body_never_keeps_a_piece_of_the_key(relay, shape, into_key):
    key = KEYS[shape]
    body = echo_text(key, 199, into_key)  # a body that is not JSON: 200 characters are shown

    @relay.route("GET", "/v1/video/query")
    def garbage(h):
        h.reply(200, body.encode(), content_type="text/plain")

    with pytest.raises(ProviderError) as caught:
        make_client(relay.config(api_key=key)).status("x")
    assert_no_piece_of(key, caught.value.message)


@pytest.mark.parametrize(("shape", "into_key"), CASES)
def test_an_html_error_page_never_keeps_a_piece_of_the_key(relay, shape, into_key):
    key = KEYS[shape]
    title = echo_text(key, 299, into_key)

    @relay.route("GET", "/v1/videos/v1")
    def page(h):
        h.reply(502, f"<html><title>{title}</title></html>".encode(), content_type="text/html")

    with pytest.raises(ProviderError) as caught:
        make_client(relay.config(api_key=key, wire_format=WireFormat.OPENAI)).status("v1")
    assert_no_piece_of(key, caught.value.message)


def test_a_key_split_by_a_control_character_is_still_scrubbed(relay):
    key = KEYS["hex64"]
    # Removing the control character while shortening joins the key back together.
    reason = f"bad key {key[:20]}\x01{key[20:]}"

    @relay.route("GET", "/v1/video/query")
    def refuse(h):
        h.reply_json(401, {"error": {"message": reason}})

    with pytest.raises(ProviderError) as caught:
        make_client(relay.config(api_key=key)).status("x")
    assert_no_piece_of(key, caught.value.message)


@pytest.mark.parametrize("shape", KEYS)
@pytest.mark.parametrize("limit", [200, 300, 500])
def test_a_key_nobody_told_us_about_is_not_left_in_pieces_by_a_cut(shape, limit):
    # A relay may echo another key than ours: the cut never keeps part of a word it splits.
    key = KEYS[shape]
    for into_key in offsets(key):
        text = shorten(echo_text(key, limit - 1, into_key), limit)
        assert len(text) <= limit
        assert_no_piece_of(key, text)


@pytest.mark.parametrize("shape", KEYS)
def test_a_stored_answer_cut_to_size_keeps_no_piece_of_the_key(shape):
    key = KEYS[shape]
    for into_key in offsets(key):
        stored = redact({"message": echo_text(key, 3999, into_key)}, secrets=(key,))
        assert_no_piece_of(key, json.dumps(stored))
        unknown = redact({"message": echo_text(key, 3999, into_key)})
        assert_no_piece_of(key, json.dumps(unknown))


@pytest.mark.parametrize("shape", KEYS)
def test_keeping_the_end_of_a_long_answer_keeps_no_piece_of_the_key(relay, shape):
    # The chat format stores the last 4000 characters of a stream: that cut is at the start.
    key = KEYS[shape]
    http = make_client(relay.config(api_key=key, wire_format=WireFormat.CHAT)).http
    for into_key in [d for d in offsets(key) if d > 1]:  # (at 1 the text is not too long)
        # 3999 characters are kept (and "…"): the cut falls ``into_key`` characters into the key.
        filler = ("x " * 2000)[: into_key + 3999 - len(key) - 1]
        text = key + " " + filler
        assert key[into_key:] in text[-3999:] and key not in text[-3999:]
        kept = http.tail(text, 4000)
        assert len(kept) <= 4000
        assert_no_piece_of(key, kept)
        unknown = make_client(relay.config(api_key="", wire_format=WireFormat.CHAT)).http
        assert_no_piece_of(key, unknown.tail(text, 4000))
