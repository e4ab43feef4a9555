"""The API key never reaches a message."""

from __future__ import annotations

import json

import pytest

from soraweb.providers import (
    CreateRequest,
    JobStatus,
    ProviderError,
    RemoteState,
    WireFormat,
    make_client,
    scrub,
)

from .conftest import API_KEY

OTHER_SECRET = "xk-OTHER-SECRET-456"
ECHO = f"key {API_KEY} / Authorization: Bearer {API_KEY} / x-api-key {OTHER_SECRET}"
REQUEST = CreateRequest(
    model="sora-2", prompt="a cat", orientation="portrait", size="small", duration=10
)


def sse(*events: str) -> str:
    return "".join(f"data: {e}\n\n" for e in events)


def chunk(text: str, chat_id: str = "chatcmpl-1") -> str:
    return json.dumps({"id": chat_id, "choices": [{"index": 0, "delta": {"content": text}}]})


def stream(body: str, *, end: bool = True):
    def handler(h):
        h.start_stream()
        h.send_part(body)
        if end:
            h.end_stream()
        else:
            h.drop()

    return handler


# (wire format, method, path, handler, what to call)
SCENARIOS = {
    "json 400": (
        WireFormat.UNIFIED,
        "POST",
        "/v1/video/create",
        lambda h: h.reply_json(400, {"error": {"message": ECHO}}),
        "create",
    ),
    "plain 401": (
        WireFormat.UNIFIED,
        "GET",
        "/v1/video/query",
        lambda h: h.reply(401, ECHO.encode(), content_type="text/plain"),
        "status",
    ),
    "html 502": (
        WireFormat.UNIFIED,
        "GET",
        "/v1/video/query",
        lambda h: h.reply(502, f"<title>{ECHO}</title>".encode(), content_type="text/html"),
        "status",
    ),
    "429": (
        WireFormat.OPENAI,
        "GET",
        "/v1/videos/v1",
        lambda h: h.reply_json(429, {"message": ECHO}, headers={"Retry-After": "3"}),
        "status",
    ),
    "garbage 200 on status": (
        WireFormat.UNIFIED,
        "GET",
        "/v1/video/query",
        lambda h: h.reply(200, ECHO.encode()),
        "status",
    ),
    "garbage 200 on create": (
        WireFormat.NEWAPI,
        "POST",
        "/v1/video/generations",
        lambda h: h.reply(200, ECHO.encode()),
        "create",
    ),
    "redirect": (
        WireFormat.UNIFIED,
        "POST",
        "/v1/video/create",
        lambda h: h.reply(302, b"", headers={"Location": f"https://x.example/?key={API_KEY}"}),
        "create",
    ),
    "no task id": (
        WireFormat.UNIFIED,
        "POST",
        "/v1/video/create",
        lambda h: h.reply_json(200, {"message": ECHO}),
        "create",
    ),
    "chat shaped": (
        WireFormat.UNIFIED,
        "POST",
        "/v1/video/create",
        lambda h: h.reply_json(200, {"choices": [{"message": {"content": ECHO}}]}),
        "create",
    ),
    "newapi code": (
        WireFormat.NEWAPI,
        "GET",
        "/v1/video/generations/t1",
        lambda h: h.reply_json(200, {"code": "unauthorized", "message": ECHO}),
        "status",
    ),
    "chat drop": (
        WireFormat.CHAT,
        "POST",
        "/v1/chat/completions",
        stream(sse(chunk("进度 12..", chat_id=f"chatcmpl-{API_KEY}")), end=False),
        "create",
    ),
    "download 404": (
        WireFormat.OPENAI,
        "GET",
        "/v1/videos/v1/content",
        lambda h: h.reply_json(404, {"error": {"message": ECHO}}),
        "content",
    ),
}


def call(client, what: str):
    if what == "create":
        return client.create(REQUEST)
    if what == "content":
        return client.open_content("v1", video_url=None)
    remote_id = {WireFormat.OPENAI: "v1", WireFormat.NEWAPI: "t1"}.get(client.wire_format, "x")
    return client.status(remote_id)


def assert_clean(text: str) -> None:
    assert API_KEY not in text
    assert OTHER_SECRET not in text
    assert "SECRET" not in text


@pytest.mark.parametrize("name", SCENARIOS)
def test_it_keeps_the_key_out_of_every_error_message(fake, name):
    wire_format, method, path, handler, what = SCENARIOS[name]
    fake.routes[(method, path)] = handler
    client = make_client(
        fake.config(wire_format=wire_format, extra_headers={"X-Api-Key": OTHER_SECRET})
    )
    with pytest.raises(ProviderError) as caught:
        call(client, what)
    assert fake.seen, "the request reached the server"
    assert_clean(caught.value.message)
    assert_clean(str(caught.value))
    if what == "content":
        # A failed download's body is never shown at all (it may not even be the provider's).
        assert "x-api-key" not in caught.value.message
    else:
        assert "[redacted]" in caught.value.message


@pytest.mark.parametrize(
    ("wire_format", "method", "path", "handler", "what"),
    [
        (
            WireFormat.UNIFIED,
            "GET",
            "/v1/video/query",
            lambda h: h.reply_json(200, {"status": "failed", "error": ECHO}),
            "status",
        ),
        (
            WireFormat.NEWAPI,
            "GET",
            "/v1/video/generations/t1",
            lambda h: h.reply_json(
                200, {"code": "success", "data": {"status": "FAILURE", "fail_reason": ECHO}}
            ),
            "status",
        ),
        (
            WireFormat.CHAT,
            "POST",
            "/v1/chat/completions",
            stream(sse(chunk(f"❌ 生成失败: {ECHO}"), "[DONE]")),
            "create",
        ),
        (
            WireFormat.CHAT,
            "POST",
            "/v1/chat/completions",
            stream(sse(json.dumps({"error": {"message": ECHO}}), "[DONE]")),
            "create",
        ),
    ],
)
def test_it_keeps_the_key_out_of_failure_reasons(fake, wire_format, method, path, handler, what):
    fake.routes[(method, path)] = handler
    client = make_client(
        fake.config(wire_format=wire_format, extra_headers={"X-Api-Key": OTHER_SECRET})
    )
    result = call(client, what)
    status = result if isinstance(result, JobStatus) else result.status
    assert status.state is RemoteState.FAILED
    assert status.error
    assert_clean(status.error)


def test_it_scrubs_bearer_tokens_and_key_shaped_strings_it_was_not_told_about():
    text = scrub(
        "Bearer abc.def-123 and sk-live-abcdefgh and mine hunter2hunter2", ("hunter2hunter2",)
    )
    assert text == "Bearer [redacted] and [redacted] and mine [redacted]"


def test_it_scrubs_a_url_encoded_key():
    assert scrub("?k=a%2Fb%2Bc", ("a/b+c",)) == "?k=[redacted]"
