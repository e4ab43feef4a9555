"""The SSRF guard, and streamed downloads of results through it, over real HTTP."""

from __future__ import annotations

import socket

import pytest
import requests

from soraweb.providers import ProviderError, WireFormat, check_fetch_url, guarded_get, make_client
from soraweb.providers.transport import AddressRefused, guarded_session

from .conftest import API_KEY

VIDEO = bytes(range(256)) * 1000  # 256 kB that are easy to compare


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x.mp4",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:video/mp4;base64,AA",
        "//example.com/x",
    ],
)
def test_it_refuses_schemes_other_than_http(url):
    with pytest.raises(ProviderError) as caught:
        check_fetch_url(url)
    assert caught.value.permanent is True
    assert "http" in caught.value.message


@pytest.mark.parametrize("url", ["http:///x.mp4", "https://:443/x", "http://host:notaport/"])
def test_it_refuses_urls_without_a_usable_host(url):
    with pytest.raises(ProviderError) as caught:
        check_fetch_url(url)
    assert caught.value.permanent is True


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",  # noqa: S104 - a URL host under test, nothing binds to it
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "[::1]",
        "[::]",
        "[fe80::1]",
        "[fc00::1]",
        "[ff02::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "localhost",
    ],
)
def test_it_refuses_private_and_special_addresses(host):
    with pytest.raises(ProviderError) as caught:
        check_fetch_url(f"http://{host}/video.mp4")
    assert caught.value.permanent is True
    assert "private or reserved" in caught.value.message


