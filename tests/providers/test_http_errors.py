"""How every way an HTTP call can fail becomes one ProviderError, over real HTTP."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import pytest

from soraweb.providers import CreateRequest, ProviderConfig, ProviderError, WireFormat, make_client
from soraweb.providers.http import html_to_text, parse_retry_after

from .conftest import API_KEY

REQUEST = CreateRequest(
    model="sora-2", prompt="a cat", orientation="portrait", size="small", duration=10
)

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def status_error(fake, **config) -> ProviderError:
    client = make_client(fake.config(**config))
    with pytest.raises(ProviderError) as caught:
        client.status("sora-2:task_1")
    return caught.value


def create_error(fake, **config) -> ProviderError:
    client = make_client(fake.config(**config))
    with pytest.raises(ProviderError) as caught:
        client.create(REQUEST)
    return caught.value


def test_it_sends_auth_accept_and_extra_headers(fake):
    @fake.route("GET", "/v1/video/query")
    def ok(h):
        h.reply_json(200, {"id": "x", "status": "pending"})

    make_client(fake.config(extra_headers={"X-Tenant": "team-a"})).status("x")
    headers = fake.seen[0].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Accept"] == "application/json"
    assert headers["X-Tenant"] == "team-a"


def test_it_sends_no_authorization_without_a_key(fake):
    @fake.route("GET", "/v1/video/query")
    def ok(h):
        h.reply_json(200, {"id": "x", "status": "pending"})

    make_client(fake.config(api_key="")).status("x")
    assert fake.seen[0].headers["Authorization"] is None


def test_it_reads_retry_after_seconds_on_429(fake):
    @fake.route("GET", "/v1/video/query")
    def limited(h):
        h.reply_json(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "7"})

    error = status_error(fake)
    assert error.permanent is False
    assert error.retry_after == 7
    assert error.status_code == 429
    assert "HTTP 429" in error.message
    assert "slow down" in error.message


def test_it_reads_retry_after_as_an_http_date(fake):
    @fake.route("GET", "/v1/video/query")
    def limited(h):
        h.reply(429, b"", headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)})

    error = status_error(fake)
    assert error.retry_after == pytest.approx(30, abs=2)


def test_it_prefers_retry_after_ms(fake):
    @fake.route("GET", "/v1/video/query")
    def limited(h):
        h.reply(429, b"", headers={"retry-after-ms": "1500", "Retry-After": "9"})

    assert status_error(fake).retry_after == 1.5


def test_it_reduces_an_html_502_page_to_its_title(fake):
    @fake.route("GET", "/v1/video/query")
    def bad_gateway(h):
        h.reply(502, NGINX_502, content_type="text/html")

    error = status_error(fake)
    assert error.permanent is False
    assert error.status_code == 502
    assert "HTTP 502: 502 Bad Gateway" in error.message
    assert "<" not in error.message
    assert "nginx" not in error.message


def test_it_caps_a_long_html_page(fake):
    page = "<html><body><p>" + "word " * 2000 + "</p><script>var x = 1;</script></body></html>"

    @fake.route("GET", "/v1/video/query")
    def forbidden(h):
        h.reply(400, page.encode(), content_type="text/html; charset=utf-8")

    error = status_error(fake)
    assert len(error.message) < 400
    assert "var x" not in error.message
    assert error.message.count("word") > 10


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "prompt rejected by moderation", "type": "invalid_request_error"}},
        {"error": "prompt rejected by moderation"},
        {"message": "prompt rejected by moderation"},
        {"msg": "prompt rejected by moderation"},
        {"detail": "prompt rejected by moderation"},
        {"detail": {"message": "prompt rejected by moderation"}},
        {"detail": [{"loc": ["body"], "msg": "prompt rejected by moderation"}]},
    ],
)
def test_it_shows_the_providers_own_reason_for_a_4xx(fake, body):
    @fake.route("POST", "/v1/video/create")
    def rejected(h):
        h.reply_json(400, body)

    error = create_error(fake)
    assert error.permanent is True
    assert error.outcome_unknown is False
    assert error.status_code == 400
    assert (
        error.message
        == "The provider rejected the request (HTTP 400: prompt rejected by moderation)."
    )


def test_it_decodes_a_chinese_error_page_as_utf8_without_a_charset(fake):
    @fake.route("POST", "/v1/video/create")
    def rejected(h):
        h.reply(400, "<title>参数错误</title>".encode(), content_type="text/html")

    assert "参数错误" in create_error(fake).message


def test_it_names_the_status_when_the_error_body_is_empty(fake):
    @fake.route("GET", "/v1/video/query")
    def missing(h):
        h.reply(404, b"")

    error = status_error(fake)
    assert error.permanent is True
    assert "HTTP 404 Not Found" in error.message


def test_it_treats_a_rejected_key_as_permanent(fake):
    @fake.route("GET", "/v1/video/query")
    def unauthorised(h):
        h.reply_json(401, {"error": {"message": "invalid api key"}})

    error = status_error(fake)
    assert error.permanent is True
    assert "API key" in error.message
    assert "invalid api key" in error.message


def test_it_explains_a_2xx_that_is_not_json(fake):
    garbage = b"upstream_response: <!DOCTYPE html> Service Temporarily Unavailable " + b"x" * 300

    @fake.route("GET", "/v1/video/query")
    def broken(h):
        h.reply(200, garbage)

    error = status_error(fake)
    assert error.permanent is False
    assert error.outcome_unknown is False
    prefix = "The provider answered with something that is not JSON: "
    assert error.message.startswith(prefix)
    assert error.message[len(prefix) :].startswith("upstream_response: <!DOCTYPE html>")
    assert len(error.message) <= len(prefix) + 200


def test_it_calls_an_unreadable_create_answer_outcome_unknown(fake):
    @fake.route("POST", "/v1/video/create")
    def broken(h):
        h.reply(200, b'{"id": ')

    error = create_error(fake)
    assert error.outcome_unknown is True
    assert "not JSON" in error.message
    assert "Check the provider before retrying" in error.message


def test_it_rejects_json_that_is_not_an_object(fake):
    @fake.route("GET", "/v1/video/query")
    def listy(h):
        h.reply_json(200, ["pending"])

    assert "unexpected shape" in status_error(fake).message


def test_it_calls_a_create_read_timeout_outcome_unknown(fake):
    @fake.route("POST", "/v1/video/create")
    def slow(h):
        h.hang()

    started = time.monotonic()
    error = create_error(fake, read_timeout=0.3)
    assert time.monotonic() - started < 2
    assert error.outcome_unknown is True
    assert error.unreachable is False  # sent: never retried as if the provider were down
    assert error.permanent is False
    assert error.message == (
        "The provider did not answer in time; the video may or may not have been started. "
        "Check the provider before retrying."
    )


def test_it_calls_a_status_read_timeout_transient(fake):
    @fake.route("GET", "/v1/video/query")
    def slow(h):
        h.hang()

    error = status_error(fake, read_timeout=0.3)
    assert error.permanent is False
    assert error.outcome_unknown is False
    assert "did not answer within 0.3 s" in error.message


def test_it_calls_a_create_dropped_after_sending_outcome_unknown(fake):
    @fake.route("POST", "/v1/video/create")
    def crash(h):
        h.drop()

    error = create_error(fake)
    assert error.outcome_unknown is True
    assert error.permanent is False
    assert "dropped" in error.message
    assert error.unreachable is False


def test_it_calls_a_dropped_status_call_transient(fake):
    @fake.route("GET", "/v1/video/query")
    def crash(h):
        h.drop()

    error = status_error(fake)
    assert error.permanent is False
    assert error.outcome_unknown is False


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_it_knows_a_refused_create_never_arrived(fake):
    client = make_client(fake.config(base_url=f"http://127.0.0.1:{closed_port()}/v1"))
    with pytest.raises(ProviderError) as caught:
        client.create(REQUEST)
    assert caught.value.permanent is False
    assert caught.value.outcome_unknown is False
    assert "nothing was sent" in caught.value.message
    assert caught.value.unreachable is True  # so a create may wait out a provider outage


def test_it_knows_a_create_that_could_not_connect_in_time_never_arrived(fake):
    # A listening socket that never accepts, with its backlog filled: the kernel drops further
    # SYNs, so connecting times out exactly as it does against a dead host.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    try:
        client = make_client(
            fake.config(base_url=f"http://127.0.0.1:{port}/v1", connect_timeout=0.3)
        )
        with pytest.raises(ProviderError) as caught:
            client.create(REQUEST)
    finally:
        for s in [*fillers, listener]:
            s.close()
    assert caught.value.outcome_unknown is False
    assert caught.value.permanent is False
    assert "in time; nothing was sent" in caught.value.message
    assert caught.value.unreachable is True


@pytest.mark.parametrize(
    ("code", "unknown"), [(504, True), (524, True), (500, False), (503, False)]
)
def test_it_treats_a_gateway_timeout_on_create_as_outcome_unknown(fake, code, unknown):
    @fake.route("POST", "/v1/video/create")
    def failing(h):
        h.reply(code, b"upstream trouble", content_type="text/plain")

    error = create_error(fake)
    assert error.permanent is False
    assert error.outcome_unknown is unknown
    assert f"HTTP {code}: upstream trouble" in error.message


def test_it_does_not_follow_redirects_on_api_calls(fake):
    @fake.route("POST", "/v1/video/create")
    def moved(h):
        h.reply(301, b"", headers={"Location": "https://elsewhere.example/v1/video/create"})

    error = create_error(fake)
    assert error.permanent is True
    assert "check the provider's base URL" in error.message
    assert [s.path for s in fake.seen] == ["/v1/video/create"]


def test_it_refuses_a_base_url_without_http():
    with pytest.raises(ProviderError) as caught:
        make_client(ProviderConfig(base_url="ftp://x"))
    assert caught.value.permanent is True


def test_it_parses_retry_after_forms():
    assert parse_retry_after({"Retry-After": "12"}) == 12
    assert parse_retry_after({"Retry-After": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470) == 10
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0  # past
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-4"}) is None
    assert parse_retry_after({}) is None


def test_it_reduces_html_to_title_and_heading():
    assert html_to_text(NGINX_502.decode()) == "502 Bad Gateway"
    page = "<html><head><title>api.example | 524</title></head><h1>A timeout occurred</h1></html>"
    assert html_to_text(page) == "api.example | 524: A timeout occurred"
    assert html_to_text("<div>Only <b>body</b> text</div>") == "Only body text"


def test_it_builds_clients_for_every_format(fake):
    for wire_format in WireFormat:
        client = make_client(fake.config(wire_format=wire_format))
        assert client.wire_format is wire_format


def test_it_refuses_an_unknown_wire_format(fake):
    with pytest.raises(ProviderError) as caught:
        make_client(fake.config(wire_format="carrier-pigeon"))
    assert "carrier-pigeon" in caught.value.message


def test_it_refuses_credentials_in_the_base_url_without_showing_them():
    # user:password@ in a URL is where URL parsers disagree about the host, so it is refused.
    port = closed_port()
    config = ProviderConfig(base_url=f"http://admin:pw-hunter2@127.0.0.1:{port}/v1")
    with pytest.raises(ProviderError) as caught:
        make_client(config).status("x")
    assert caught.value.permanent is True
    assert "hunter2" not in caught.value.message
    assert "user name or password" in caught.value.message


def test_it_says_connection_refused_not_timeout_when_nothing_listens():
    from tests.conftest import free_port

    port = free_port()  # bound and released: nothing listens there now
    client = make_client(ProviderConfig(base_url=f"http://127.0.0.1:{port}/v1"))
    with pytest.raises(ProviderError) as exc:
        client.status("task_1")
    assert "connection refused" in exc.value.message
    assert "in time" not in exc.value.message
    assert exc.value.permanent is False
