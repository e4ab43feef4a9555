"""The one place the provider clients talk HTTP.

Every request goes through ``HttpClient.request`` (or ``HttpClient.download``), which sets an
explicit (connect, read) timeout, adds the auth headers, and turns every way a call can go wrong
into a ``ProviderError`` whose message a person can read and which never contains the API key.

Creates are special: once the request has left this machine, a timeout or a dropped connection
does not tell us whether the provider started (and billed) a generation. Those failures carry
``outcome_unknown=True`` and nothing in this package retries a create, ever.
"""

from __future__ import annotations

import email.utils
import html
import http
import http.client
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC
from html.parser import HTMLParser
from types import TracebackType
from typing import Any
from urllib.parse import quote

import requests
import urllib3.exceptions
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from .base import ProviderConfig, ProviderError
from .normalise import find_error_text
from .transport import FetchPolicy, guard_session, parse_fetch_url
from .urlguard import guarded_get

USER_AGENT = "soraweb/0.1"
_REASON_LIMIT = 300  # characters of a provider's reason shown to a person
_SNIPPET_LIMIT = 200  # characters of an unparseable body shown to a person
_ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error body we read to find the reason
_SECRET_HEADER = re.compile(r"authorization|key|token|secret|signature", re.IGNORECASE)
_EXPIRED_CODES = frozenset({403, 404, 410})
# A gateway that answers 504/524 to a create forwarded it and then gave up waiting: the video
# may well have been started upstream.
_GATEWAY_TIMEOUT_CODES = frozenset({504, 524})

CREATE_OUTCOME_UNKNOWN = (
    "The video may or may not have been started. Check the provider before retrying."
)

