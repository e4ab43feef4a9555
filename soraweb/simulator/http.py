"""The simulator's HTTP plumbing: the threaded server, routing, bearer-key check, request
bodies (JSON, chunked, multipart), fault injection at the gates, and file serving with ranges.

The wire formats (``formats/``) add their routes and handlers on top of ``BaseHandler``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import math
import re
import secrets
import socket
import threading
import traceback
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import faults as faults_mod
from .faults import Faults
from .store import FORMATS, Job

if TYPE_CHECKING:
    from .relay import Simulator

MAX_BODY_BYTES = 64 * 1024 * 1024

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
# Claims to be JSON and is not: what a misconfigured proxy in front of a relay sends.
GARBAGE_BODY = (
    b"upstream_response: <!DOCTYPE html><html><body>Service Temporarily Unavailable"
    b'</body></html> \x00\x01 {"id": '
)
EXPIRED_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>\n"
)


class Reply(Exception):  # noqa: N818 - control flow, not an error
    """Answer the request with this response at once (errors and injected faults)."""

    def __init__(
        self,
        status: int,
        body: bytes | dict[str, Any],
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


class Abort(Exception):  # noqa: N818
    """Close the connection without a (complete) response."""


def api_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return Reply(status, body, headers=headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Hanging handlers must not hold up stop().
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_all_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


WHOLE = (0, -1)  # marker: answer a Range header we do not handle with the whole file


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as inclusive (start, end); None when unsatisfiable; ``WHOLE``
    for several ranges or another unit, answered with the whole file as RFC 9110 allows."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return WHOLE
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                return None
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, tuple[str, str, bytes]]]:
    """Fields and files of a multipart/form-data body (binary-safe, no cgi module)."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise api_error(400, "multipart/form-data without a boundary.")
    fields: dict[str, Any] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n")
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip():
                headers[name.strip()] = value.strip()
        field_name = headers.get_param("name", header="content-disposition")
        if not isinstance(field_name, str):
            continue
        filename = headers.get_param("filename", header="content-disposition")
        if isinstance(filename, str):
            files[field_name] = (filename, headers.get_content_type(), data)
        else:
            fields[field_name] = data.decode("utf-8", "replace")
    return fields, files


Route = tuple[str, "re.Pattern[str]", str, bool]
# A route names its handler method (``h_<name>``) and says whether it checks the API key.
ID = r"(?P<id>[^/]+)"
MISC_ROUTES: list[Route] = [
    (
        "GET",
        re.compile(r"/v1/files/(?P<token>[A-Za-z0-9_-]+)\.(?P<ext>mp4|webp|jpg)"),
        "files",
        False,
    ),
    ("GET", re.compile(r"/v1/models"), "models", True),
    ("GET", re.compile(r"/(healthz)?"), "health", False),
]


class BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "soraweb-simulator/1.0"
    # Idle keep-alive connections are closed after this long.
    timeout = 120
    server: Server
    # The routes this handler serves; the handler of all four formats adds theirs.
    routes: tuple[Route, ...] = tuple(MISC_ROUTES)

    # ----------------------------------------------------------------- entry points

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        self.sim._log(f"{self.address_string()} {format % args}")

    @property
    def sim(self) -> Simulator:
        return self.server.sim

    def _dispatch(self, method: str) -> None:
        self.head_only = method == "HEAD"
        sim = self.sim
        sim._log_request(method, self.path)
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            self.body = self._read_body()
            if sim.latency and sim._sleep(sim.latency):
                raise Abort
            handler, params, needs_auth = self._route("GET" if self.head_only else method, url.path)
            if needs_auth:
                self._check_auth()
            handler(**params)
        except Reply as reply:
            self._send(reply.status, reply.body, reply.content_type, reply.headers)
        except (Abort, BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:
            sim._log(traceback.format_exc())
            with contextlib.suppress(OSError):
                self._send(
                    500,
                    {"error": {"message": f"simulator bug: {exc}", "type": "server_error"}},
                )

    def _route(self, method: str, path: str) -> tuple[Callable[..., None], dict[str, str], bool]:
        path_matched = False
        for route_method, pattern, name, auth in self.routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            path_matched = True
            if route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                if name == "health":
                    params = {}
                needs_auth = auth or (name == "files" and self.sim.files_require_auth)
                return getattr(self, f"h_{name}"), params, needs_auth
        if path_matched:
            raise api_error(405, f"Method {method} is not allowed on {path}.")
        raise api_error(404, f"Unknown route: {method} {path}. The simulator serves /v1/... only.")

    def _check_auth(self) -> None:
        expected = self.sim.api_key
        if not expected:
            return
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            message = "Missing API key: send it as 'Authorization: Bearer <key>'."
        elif scheme.lower() != "bearer" or not token.strip():
            message = "Malformed Authorization header: expected 'Bearer <key>'."
        elif hmac.compare_digest(token.strip().encode(), expected.encode()):
            return
        else:
            message = "Invalid API key: the key sent does not match this relay's key."
        raise api_error(
            401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"}
        )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024).split(b";")[0].strip()
                size = int(size_line or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise api_error(413, "Request body too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            self.close_connection = True
            raise api_error(400, "Invalid Content-Length header.") from exc
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise api_error(413, "Request body too large.")
        return self.rfile.read(length) if length > 0 else b""

    # ----------------------------------------------------------------- response helpers

    def _send(
        self,
        status: int,
        body: bytes | dict[str, Any] | list[Any],
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{secrets.token_hex(8)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def _json(self) -> dict[str, Any]:
        if not self.body:
            raise api_error(400, "Request body is empty: expected a JSON object.")
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise api_error(400, f"Request body is not valid JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise api_error(400, "Request body must be a JSON object.")
        return data

    def _hang(self) -> None:
        # The job (if any) is stored already: from the client's side the outcome is unknown.
        if self.sim._sleep(self.sim.hang_seconds):
            raise Abort

    def _inject(self, kind: str) -> None:
        sim = self.sim
        if kind == "429":
            retry = sim.retry_after
            raise api_error(
                429,
                f"Rate limit reached for requests. Please try again in {retry:g}s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={
                    "Retry-After": str(max(1, math.ceil(retry))),
                    "retry-after-ms": str(int(retry * 1000)),
                },
            )
        if kind == "502":
            raise Reply(502, HTML_502, content_type="text/html")
        if kind == "garbage":
            raise Reply(200, GARBAGE_BODY, content_type="application/json; charset=utf-8")
        if kind == "hang":
            self._hang()

    def _create_gate(self, prompt: str) -> Faults:
        """Apply create-time fault markers; returns the faults when the create may proceed."""
        faults = faults_mod.parse(self.sim.drift_markers + prompt)
        k = self.sim._note_attempt(prompt)
        for kind, count in faults.create_rejections:
            if k < count:
                self._inject(kind)
            k -= count
        return faults

    def _after_store(self, job: Job) -> None:
        if self.sim._accepted_before(job.prompt) < job.faults.create_hang:
            self._hang()

    def _poll_gate(self, job: Job) -> None:
        k = self.sim._note_poll(job)
        for kind, count in job.faults.poll_rejections:
            if k < count:
                self._inject(kind)
                return
            k -= count

    def _send_file(self, path: Path, content_type: str) -> None:
        """Serve a file with Content-Length and single-range (206) support."""
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": f'"{path.stem}-{size}"',
            "Cache-Control": "private, max-age=3600",
        }
        range_header = self.headers.get("Range")
        if range_header:
            parsed = parse_range(range_header, size)
            if parsed is None:
                raise Reply(
                    416,
                    {"error": {"message": f"Range not satisfiable: {range_header}"}},
                    headers={"Content-Range": f"bytes */{size}"},
                )
            if parsed is not WHOLE:
                start, end = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.head_only:
            return
        with path.open("rb") as fh:
            # Zero-copy where the OS can (sendfile): the relay is never the slow end of a
            # download benchmark. The headers are out already (wfile is unbuffered).
            self.connection.sendfile(fh, offset=start, count=length)

    # ----------------------------------------------------------------- misc routes

    def h_health(self) -> None:
        self._send(200, {"ok": True, "service": "soraweb relay simulator", "formats": FORMATS})

    def h_models(self) -> None:
        names = sorted(self.sim.model_rules)
        self._send(
            200,
            {
                "object": "list",
                "data": [
                    {"id": n, "object": "model", "created": 0, "owned_by": "soraweb-simulator"}
                    for n in names
                ],
            },
        )

    def h_files(self, token: str, ext: str) -> None:
        sim = self.sim
        job = sim.store.by_file_token(token)
        if job is None:
            raise Reply(404, {"error": {"message": "No such file."}})
        view = sim.view(job)
        if view.state == "expired":
            # What an object store says to a signed URL past its expiry.
            raise Reply(403, EXPIRED_XML, content_type="application/xml")
        if not view.has_result:
            raise Reply(404, {"error": {"message": "No such file (yet)."}})
        types = {"mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg"}
        self._send_file(sim.asset_path(job, ext), types[ext])
