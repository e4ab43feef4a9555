"""Server-side request forgery, fired through the real code paths at a real local listener.

Each hostile URL is one a relay could hand us (a result link, a thumbnail link, a redirect hop)
or a team manager could type (a team webhook). Behind every one sits a TCP listener on
127.0.0.1 playing an internal service; the verdict is what the listener saw: no connection at
all. The corpus mixes URLs on which URL parsers disagree (Python's urlsplit reads
``http://127.0.0.1:P\\@93.184.216.34/`` as host 93.184.216.34, urllib3 as 127.0.0.1) with every
spelling of a loopback address that resolvers accept.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.utils import timezone

from soraweb.ops import services as ops_services
from soraweb.ops import webhook_urls
from soraweb.ops.models import DeliveryStatus, TeamWebhook
from soraweb.providers import CreateRequest, ProviderConfig, RemoteState, WireFormat, make_client
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel
from soraweb.videos.pipeline import archive
from tests.factories import job_row
from tests.providers.conftest import FakeServer

pytestmark = pytest.mark.django_db

KEY = "sk-relay-key-NEVER-ELSEWHERE-0123456789"
EXTRA = "extra-header-secret-value-42"
INTERNAL_BODY = b"INTERNAL-ADMIN-PANEL root password is hunter2"


class Listener:
    """A TCP service on a loopback address that records every connection and request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    self.requests.append(conn.recv(65536))
                    conn.sendall(
                        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                        % (len(INTERNAL_BODY), INTERNAL_BODY)
                    )
                except OSError:
                    pass

    def settle(self) -> None:
        time.sleep(0.15)  # let a connection that did happen be counted

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


# {port} is the listener's port; {relay} the relay's own "host:port" (the configured origin).
DIFFERENTIAL = [
    "http://127.0.0.1:{port}\\@93.184.216.34/x.mp4",
    "http://127.0.0.1:{port}\\\\@93.184.216.34/x.mp4",
    "http://127.0.0.1:{port}\\x@93.184.216.34:80/x.mp4",
    "http://127.0.0.1:{port}\\@{relay}/v1/files/x.mp4",  # the relay's own origin after it
    "http://127.0.0.1:{port}\uff3c@93.184.216.34/x.mp4",  # fullwidth backslash
    "http://93.184.216.34@127.0.0.1:{port}/x.mp4",
    "http://{relay}@127.0.0.1:{port}/x.mp4",
    "http://user:pw@127.0.0.1:{port}/x.mp4",
    "http://127.0.0.1:{port}#@93.184.216.34/x.mp4",
    "http://127.0.0.1:{port}?@93.184.216.34/x.mp4",
    "http://127.0.0.1:{port}/\t@93.184.216.34/x.mp4",
    "http://127.0.0.1:{port}\n@93.184.216.34/x.mp4",
    " http://127.0.0.1:{port}/x.mp4",
    "http://127.0.0.1:{port}/x.mp4\r\nX-Injected: 1",
    "http://127.0.0.1:{port}\u200b/x.mp4",  # zero-width space
]
SPELLINGS = [
    "http://127.0.0.1:{port}/x.mp4",
    "http://2130706433:{port}/x.mp4",  # decimal
    "http://0x7f000001:{port}/x.mp4",  # hex
    "http://0x7f.1:{port}/x.mp4",
    "http://017700000001:{port}/x.mp4",  # octal
    "http://0177.0.0.1:{port}/x.mp4",
    "http://127.1:{port}/x.mp4",
    "http://127.0.1:{port}/x.mp4",
    "http://127.0.0.1.:{port}/x.mp4",  # trailing dot
    "http://localhost:{port}/x.mp4",
    "http://LOCALHOST.:{port}/x.mp4",
    "http://0.0.0.0:{port}/x.mp4",
    "http://0:{port}/x.mp4",
    "http://%31%32%37.0.0.1:{port}/x.mp4",  # percent-encoded host
    "http://127\u30020\u30020\u30021:{port}/x.mp4",  # ideographic full stops
    "http://127\uff0e0\uff0e0\uff0e1:{port}/x.mp4",  # fullwidth full stops
    "http://[::ffff:127.0.0.1]:{port}/x.mp4",
    "http://[::ffff:7f00:1]:{port}/x.mp4",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/x.mp4",
    "http://[::1]:{port}/x.mp4",
    "http://[fe80::1%25lo]:{port}/x.mp4",  # IPv6 zone id
    "http://[::]:{port}/x.mp4",
]
CORPUS = DIFFERENTIAL + SPELLINGS


def hostile(template: str, listener: Listener, relay_origin: str) -> str:
    return template.format(port=listener.port, relay=relay_origin.split("://", 1)[1])


@pytest.fixture
def relay() -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.stop()


