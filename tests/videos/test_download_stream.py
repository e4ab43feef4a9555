"""The download loop over real HTTP: cut bodies, bodies over the limit, encoded bodies.

A tiny local server misbehaves on purpose; the download reads through the provider client as
the archive step does (the buffer-filling path for plain bodies, decoding for encoded ones).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from soraweb.providers import ProviderError, make_client
from soraweb.providers.base import ProviderConfig
from soraweb.videos.pipeline import download

BODY = bytes(range(256)) * 12_000  # about 3 MB: several buffers' worth


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/cut":  # promises the whole body, sends half, hangs up
            self._head(len(BODY))
            self.wfile.write(BODY[: len(BODY) // 2])
        elif self.path == "/chunked":  # no length: the limit must hold as bytes arrive
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BODY), 100_000):
                part = BODY[start : start + 100_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/gzip":
            packed = gzip.compress(BODY)
            self._head(len(packed), encoding="gzip")
            self.wfile.write(packed)
        else:
            self._head(len(BODY))
            self.wfile.write(BODY)
        self.close_connection = True

    def _head(self, length: int, encoding: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(length))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def incoming(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path / ".incoming"


def fetch(origin: str, path: str, max_bytes: int = 10 * len(BODY)):
    client = make_client(ProviderConfig(base_url=origin + "/v1"))
    return download.download_to_temp(
        client, "job", video_url=origin + path, variant="video", max_bytes=max_bytes
    )


@pytest.mark.parametrize("path", ["/whole", "/chunked", "/gzip"])
def test_a_body_arrives_whole_with_its_digest_however_it_is_framed(origin, incoming, path):
    saved, digest, size = fetch(origin, path)
    assert saved.read_bytes() == BODY and size == len(BODY)
    assert digest == hashlib.sha256(BODY).hexdigest()


def test_a_cut_body_is_a_transient_error_and_leaves_nothing_behind(origin, incoming):
    with pytest.raises(ProviderError) as exc:
        fetch(origin, "/cut")
    assert not exc.value.permanent and "interrupted" in exc.value.message
    assert not list(incoming.iterdir())


@pytest.mark.parametrize("path", ["/chunked", "/gzip"])
def test_a_body_over_the_limit_is_stopped_as_it_arrives(origin, incoming, path):
    with pytest.raises((ProviderError, download.ArchiveError)) as exc:
        fetch(origin, path, max_bytes=len(BODY) // 3)
    assert exc.value.permanent and "limit" in str(exc.value)
    assert not list(incoming.iterdir())
