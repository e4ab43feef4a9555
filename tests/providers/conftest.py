"""A small purpose-built HTTP server for pinning the client layer's edge cases over real HTTP.

Each test registers handlers for (method, path); a handler gets the request handler object and
writes whatever it likes: JSON, an HTML error page, half a stream, nothing at all.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from soraweb.providers import ProviderConfig, WireFormat

API_KEY = "sk-test-SECRET123"


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    raw_query: str
    headers: Message
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.raw_query).items()}

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, tuple[str | None, bytes]]:
        """multipart/form-data fields: name -> (filename, bytes)."""
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        assert message.is_multipart(), self.headers["Content-Type"]
        return {
            part.get_param("name", header="content-disposition"): (
                part.get_filename(),
                part.get_payload(decode=True),
            )
            for part in message.iter_parts()
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen = Seen(self.command, parts.path, parts.query, self.headers, body)
        fake = self.server.fake
        fake.seen.append(self.seen)
        handler = fake.routes.get((self.command, parts.path))
        if handler is None:
            self.reply_json(404, {"error": {"message": f"no route {self.command} {parts.path}"}})
            return
        handler(self)

    do_GET = do_POST = do_DELETE = _dispatch

    # -- helpers for handlers --------------------------------------------------------------

    def reply(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.reply(status, json.dumps(obj).encode(), headers=headers)

    def start_stream(self, content_type: str = "text/event-stream", chunked: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")  # body ends when the connection does
            self.close_connection = True
        self.end_headers()
        self._chunked = chunked

    def send_part(self, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if self._chunked:
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        else:
            self.wfile.write(raw)
        self.wfile.flush()

    def end_stream(self) -> None:
        if self._chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        """Cut the connection abruptly (RST), as a crashing proxy does."""
        self.wfile.flush()
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        self.close_connection = True
        self.connection.close()

    def hang(self) -> None:
        """Say nothing until the test ends."""
        self.server.fake.release.wait(10)
        self.close_connection = True


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer is what many tests provoke on purpose.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class FakeServer:
    routes: dict[tuple[str, str], Callable[[Handler], None]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    httpd: FakeHTTPServer | None = None

    def start(self) -> FakeServer:
        self.httpd = FakeHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.fake = self
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        assert self.httpd is not None
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def origin(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def route(self, method: str, path: str) -> Callable[[Callable[[Handler], None]], Any]:
        """Decorator: ``@fake.route("POST", "/v1/video/create")``."""

        def register(fn: Callable[[Handler], None]) -> Callable[[Handler], None]:
            self.routes[(method, path)] = fn
            return fn

        return register

    def config(self, wire_format: WireFormat = WireFormat.UNIFIED, **kwargs: Any) -> ProviderConfig:
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "wire_format": wire_format,
            "api_key": API_KEY,
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
            "stream_read_timeout": 2.0,
        }
        options.update(kwargs)
        return ProviderConfig(**options)


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.stop()


@pytest.fixture
def other_fake() -> Iterator[FakeServer]:
    """A second server on another port: another origin, as a CDN would be."""
    server = FakeServer().start()
    yield server
    server.stop()
