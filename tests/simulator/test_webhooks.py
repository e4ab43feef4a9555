"""Standard-Webhooks deliveries, checked by an independent verifier on a real receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from soraweb.simulator.server import Simulator
from soraweb.simulator.store import FakeClock
from tests.simulator.helpers import wait_until

SECRET_BYTES = b"an-independent-test-secret-32by!"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()


class Receiver:
    """Records every POST; answers 500 to the first ``fail_first`` of them."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(receiver.received) < receiver.fail_first else 204
                receiver.received.append(
                    ({k.lower(): v for k, v in self.headers.items()}, body, status)
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/video"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(headers: dict[str, str], body: bytes) -> bool:
    """Standard-Webhooks verification, written from the spec, independent of the simulator."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    for entry in headers["webhook-signature"].split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


@pytest.fixture
def receiver():
    r = Receiver(fail_first=1)
    yield r
    r.close()


def test_it_posts_signed_events_and_retries_a_failed_delivery(receiver, tag):
    clock = FakeClock()
    with Simulator(
        job_seconds=0.6,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_retry_delays=(0.2, 0.4),
        clock=clock,
    ) as sim:
        ok = requests.post(f"{sim.base_url}/videos", json={"prompt": f"{tag} ok"}, timeout=5)
        bad = requests.post(
            f"{sim.base_url}/videos", json={"prompt": f"{tag} [sim:moderation]"}, timeout=5
        )
        ok_id, bad_id = ok.json()["id"], bad.json()["id"]

        # Nobody polls: the simulator's own clock must finish the jobs and send the events.
        clock.advance(0.6)
        wait_until(lambda: len(receiver.received) >= 2, timeout=10)
        # The failed delivery is retried 0.2 s later on the simulator's clock, not before.
        wait_until(lambda: any(not e["delivered"] for e in sim.webhook_log), timeout=10)
        time.sleep(0.3)
        assert len(receiver.received) == 2
        clock.advance(0.2)
        wait_until(lambda: sum(1 for _, _, s in receiver.received if s == 204) >= 2, timeout=10)
        log = sim.webhook_log

    events = {}
    for headers, body, status in receiver.received:
        assert verify(headers, body)
        event = json.loads(body)
        assert headers["webhook-id"] == event["id"]
        if status == 204:
            events[event["data"]["id"]] = event
    assert events[ok_id]["type"] == "video.completed"
    assert events[bad_id]["type"] == "video.failed"
    for event in events.values():
        assert event["object"] == "event"
        assert event["id"].startswith("evt_")
        assert abs(event["created_at"] - time.time()) < 30
    assert receiver.received[0][2] == 500  # the first delivery failed and was retried
    assert len(receiver.received) == 3
    assert [e["delivered"] for e in log].count(True) == 2
    assert any(e["attempt"] == 2 and e["delivered"] for e in log)


def test_it_rejects_a_tampered_body_in_the_independent_verifier(receiver, tag):
    with Simulator(job_seconds=0.3, webhook_url=receiver.url, webhook_secret=SECRET) as sim:
        requests.post(
            f"{sim.base_url}/video/generations",
            json={"prompt": f"{tag} x", "model": "sora-2"},
            timeout=5,
        )
        wait_until(lambda: receiver.received, timeout=10)

    headers, body, _ = receiver.received[0]
    assert verify(headers, body)
    assert not verify(headers, body.replace(b"video.", b"vidEo."))