def relay_provider(base_url: str) -> Provider:
    provider = Provider.objects.create(
        name=f"relay {base_url}",
        base_url=base_url,
        wire_format=WireFormat.UNIFIED.value,
        api_key=KEY,
        extra_headers={"X-Relay-Token": EXTRA},
    )
    VideoModel.objects.create(
        name="sora-2",
        display_name="Sora 2",
        provider=provider,
        orientations=["portrait"],
        sizes=["small"],
        durations=[10],
        price_per_second={"small": "0.10"},
    )
    return provider


def archiving_job(member, provider: Provider, **fields) -> VideoJob:
    video_model = provider.models.get()
    return job_row(
        member,
        video_model,
        state=JobState.ARCHIVING,
        remote_id="task_1",
        orientation="portrait",
        **fields,
    )


def assert_nothing_reached(listener: Listener) -> None:
    listener.settle()
    assert listener.connections == 0, listener.requests
    assert listener.requests == []


def assert_no_leak(text: str) -> None:
    assert "INTERNAL-ADMIN" not in text
    assert "hunter2" not in text
    assert KEY not in text
    assert EXTRA not in text


@pytest.mark.parametrize("template", CORPUS)
def test_a_result_link_never_reaches_an_internal_service(template, listener, relay, member):
    provider = relay_provider(relay.base_url)
    job = archiving_job(
        member, provider, remote_video_url=hostile(template, listener, relay.origin)
    )
    archive.job_archive(job_id=job.pk)
    assert_nothing_reached(listener)
    job.refresh_from_db()
    assert job.state != JobState.SUCCEEDED
    assert_no_leak(job.error_message)
    assert relay.seen == []  # and it did not go to the relay either


@pytest.mark.parametrize("template", CORPUS)
def test_a_redirect_hop_never_reaches_an_internal_service(template, listener, relay, member):
    target = hostile(template, listener, relay.origin)

    @relay.route("GET", "/v1/files/x.mp4")
    def to_inside(h):
        h.send_response(302)
        h.send_header("Content-Length", "0")
        # Written raw, as a hostile relay would: no library cleans the header up first.
        h._headers_buffer.append(b"Location: " + target.encode("utf-8") + b"\r\n")
        h.end_headers()

    provider = relay_provider(relay.base_url)
    job = archiving_job(member, provider, remote_video_url=f"{relay.origin}/v1/files/x.mp4")
    archive.job_archive(job_id=job.pk)
    assert_nothing_reached(listener)
    job.refresh_from_db()
    assert job.state != JobState.SUCCEEDED
    assert_no_leak(job.error_message)
    assert len(relay.seen) == 1