def test_guarded_get_refuses_a_session_without_the_connect_time_guard(fake):
    with requests.Session() as session, pytest.raises(TypeError):
        guarded_get(session, f"{fake.origin}/x", allowed_origins=[fake.origin], timeout=(1, 1))
    assert fake.seen == []


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            # Like the real resolver, a numeric address needs no DNS; any name is unknown.
            return real(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port),
            )
            for ip in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_it_allows_a_public_host(monkeypatch):
    fake_dns(monkeypatch, {"cdn.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    check_fetch_url("https://cdn.example.com/v/x.mp4?sig=abc")
    check_fetch_url("http://8.8.8.8/x.mp4")


def test_it_refuses_a_host_when_any_of_its_addresses_is_private(monkeypatch):
    fake_dns(monkeypatch, {"sneaky.example.com": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(ProviderError):
        check_fetch_url("https://sneaky.example.com/x.mp4")


def test_it_reports_a_failed_lookup_as_worth_retrying(monkeypatch):
    fake_dns(monkeypatch, {})
    with pytest.raises(ProviderError) as caught:
        check_fetch_url("https://gone.example.com/x.mp4")
    assert caught.value.permanent is False


def test_it_trusts_the_configured_origin_and_nothing_next_to_it():
    check_fetch_url(
        "http://127.0.0.1:8000/files/x.mp4", allowed_origins=["http://127.0.0.1:8000/v1"]
    )
    check_fetch_url("http://LOCALHOST/x", allowed_origins=["http://localhost:80"])
    for url in ["http://127.0.0.1:8001/files/x.mp4", "https://127.0.0.1:8000/files/x.mp4"]:
        with pytest.raises(ProviderError):
            check_fetch_url(url, allowed_origins=["http://127.0.0.1:8000/v1"])


def test_it_trusts_only_the_exact_configured_origin_not_another_name_for_it(monkeypatch):
    # A reverse proxy on one address can serve other sites by name: trusting "another name for
    # the relay's address" would reach them. Only the configured scheme, host and port count.
    fake_dns(monkeypatch, {"localhost": ["127.0.0.1"], "relay.lan": ["10.0.0.5", "10.0.0.6"]})
    check_fetch_url("http://relay.lan/x.mp4", allowed_origins=["http://relay.lan/v1"])
    refused = [
        ("http://127.0.0.1:8000/x.mp4", "http://localhost:8000/v1"),
        ("http://localhost:8000/x.mp4", "http://127.0.0.1:8000/v1"),
        ("http://10.0.0.6:80/x.mp4", "http://relay.lan/v1"),
        ("http://127.0.0.1:8001/x.mp4", "http://localhost:8000"),  # another port
        ("https://127.0.0.1:8000/x.mp4", "http://localhost:8000"),  # another scheme
    ]
    for url, allowed in refused:
        with pytest.raises(ProviderError):
            check_fetch_url(url, allowed_origins=[allowed])


def test_it_checks_every_redirect_hop(fake):
    @fake.route("GET", "/v1/files/x.mp4")
    def to_metadata(h):
        h.reply(302, b"", headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    with (
        guarded_session(allowed_urls=[fake.base_url]) as session,
        pytest.raises(ProviderError) as caught,
    ):
        guarded_get(
            session,
            f"{fake.origin}/v1/files/x.mp4",
            allowed_origins=[fake.base_url],
            timeout=(1, 1),
        )
    assert "169.254.169.254" in caught.value.message
    assert len(fake.seen) == 1


def test_it_stops_after_too_many_redirects(fake):
    @fake.route("GET", "/loop")
    def loop(h):
        h.reply(302, b"", headers={"Location": "/loop"})

    with (
        guarded_session(allowed_urls=[fake.origin]) as session,
        pytest.raises(ProviderError) as caught,
    ):
        guarded_get(
            session,
            f"{fake.origin}/loop",
            allowed_origins=[fake.origin],
            timeout=(1, 1),
            max_redirects=3,
        )
    assert "more than 3 times" in caught.value.message
    assert len(fake.seen) == 4


def test_it_keeps_the_key_on_the_first_origin_across_redirects(fake, other_fake):
    @fake.route("GET", "/v1/videos/v1/content")
    def to_cdn(h):
        h.reply(307, b"", headers={"Location": f"{other_fake.origin}/cdn/x.mp4?sig=1"})

    @other_fake.route("GET", "/cdn/x.mp4")
    def cdn(h):
        h.reply(200, b"video", content_type="video/mp4")

    with guarded_session(
        allowed_urls=[fake.origin, other_fake.origin],
        credentials={"Authorization": f"Bearer {API_KEY}"},
        credential_url=fake.base_url,
    ) as session:
        response = guarded_get(
            session,
            f"{fake.origin}/v1/videos/v1/content",
            allowed_origins=[fake.origin, other_fake.origin],
            timeout=(1, 1),
        )
        assert response.content == b"video"
    assert fake.seen[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert other_fake.seen[0].headers["Authorization"] is None
    assert other_fake.seen[0].query == {"sig": "1"}


def serve_video(fake, path="/v1/files/x.mp4", body=VIDEO, chunked=False):
    @fake.route("GET", path)
    def video(h):
        if chunked:
            h.start_stream(content_type="video/mp4")
            for start in range(0, len(body), 50_000):
                h.send_part(body[start : start + 50_000])
            h.end_stream()
        else:
            h.reply(200, body, content_type="video/mp4")


def test_it_streams_a_result_from_the_providers_own_origin(fake):
    serve_video(fake)
    client = make_client(fake.config())
    with client.open_content("x", video_url=f"{fake.origin}/v1/files/x.mp4") as stream:
        assert stream.content_type == "video/mp4"
        assert stream.content_length == len(VIDEO)
        data = b"".join(stream.chunks(chunk_size=10_000))
    assert data == VIDEO
    assert fake.seen[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_it_refuses_a_result_link_on_a_private_address_elsewhere(fake, other_fake):
    serve_video(other_fake)
    client = make_client(fake.config())
    with pytest.raises(ProviderError) as caught:
        client.open_content("x", video_url=f"{other_fake.origin}/v1/files/x.mp4")
    assert caught.value.permanent is True
    assert other_fake.seen == []


def test_it_explains_a_missing_result_link(fake):
    with pytest.raises(ProviderError) as caught:
        make_client(fake.config()).open_content("job-9", video_url=None)
    assert caught.value.permanent is True
    assert "job-9" in caught.value.message


@pytest.mark.parametrize("code", [403, 404, 410])
def test_it_marks_a_gone_result_link_expired(fake, code):
    @fake.route("GET", "/v1/files/x.mp4")
    def gone(h):
        h.reply(
            code,
            b"<Error><Message>Request has expired</Message></Error>",
            content_type="application/xml",
        )

    with pytest.raises(ProviderError) as caught:
        make_client(fake.config()).open_content("x", video_url=f"{fake.origin}/v1/files/x.mp4")
    assert caught.value.expired is True
    assert caught.value.permanent is True
    assert f"expired or is gone (HTTP {code}" in caught.value.message


def test_it_does_not_call_a_server_error_on_a_download_expired(fake):
    @fake.route("GET", "/v1/files/x.mp4")
    def broken(h):
        h.reply(503, b"")

    with pytest.raises(ProviderError) as caught:
        make_client(fake.config()).open_content("x", video_url=f"{fake.origin}/v1/files/x.mp4")
    assert caught.value.expired is False
    assert caught.value.permanent is False


def test_it_refuses_a_download_declared_too_large(fake):
    serve_video(fake)
    client = make_client(fake.config(max_download_bytes=100_000))
    with pytest.raises(ProviderError) as caught:
        client.open_content("x", video_url=f"{fake.origin}/v1/files/x.mp4")
    assert caught.value.permanent is True
    assert "limit" in caught.value.message


def test_it_stops_an_undeclared_download_at_the_limit(fake):
    serve_video(fake, chunked=True)
    client = make_client(fake.config(max_download_bytes=100_000))
    received = 0
    url = f"{fake.origin}/v1/files/x.mp4"
    with pytest.raises(ProviderError) as caught, client.open_content("x", video_url=url) as stream:
        assert stream.content_length is None
        for piece in stream.chunks(chunk_size=10_000):
            received += len(piece)
    assert caught.value.permanent is True
    assert received <= 100_000


def test_it_reports_a_cut_off_download_as_worth_retrying(fake):
    @fake.route("GET", "/v1/files/x.mp4")
    def truncated(h):
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(VIDEO)))
        h.end_headers()
        h.wfile.write(VIDEO[:1000])
        h.drop()

    client = make_client(fake.config())
    url = f"{fake.origin}/v1/files/x.mp4"
    with pytest.raises(ProviderError) as caught, client.open_content("x", video_url=url) as stream:
        for _ in stream.chunks():
            pass
    assert caught.value.permanent is False
    assert "interrupted" in caught.value.message


def test_it_downloads_openai_content_through_a_same_origin_redirect(fake):
    @fake.route("GET", "/v1/videos/video_1/content")
    def content(h):
        h.reply(302, b"", headers={"Location": f"/v1/files/{h.seen.query['variant']}.bin"})

    serve_video(fake, path="/v1/files/thumbnail.bin", body=b"RIFF....WEBP")
    client = make_client(fake.config(wire_format=WireFormat.OPENAI))
    with client.open_content("video_1", video_url=None, variant="thumbnail") as stream:
        assert b"".join(stream.chunks()) == b"RIFF....WEBP"
    assert fake.seen[0].query == {"variant": "thumbnail"}
    assert all(s.headers["Authorization"] == f"Bearer {API_KEY}" for s in fake.seen)


def test_the_session_itself_refuses_private_addresses_at_connect_time(fake):
    # No check_fetch_url first: the adapter alone decides, on the address it would connect to.
    serve_video(fake)
    port = fake.httpd.server_address[1]
    with guarded_session() as session:
        for host in ["127.0.0.1", "2130706433", "0x7f.1", "127.1", "localhost", "[::ffff:7f00:1]"]:
            with pytest.raises(AddressRefused):
                session.get(f"http://{host}:{port}/v1/files/x.mp4", timeout=(1, 1))
    assert fake.seen == []


def test_the_connection_goes_to_the_address_that_was_looked_up_once(fake, monkeypatch):
    # A resolver that answers differently the second time (DNS rebinding) is never asked
    # again: the socket connects to the first answer, and the Host header keeps the name.
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])
    asked: list[str] = []

    def changing(host, port, *args, **kwargs):
        if host == "relay.test":
            asked.append(host)
            ip = next(answers, "127.0.0.3")  # nothing listens there
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", changing)
    serve_video(fake)
    origin = f"http://relay.test:{fake.httpd.server_address[1]}"
    client = make_client(fake.config(base_url=f"{origin}/v1"))
    with client.open_content("x", video_url=f"{origin}/v1/files/x.mp4") as stream:
        assert b"".join(stream.chunks()) == VIDEO
    assert asked == ["relay.test"]
    assert fake.seen[0].headers["Host"] == origin.removeprefix("http://")
    assert fake.seen[0].headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000\\@cdn.example.com/x.mp4",
        "http://user@cdn.example.com/x.mp4",
        "http://:pw@cdn.example.com/x.mp4",
        "http://cdn.example.com/x\t.mp4",
        "http://cdn.example.com/x .mp4",
        "http://cdn.example.com/x\x00.mp4",
        "http://cdn.example.com\uff3c@x/",
    ],
)
def test_it_refuses_urls_on_which_parsers_disagree_before_any_lookup(url, monkeypatch):
    fake_dns(monkeypatch, {})
    with pytest.raises(ProviderError) as caught:
        check_fetch_url(url)
    assert caught.value.permanent is True


def _tls_files(tmp_path, name: str) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for ``name``: (ca.pem, cert.pem, key.pem)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, public_key, signing_key, *, ca: bool, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("test CA", "test CA", ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build(name, "test CA", key.public_key(), ca_key, ca=False, san=name)
    pem = serialization.Encoding.PEM
    paths = [tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"]
    paths[0].write_bytes(ca_cert.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tuple(str(p) for p in paths)


@pytest.mark.parametrize(("cert_name", "works"), [("relay.test", True), ("other.test", False)])
def test_a_pinned_tls_connection_still_checks_the_certificate_by_name(
    fake, monkeypatch, tmp_path, cert_name, works
):
    import ssl

    ca, cert, key = _tls_files(tmp_path, cert_name)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    fake.httpd.socket = context.wrap_socket(fake.httpd.socket, server_side=True)
    fake_dns(monkeypatch, {"relay.test": ["127.0.0.1"]})

    @fake.route("GET", "/v1/video/query")
    def status(h):
        h.reply_json(200, {"id": "x", "status": "running", "progress": 5})

    origin = f"https://relay.test:{fake.httpd.server_address[1]}"
    session = requests.Session()
    session.verify = ca
    client = make_client(fake.config(base_url=f"{origin}/v1"), session=session)
    if works:
        assert client.status("x").progress == 5
        assert fake.seen[0].headers["Authorization"] == f"Bearer {API_KEY}"
    else:
        with pytest.raises(ProviderError) as caught:
            client.status("x")
        assert "secure connection" in caught.value.message
        assert fake.seen == []
