"""Where the server's outgoing HTTP really goes: one parse, and a check at connect time.

Every URL soraweb fetches on its own (provider API calls, result and thumbnail links, their
redirect hops, team webhooks) goes through a ``requests`` session built here. Two rules make it
safe against server-side request forgery:

1. A URL is parsed once, with the parser the HTTP client itself uses (urllib3's ``parse_url``),
   and refused outright when it carries anything parsers disagree about: user info
   (``user@host``), backslashes, whitespace or control characters. Python's ``urlsplit`` reads
   ``http://127.0.0.1:8080\\@cdn.example/`` as host ``cdn.example``, urllib3 as ``127.0.0.1``;
   deciding on one parse and connecting with another is how a guard gets walked around.
2. The decision that counts is taken on the socket, not on the URL: the connection classes below
   resolve the host themselves, refuse if any address is loopback, private, link-local,
   multicast, reserved or otherwise not global (IPv4-mapped and 6to4 IPv6 judged by the IPv4
   they carry), and connect to exactly the addresses they checked. A second DNS answer (DNS
   rebinding) or an odd spelling of 127.0.0.1 (2130706433, 0x7f.1, 127.1) never reaches a
   socket unchecked. TLS still uses the host name for SNI and the certificate check.

Origins an admin configured (the provider's base URL, which is how the built-in simulator on
127.0.0.1 is reached; a webhook host named in SORAWEB_WEBHOOK_ALLOWED_HOSTS) are trusted as
they are, but only for exactly that scheme, host and port.

Credentials (the API key and the provider's extra headers) are added by the connection, and
only by a connection whose own scheme, host and port equal the configured origin: a redirect to
a CDN, a result link elsewhere or a URL that only looks like the relay's never carries them.

Not defended here: an egress proxy (proxies are refused, since the check would judge the proxy
and not the target), and a configured origin that is itself hostile.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util import parse_url
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from .base import ProviderError

DEFAULT_PORTS = {"http": 80, "https": 443}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not flagged by ipaddress

Origin = tuple[str, str, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ProviderError):
    """The connection would have gone to a private or reserved address; nothing was sent."""

    def __init__(self, host: str) -> None:
        super().__init__(
            f"The download link points to a private or reserved network address ({host}); "
            "it was not fetched.",
            permanent=True,
        )
        self.host = host


@dataclass(frozen=True)
class ParsedURL:
    """A URL as urllib3 reads it: ``url`` is what is sent, the rest is where it goes."""

    url: str
    scheme: str
    host: str  # lower case, IPv6 without brackets, exactly as the connection will see it
    port: int

    @property
    def origin(self) -> Origin:
        return self.scheme, self.host, self.port


def _suspicious_character(url: str) -> str | None:
    # Whitespace and control characters are dropped or split on differently by each parser
    # (urlsplit deletes tabs and newlines, browsers and proxies do other things); a backslash
    # is a path separator to some and an ordinary character to others. Fullwidth forms that
    # normalise to one of them are just as ambiguous.
    for text in (url, unicodedata.normalize("NFKC", url)):
        for char in text:
            if char == "\\":
                return "a backslash"
            if char.isspace() or unicodedata.category(char).startswith("C"):
                return "a space or control character"
    return None


def _normal_host(host: str) -> str:
    return host.strip("[]").lower()


def parse_fetch_url(url: str, *, what: str = "The download link") -> ParsedURL:
    """``url`` parsed the way the HTTP client will parse it, or ProviderError(permanent).

    Refuses anything but http(s) with a host, and any URL with user info, a backslash,
    whitespace or control characters, because those are where URL parsers disagree.
    """
    if not isinstance(url, str) or not url:
        raise ProviderError(f"{what} is empty.", permanent=True)
    bad = _suspicious_character(url)
    if bad:
        raise ProviderError(
            f"{what} contains {bad}, which soraweb does not accept in an address.",
            permanent=True,
        )
    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError):
        raise ProviderError(f"{what} is not a valid URL.", permanent=True) from None
    scheme = (parts.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise ProviderError(
            f"{what} uses {scheme or 'no'} scheme; only http and https are allowed.",
            permanent=True,
        )
    if parts.auth is not None or "@" in (parts.netloc or ""):
        raise ProviderError(
            f"{what} has a user name or password before its host, which soraweb does not "
            "accept in an address.",
            permanent=True,
        )
    if not parts.host or not _normal_host(parts.host):
        raise ProviderError(f"{what} has no host name.", permanent=True)
    port = parts.port or DEFAULT_PORTS[scheme]
    return ParsedURL(parts.url, scheme, _normal_host(parts.host), port)


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of ``url`` as the client parses it; None if it would be refused."""
    try:
        return parse_fetch_url(url).origin
    except ProviderError:
        return None