@pytest.fixture(scope="module")
def finished_simulator_job(simulator) -> tuple[str, str]:
    """A real finished job on the simulator: (remote id, its video link)."""
    client = make_client(ProviderConfig(base_url=simulator.base_url))
    created = client.create(
        CreateRequest(
            model="sora-2",
            prompt="ssrf poster test",
            orientation="portrait",
            size="small",
            duration=10,
        )
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = client.status(created.remote_id)
        if status.state is RemoteState.SUCCEEDED and status.video_url:
            return created.remote_id, status.video_url
        time.sleep(0.3)
    raise AssertionError("the simulator job did not finish")


# Each thumbnail case archives a whole video (and takes a poster frame), so it gets every
# differential URL and a few spellings; the result-link and redirect tests cover the rest.
THUMBNAIL_CORPUS = DIFFERENTIAL + SPELLINGS[:3] + ["http://[::ffff:127.0.0.1]:{port}/x.mp4"]


@pytest.mark.parametrize("template", THUMBNAIL_CORPUS)
def test_a_thumbnail_link_never_reaches_an_internal_service(
    template, listener, simulator, finished_simulator_job, member
):
    remote_id, video_url = finished_simulator_job
    provider = relay_provider(simulator.base_url)
    job = archiving_job(
        member,
        provider,
        remote_video_url=video_url,
        remote_thumbnail_url=hostile(template, listener, simulator.base_url),
    )
    VideoJob.objects.filter(pk=job.pk).update(remote_id=remote_id)
    archive.job_archive(job_id=job.pk)
    assert_nothing_reached(listener)
    job.refresh_from_db()
    # The refused thumbnail is replaced by a frame of our own; the video itself is fine.
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert job.poster


@pytest.mark.parametrize("template", CORPUS)
def test_a_team_webhook_test_message_never_reaches_an_internal_service(
    template, listener, settings
):
    settings.SORAWEB_WEBHOOK_ALLOWED_HOSTS = []
    url = hostile(template, listener, "http://93.184.216.34")
    if template in DIFFERENTIAL:  # refused on sight, when the webhook is saved
        assert webhook_urls.webhook_url_problem(url), "the admin form would have accepted it"
    hook = TeamWebhook.objects.create(name="chat", url=url, secret="whsec_test-secret")
    delivery = ops_services.webhook_send_test(webhook=hook)
    assert_nothing_reached(listener)
    # Refused for good, or (a name this machine cannot look up, like "localhost.") left to retry.
    assert delivery.status != DeliveryStatus.DELIVERED
    assert_no_leak(delivery.last_error)


def test_an_allowed_webhook_host_does_not_cover_a_url_that_only_names_it(listener, settings):
    # urlsplit names 93.184.216.34 as the host here; the HTTP client would go to 127.0.0.1.
    settings.SORAWEB_WEBHOOK_ALLOWED_HOSTS = ["93.184.216.34"]
    url = f"http://127.0.0.1:{listener.port}\\@93.184.216.34/hook"
    hook = TeamWebhook.objects.create(name="chat", url=url, secret="whsec_test-secret")
    delivery = ops_services.webhook_send_test(webhook=hook)
    assert_nothing_reached(listener)
    assert delivery.status == DeliveryStatus.FAILED


# --- The key stays with the relay -----------------------------------------------------------


@pytest.fixture
def key_catcher() -> Iterator[Listener]:
    """A second local service that must never see the relay's key."""
    server = Listener()
    yield server
    server.close()


def assert_key_never_arrived(catcher: Listener) -> None:
    catcher.settle()
    received = b"".join(catcher.requests)
    assert KEY.encode() not in received
    assert EXTRA.encode() not in received
    assert catcher.connections == 0


def test_the_key_does_not_follow_a_url_that_puts_the_relays_origin_after_a_backslash(
    key_catcher, relay, member
):
    provider = relay_provider(relay.base_url)
    url = f"http://127.0.0.1:{key_catcher.port}\\@{relay.origin[7:]}/v1/files/x.mp4"
    job = archiving_job(member, provider, remote_video_url=url)
    archive.job_archive(job_id=job.pk)
    assert_key_never_arrived(key_catcher)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}\\@{relay}/v1/files/y.mp4",
        "http://127.0.0.1:{port}/v1/files/y.mp4",
        "http://localhost:{port}/v1/files/y.mp4",
        "//127.0.0.1:{port}/v1/files/y.mp4",
    ],
)
def test_the_key_does_not_follow_a_relay_redirect(location, key_catcher, relay, member):
    target = location.format(port=key_catcher.port, relay=relay.origin[7:])

    @relay.route("GET", "/v1/files/x.mp4")
    def away(h):
        h.send_response(302)
        h.send_header("Content-Length", "0")
        h._headers_buffer.append(b"Location: " + target.encode() + b"\r\n")
        h.end_headers()

    provider = relay_provider(relay.base_url)
    job = archiving_job(member, provider, remote_video_url=f"{relay.origin}/v1/files/x.mp4")
    archive.job_archive(job_id=job.pk)
    assert_key_never_arrived(key_catcher)
    # The relay itself, at its configured origin, did get the key and the extra header.
    assert relay.seen[0].headers["Authorization"] == f"Bearer {KEY}"
    assert relay.seen[0].headers["X-Relay-Token"] == EXTRA


def test_a_failed_download_does_not_echo_what_the_server_said(relay, member):
    @relay.route("GET", "/v1/files/x.mp4")
    def broken(h):
        h.reply(500, INTERNAL_BODY, content_type="text/plain")

    provider = relay_provider(relay.base_url)
    job = archiving_job(member, provider, remote_video_url=f"{relay.origin}/v1/files/x.mp4")
    archive.job_archive(job_id=job.pk)
    job.refresh_from_db()
    VideoJob.objects.filter(pk=job.pk).update(archive_attempts=99, lease_until=None)
    archive.job_archive(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "HTTP 500" in job.error_message
    assert_no_leak(job.error_message)
    assert all("INTERNAL-ADMIN" not in e.message for e in job.events.all())


# --- DNS rebinding: the address checked is the address connected to -----------------------


def test_a_name_that_turns_private_after_the_check_is_refused_at_connect_time(
    listener, relay, member, monkeypatch
):
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            ip = next(answers, "127.0.0.1")  # public once, then the internal address
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    provider = relay_provider(relay.base_url)
    job = archiving_job(
        member, provider, remote_video_url=f"http://rebind.example:{listener.port}/x.mp4"
    )
    archive.job_archive(job_id=job.pk)
    assert_nothing_reached(listener)
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "private or reserved" in job.error_message


def test_the_simulator_on_loopback_still_works_at_its_exact_origin(
    simulator, finished_simulator_job, member
):
    remote_id, video_url = finished_simulator_job
    provider = relay_provider(simulator.base_url)
    job = archiving_job(member, provider, remote_video_url=video_url)
    VideoJob.objects.filter(pk=job.pk).update(remote_id=remote_id, created_at=timezone.now())
    archive.job_archive(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.error_message


def test_a_webhook_address_with_a_broken_host_gets_a_clear_refusal_not_a_crash():
    assert webhook_urls.webhook_url_problem("http://[::1/hook")