# --- The one scrubber -----------------------------------------------------------------------
# Used for provider error texts, the stored provider answers (ops/redaction.py) and log lines
# (soraweb/logs.py). Shapes are scrubbed even when they are not a secret we know, because a
# relay that echoes one key may echo another.
MASK = "[redacted]"
_SCRUB_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bBearer\s+[^\s\"',;}]+", re.IGNORECASE), "Bearer " + MASK),
    (
        re.compile(
            r"(authorization[\"']?\s*[:=]\s*[\"']?)(?!bearer\s)(?:(?:basic|digest|token)\s+)?[^\s\"',}]+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), MASK),  # OpenAI-style keys
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{6,}"), MASK),  # webhook secrets
    # scheme://user:password@host. Every run is bounded and the scheme must start a word, so a
    # long body (100 kB of "x") is scanned in linear time, not quadratic.
    (
        re.compile(
            r"(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,30}://[^:/\s@]{0,256}:)[^@\s/]{1,256}@",
            re.IGNORECASE,
        ),
        r"\1" + MASK + "@",
    ),
    # Credential-looking query parameters (signed URLs, ?key=..., ?token=...).
    (
        re.compile(
            r"([?&](?=[^=&#\s\"']{0,100}?(?:token|signature|secret|key|auth|credential|sig))"
            r"[^=&#\s\"']{1,100}=)[^&#\s\"']+",
            re.IGNORECASE,
        ),
        r"\1" + MASK,
    ),
    (
        re.compile(
            r"(?i)\b(api[_-]?key|access[_-]?token|token|password|secret|signature)=[^&\s\"']+"
        ),
        r"\1=" + MASK,
    ),
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secrets (as they are, URL-encoded or JSON-escaped), and
    without ``Bearer ...``, ``Authorization: ...``, ``sk-...``, ``whsec_...``, passwords in
    URLs or credential parameters."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in (secret, quote(secret, safe=""), secret.replace("/", "\\/")):
            text = text.replace(form, MASK)
    for pattern, replacement in _SCRUB_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _cut_start(text: str, limit: int) -> str:
    """The first ``limit`` characters, without a word the cut went through (it may be part of
    a key nobody told us about: half a key is still most of a key)."""
    head = text[:limit]
    if len(text) > limit and head and not head[-1].isspace() and not text[limit].isspace():
        words = head.split()
        head = head[: len(head) - len(words[-1])] if words else ""
    return head.rstrip()


def _cut_end(text: str, limit: int) -> str:
    """The last ``limit`` characters, without a word the cut went through."""
    tail = text[len(text) - limit :] if limit > 0 else ""
    cut = len(text) - limit
    if cut > 0 and tail and not tail[0].isspace() and not text[cut - 1].isspace():
        words = tail.split()
        tail = tail[len(words[0]) :] if words else ""
    return tail.lstrip()


def cut(text: str, limit: int, *, secrets: Iterable[str] = (), keep_end: bool = False) -> str:
    """``text`` at most ``limit`` characters long, scrubbed before and after the cut."""
    secrets = tuple(secrets)
    text = scrub(text, secrets)
    if len(text) > limit:
        text = "…" + _cut_end(text, limit - 1) if keep_end else _cut_start(text, limit - 1) + "…"
    return scrub(text, secrets)


def shorten(text: str, limit: int, *, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, without control characters, cut to ``limit`` characters; scrubbed
    before and after each step (removing a control character can join a key back together)."""
    secrets = tuple(secrets)
    text = " ".join(_CONTROL.sub("", scrub(text, secrets)).split())
    return cut(text, limit, secrets=secrets)


class _VisibleText(HTMLParser):
    """Collects the title, the first h1 and the visible text of an HTML error page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.h1: list[str] = []
        self.text: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in {"br", "hr", "img", "meta", "link", "input"}:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if {"script", "style", "noscript", "template"} & set(self._stack):
            return
        if "title" in self._stack:
            self.title.append(data)
        elif "h1" in self._stack:
            self.h1.append(data)
            self.text.append(data)
        else:
            self.text.append(data)


def html_to_text(page: str, *, secrets: Iterable[str] = ()) -> str:
    """An HTML error page reduced to what a person would read first: title and h1."""
    parser = _VisibleText()
    try:
        parser.feed(page)
        parser.close()
    except Exception:  # noqa: BLE001 - a broken page must not hide the HTTP error itself
        return shorten(re.sub(r"<[^>]*>", " ", html.unescape(page)), _REASON_LIMIT, secrets=secrets)
    title = " ".join(" ".join(parser.title).split())
    h1 = " ".join(" ".join(parser.h1).split())
    if title and h1:
        text = title if h1.lower() in title.lower() else f"{title}: {h1}"
    else:
        text = title or h1 or " ".join(parser.text)
    return shorten(text, _REASON_LIMIT, secrets=secrets)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("Retry-After")
    if not raw:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _caused_by(exc: BaseException, *types: type[BaseException]) -> bool:
    """Whether ``exc`` or anything it wraps (args, cause, context, reason) is one of ``types``."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, types):
            return True
        todo.extend(item.args)
        todo.extend((item.__cause__, item.__context__, getattr(item, "reason", None)))
    return False


class HttpClient:
    """Sends requests for one provider configuration. Not shared between threads.

    ``session`` may be passed in (tests, connection reuse); it is used as is.
    """

    def __init__(self, config: ProviderConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        origin = parse_fetch_url(self.base_url, what="The provider's base URL").origin
        self.base_origin = origin
        # The key and the extra headers are added by the connection itself, and only by one
        # whose scheme, host and port are the configured origin (transport.py).
        self.session = guard_session(
            session or requests.Session(),
            FetchPolicy(
                allowed=frozenset({origin}),
                credentials=self.auth_headers(),
                credential_origin=origin,
            ),
        )
        self._secrets = (config.api_key,) + tuple(
            value
            for name, value in config.extra_headers.items()
            if _SECRET_HEADER.search(name) and len(value) >= 6
        )

    # -- building blocks -------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def shorten(self, text: str, limit: int) -> str:
        """``shorten`` with every secret this client knows scrubbed before and after the cut."""
        return shorten(text, limit, secrets=self._secrets)

    def tail(self, text: str, limit: int) -> str:
        """The last ``limit`` characters of ``text``, scrubbed before and after the cut."""
        return cut(text, limit, secrets=self._secrets, keep_end=True)

    def error(self, message: str, **kwargs: Any) -> ProviderError:
        """A ProviderError whose message is scrubbed of every secret this client knows."""
        return ProviderError(self.scrub(message), **kwargs)

    def auth_headers(self) -> dict[str, str]:
        headers = {}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        headers.update(self.config.extra_headers)
        return headers

    def _headers(self, accept: str) -> dict[str, str]:
        # No credentials here: the guarded session adds them on the configured origin only.
        return {"Accept": accept, "User-Agent": USER_AGENT}

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        files: Any = None,
        create: bool = False,
        stream: bool = False,
        read_timeout: float | None = None,
        accept: str = "application/json",
    ) -> requests.Response:
        """Send one API request; return the 2xx response or raise ProviderError.

        ``create=True`` marks a call that starts a (billed) generation, so failures after the
        request was sent say the outcome is unknown. Redirects are not followed: the API lives
        at the configured base URL, and following one would turn a POST into a GET.
        """
        timeout = (self.config.connect_timeout, read_timeout or self.config.read_timeout)
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                json=json_body,
                files=files,
                headers=self._headers(accept),
                timeout=timeout,
                stream=stream,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self.transport_error(exc, create=create, timeout=timeout[1]) from None
        if not 200 <= response.status_code < 300:
            try:
                raise self.status_error(response, create=create)
            finally:
                response.close()
        return response

    def json(self, response: requests.Response, *, create: bool = False) -> dict[str, Any]:
        """The body of a 2xx response as a JSON object, or a clear ProviderError."""
        try:
            body = response.content
        except requests.RequestException as exc:
            raise self.transport_error(
                exc, create=create, timeout=self.config.read_timeout
            ) from None
        return self.parse_json(body.decode("utf-8", errors="replace"), create=create)

    def parse_json(self, text: str, *, create: bool = False) -> dict[str, Any]:
        """``text`` (a 2xx body) as a JSON object, or a clear ProviderError."""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
            message = (
                "The provider answered with something that is not JSON: "
                f"{self.shorten(text, _SNIPPET_LIMIT) or '(an empty body)'}"
            )
        else:
            message = (
                "The provider answered with JSON of an unexpected shape: "
                f"{self.shorten(text, _SNIPPET_LIMIT)}"
            )
        if isinstance(data, dict):
            return data
        # The provider accepted a create (2xx) but we cannot read its answer: it may have
        # started a generation we cannot see, so this must not look like a safe failure.
        if create:
            raise self.error(
                f"{message} {CREATE_OUTCOME_UNKNOWN}", permanent=False, outcome_unknown=True
            )
        raise self.error(message, permanent=False)

    def download(self, url: str) -> ResponseStream:
        """Open a streamed GET of a result URL through the SSRF guard.

        The provider's base origin is trusted (an admin configured it). The auth headers go
        only to that origin (the guarded session decides per connection): a result on a CDN
        or another host, or a redirect hop to one, never sees our API key.
        """
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            response = guarded_get(
                self.session,
                url,
                allowed_origins=[self.base_url],
                timeout=timeout,
                headers={"User-Agent": USER_AGENT, "Accept": "*/*"},
            )
        except ProviderError as exc:
            raise self.error(
                exc.message,
                permanent=exc.permanent,
                status_code=exc.status_code,
                retry_after=exc.retry_after,
            ) from None
        except requests.RequestException as exc:
            raise self.transport_error(exc, create=False, timeout=timeout[1]) from None
        if not 200 <= response.status_code < 300:
            try:
                raise self.status_error(response, download=True)
            finally:
                response.close()
        return ResponseStream(response, max_bytes=self.config.max_download_bytes, owner=self)

    # -- error mapping ---------------------------------------------------------------------

    def transport_error(
        self, exc: requests.RequestException, *, create: bool, timeout: float
    ) -> ProviderError:
        """Map a ``requests`` exception (no HTTP answer at all) to a ProviderError."""
        # Host and port only: a base URL may carry user:password@, which must not be shown.
        host = f"{self.base_origin[1]}:{self.base_origin[2]}"
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
            return self.error(
                "The provider's address is not a valid URL; check its base URL.", permanent=True
            )
        # Failing to connect means nothing was sent: safe to try again, even for a create.
        # Refusal first: urllib3's NewConnectionError subclasses ConnectTimeoutError.
        if isinstance(exc, requests.exceptions.ConnectionError) and _caused_by(
            exc, NewConnectionError, ConnectionRefusedError
        ):
            return self.error(
                f"Could not connect to the provider at {host} (connection refused or host "
                "not found); nothing was sent.",
                permanent=False,
                unreachable=True,
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout) or _caused_by(
            exc, ConnectTimeoutError
        ):
            return self.error(
                f"Could not connect to the provider at {host} in time; nothing was sent.",
                permanent=False,
                unreachable=True,
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return self.error(
                f"A secure connection to the provider at {host} could not be set up.",
                permanent=False,
            )
        timed_out = isinstance(exc, requests.exceptions.Timeout)
        if create:
            what = (
                "The provider did not answer in time;"
                if timed_out
                else "The connection to the provider dropped before it answered;"
            )
            return self.error(
                f"{what} the video may or may not have been started. "
                "Check the provider before retrying.",
                permanent=False,
                outcome_unknown=True,
            )
        if timed_out:
            return self.error(f"The provider did not answer within {timeout:g} s.", permanent=False)
        return self.error(
            "The connection to the provider dropped before it answered.", permanent=False
        )

    def status_error(
        self, response: requests.Response, *, create: bool = False, download: bool = False
    ) -> ProviderError:
        """Map a non-2xx HTTP answer to a ProviderError carrying the provider's reason."""
        code = response.status_code
        # A download's error body is never read into the message: the link may have led to a
        # service that is not the provider (what it says is not ours to show to members).
        reason = "" if download else self._reason(response)
        phrase = _phrase(code)
        detail = f"HTTP {code}: {reason}" if reason else f"HTTP {code} {phrase}".rstrip()
        retry_after = parse_retry_after(response.headers)
        if download and code in _EXPIRED_CODES:
            return self.error(
                f"The result link has expired or is gone ({detail}).",
                permanent=True,
                status_code=code,
                expired=True,
            )
        if code == 429:
            wait = f" Try again in {retry_after:.0f} s." if retry_after is not None else ""
            return self.error(
                f"The provider is rate-limiting requests ({detail}).{wait}",
                permanent=False,
                status_code=code,
                retry_after=retry_after,
            )
        if code >= 500:
            if create and code in _GATEWAY_TIMEOUT_CODES:
                return self.error(
                    f"The provider's gateway timed out ({detail}). {CREATE_OUTCOME_UNKNOWN}",
                    permanent=False,
                    status_code=code,
                    retry_after=retry_after,
                    outcome_unknown=True,
                )
            return self.error(
                f"The provider had a problem ({detail}). Try again later.",
                permanent=False,
                status_code=code,
                retry_after=retry_after,
            )
        if code == 408:
            return self.error(
                f"The provider gave up waiting for the request ({detail}).",
                permanent=False,
                status_code=code,
            )
        if 300 <= code < 400:
            location = response.headers.get("Location", "")
            target = f" to {self.shorten(location, 120)}" if location else ""
            return self.error(
                f"The provider redirected the request{target} (HTTP {code}); "
                "check the provider's base URL.",
                permanent=True,
                status_code=code,
            )
        if code in (401, 403):
            return self.error(
                f"The provider refused the API key or access ({detail}).",
                permanent=True,
                status_code=code,
            )
        return self.error(
            f"The provider rejected the request ({detail}).", permanent=True, status_code=code
        )

    def _reason(self, response: requests.Response) -> str:
        """The provider's own words from an error body: JSON fields, HTML page text, or text."""
        try:
            raw = b""
            for chunk in response.iter_content(8192):
                raw += chunk
                if len(raw) >= _ERROR_BODY_LIMIT:
                    break
        except requests.RequestException:
            return ""
        text = _decode(raw, response.headers.get("Content-Type", "")).strip()
        if not text:
            return ""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if data is not None:
            found = find_error_text(data)
            return self.shorten(found or text, _REASON_LIMIT)
        content_type = response.headers.get("Content-Type", "").lower()
        if "html" in content_type or text.lstrip().startswith("<"):
            return html_to_text(text, secrets=self._secrets)
        return self.shorten(text, _REASON_LIMIT)


def _decode(raw: bytes, content_type: str) -> str:
    # Only an explicit charset counts: requests would guess Latin-1 for text/* and garble the
    # Chinese error pages relays commonly send.
    match = re.search(r"charset=\"?([\w.-]+)", content_type, re.IGNORECASE)
    try:
        return raw.decode(match.group(1) if match else "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


class ResponseStream:
    """A ``ContentStream`` over a streaming ``requests.Response``.

    ``chunks()`` enforces the size limit as bytes arrive (a declared Content-Length cannot be
    trusted, and compressed bodies grow when decoded) and always closes the response.
    """

    def __init__(self, response: requests.Response, *, max_bytes: int, owner: HttpClient):
        self._response = response
        self._max_bytes = max_bytes
        self._owner = owner
        self._received = 0  # by readinto()
        self._direct: Any = None  # the http.client response readinto() reads, once decided
        self.content_type: str = response.headers.get("Content-Type", "application/octet-stream")
        try:
            length = int(response.headers.get("Content-Length", ""))
        except ValueError:
            length = None
        self.content_length: int | None = length if length is not None and length >= 0 else None
        if self.content_length is not None and self.content_length > max_bytes:
            self.close()
            raise self._too_big()
        if response.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity"):
            # The header counts the encoded bytes; what chunks() yields is decoded, so its
            # length is not known up front.
            self.content_length = None

    def _too_big(self) -> ProviderError:
        return self._owner.error(
            f"The result is larger than the {self._max_bytes // (1024 * 1024)} MB limit; "
            "it was not downloaded.",
            permanent=True,
        )

    def chunks(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        received = 0
        try:
            for chunk in self._response.iter_content(chunk_size):
                received += len(chunk)
                if received > self._max_bytes:
                    raise self._too_big()
                yield chunk
        except requests.RequestException:
            raise self._owner.error(
                "The download was interrupted before it finished. Try again.", permanent=False
            ) from None
        finally:
            self.close()

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` with the next bytes of the body; return how many (0 at its end).

        For large downloads: the bytes go from the socket into the caller's one buffer, without
        the fresh megabyte ``chunks()`` allocates per chunk (whose page faults cost the kernel
        more than the copy itself: twice the system time on a 1 GB download). An unencoded body
        is read from http.client's response under urllib3's (which handles Content-Length and
        chunked framing and raises on a cut body); any other body is decoded as usual. The size
        limit holds as in ``chunks()``.
        """
        raw = self._response.raw
        try:
            if self._direct is None:
                encoding = self._response.headers.get("Content-Encoding", "").strip().lower()
                fp = getattr(raw, "_fp", None)
                plain = encoding in ("", "identity") and callable(getattr(fp, "readinto", None))
                self._direct = fp if plain else False
            if self._direct:
                n = self._direct.readinto(buffer)
                if not n and self._direct.length:  # the end came before Content-Length's
                    raise http.client.IncompleteRead(b"", self._direct.length)
            else:
                data = raw.read(len(buffer), decode_content=True)
                n = len(data)
                buffer[:n] = data
        except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError):
            self.close()
            raise self._owner.error(
                "The download was interrupted before it finished. Try again.", permanent=False
            ) from None
        self._received += n
        if self._received > self._max_bytes:
            self.close()
            raise self._too_big()
        if not n:
            self.close()
        return n

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def full_jitter_delay(
    attempt: int, *, base: float, cap: float, jitter: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with full jitter: a random wait between 0 and ``base * 2**(n-1)``,
    capped at ``cap``, so that many workers hitting one rate-limited relay spread out."""
    return jitter() * min(cap, base * 2 ** max(0, attempt - 1))