def origins(urls: Iterable[str]) -> frozenset[Origin]:
    return frozenset(o for o in (origin_of(u) for u in urls) if o is not None)


def is_forbidden(ip: IPAddress) -> bool:
    """Whether soraweb must not connect to ``ip`` unless an admin configured its origin."""
    # An IPv6 address can carry an IPv4 one (::ffff:127.0.0.1, 6to4): judge what it carries.
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return is_forbidden(embedded)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
        or not ip.is_global
    )


def sockaddr_ip(sockaddr: tuple[Any, ...]) -> IPAddress:
    # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"); the zone does not change the verdict.
    return ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])


def resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    """getaddrinfo for a TCP connection, in the address families urllib3 would use."""
    return socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)


@dataclass(frozen=True)
class FetchPolicy:
    """What one session may connect to, and which origin gets the credentials."""

    allowed: frozenset[Origin] = frozenset()
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    credential_origin: Origin | None = None

    @property
    def credential_names(self) -> frozenset[str]:
        return frozenset({"authorization", *(name.lower() for name in self.credentials)})


class _GuardedConnectionMixin:
    """Resolves, checks and pins the address; adds credentials only on their own origin."""

    policy: ClassVar[FetchPolicy]
    scheme_name: ClassVar[str]
    # Provided by urllib3's HTTPConnection, which this is mixed into below. mypy cannot see that,
    # so the three `type: ignore`s in this class are where `self` goes to urllib3 as that
    # connection, or calls its request() through super().
    _dns_host: str
    port: int
    timeout: Any
    source_address: tuple[str, int] | None
    socket_options: Any
    host: str

    def connection_origin(self) -> Origin:
        return self.scheme_name, _normal_host(self._dns_host), self.port

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.strip("[]")
        try:
            infos = resolve(host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        if self.connection_origin() not in self.policy.allowed:
            for info in infos:
                try:
                    forbidden = is_forbidden(sockaddr_ip(info[4]))
                except ValueError:
                    forbidden = True
                if forbidden:
                    raise AddressRefused(self.host)
        # Connect to exactly the addresses that were checked: no second lookup.
        error: OSError | None = None
        for family, socktype, proto, _name, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(
            self,  # type: ignore[arg-type]
            f"Failed to establish a new connection: {error or 'no address found'}",
        ) from error

    def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        policy = self.policy
        names = policy.credential_names
        sent = {k: v for k, v in (headers or {}).items() if k.lower() not in names}
        if policy.credentials and self.connection_origin() == policy.credential_origin:
            sent.update(policy.credentials)
        super().request(method, url, body=body, headers=sent, **kwargs)  # type: ignore[misc]


class GuardedAdapter(HTTPAdapter):
    """A ``requests`` transport adapter whose every connection goes through the checks above.

    Redirect hops are new requests through the same adapter, so each is checked the same way.
    """

    def __init__(self, policy: FetchPolicy, **kwargs: Any) -> None:
        self.policy = policy
        attrs = {"policy": policy}
        http_conn = type(
            "GuardedHTTPConnection",
            (_GuardedConnectionMixin, HTTPConnection),
            {**attrs, "scheme_name": "http"},
        )
        https_conn = type(
            "GuardedHTTPSConnection",
            (_GuardedConnectionMixin, HTTPSConnection),
            {**attrs, "scheme_name": "https"},
        )
        self._pool_classes = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type(
                "GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
            ),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through a proxy the check would judge the proxy's address, not the target's.
        raise ProviderError(
            "soraweb does not send its outgoing requests through a proxy; unset HTTP_PROXY.",
            permanent=True,
        )


def guard_session(session: requests.Session, policy: FetchPolicy) -> requests.Session:
    """Make ``session`` send everything through a ``GuardedAdapter`` with ``policy``.

    ``trust_env`` is switched off: environment proxies would bypass the check and a ~/.netrc
    would add credentials of its own.
    """
    session.trust_env = False
    session.proxies = {}
    session.adapters.clear()
    adapter = GuardedAdapter(policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def guarded_session(
    *,
    allowed_urls: Iterable[str] = (),
    credentials: Mapping[str, str] | None = None,
    credential_url: str | None = None,
) -> requests.Session:
    """A new session that may reach public addresses and exactly the ``allowed_urls`` origins,
    sending ``credentials`` only to ``credential_url``'s origin."""
    policy = FetchPolicy(
        allowed=origins(allowed_urls),
        credentials=dict(credentials or {}),
        credential_origin=origin_of(credential_url) if credential_url else None,
    )
    return guard_session(requests.Session(), policy)
