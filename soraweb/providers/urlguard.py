"""SSRF guard for URLs that a provider hands us to download.

A result URL comes from a third party; fetching it blindly would let a hostile or compromised
relay make our server request its own admin pages, a cloud metadata endpoint
(169.254.169.254) or anything else on the private network, and then store the answer as a
"video" for users to see. So every URL, and every redirect hop, must be http(s) and resolve only
to public addresses, unless its origin is one an admin configured (the provider's base URL:
that is how a relay or the simulator on 127.0.0.1 is reached on purpose).

Known gap, accepted for simplicity: the address is checked and then resolved again by the HTTP
library, so a DNS server that answers differently within milliseconds (DNS rebinding) could
still slip through. Closing that needs pinning the checked address into the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from .base import ProviderError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not flagged by ipaddress
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

Origin = tuple[str, str, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of a URL, with the default port filled in; None if it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # e.g. a port that is not a number
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _is_forbidden(ip: IPAddress) -> bool:
    # An IPv6 address can carry an IPv4 one (::ffff:127.0.0.1, 6to4): judge what it carries.
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return _is_forbidden(embedded)
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


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        # DNS trouble can pass, so this is worth another try later.
        raise ProviderError(
            f"The download address {host} could not be looked up.", permanent=False
        ) from exc
    # sockaddr[0] may carry an IPv6 zone ("fe80::1%eth0"); the zone does not change the verdict.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _same_server(origin: Origin, addresses: list[IPAddress], allowed: set[Origin]) -> bool:
    """Whether ``origin`` is an allowed origin under another name (localhost vs 127.0.0.1):
    same scheme and port, and every address it resolves to is one the allowed host has."""
    known: set[IPAddress] = set()
    for scheme, host, port in allowed:
        if (scheme, port) == (origin[0], origin[2]):
            try:
                known.update(_addresses(host, port))
            except ProviderError:
                continue
    return set(addresses) <= known


def _normalise_origins(allowed_origins: Iterable[str]) -> set[Origin]:
    return {o for o in (origin_of(u) for u in allowed_origins) if o is not None}


def check_fetch_url(url: str, *, allowed_origins: Iterable[str] = ()) -> None:
    """Raise ProviderError(permanent=True) unless ``url`` is safe to fetch.

    ``allowed_origins`` holds URLs (only their scheme, host and port count) that are trusted
    because an admin configured them, such as the provider's base URL.
    """
    try:
        parts = urlsplit(url.strip())
        scheme, host = parts.scheme.lower(), parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ProviderError("The download link is not a valid URL.", permanent=True) from None
    if scheme not in _DEFAULT_PORTS:
        raise ProviderError(
            f"The download link uses {scheme or 'no'} scheme; only http and https are allowed.",
            permanent=True,
        )
    if not host:
        raise ProviderError("The download link has no host name.", permanent=True)
    origin = origin_of(url)
    if origin is None:  # not reached after the checks above; keeps the type checker honest
        raise ProviderError("The download link is not a valid URL.", permanent=True)
    allowed = _normalise_origins(allowed_origins)
    if origin in allowed:
        return
    addresses = _addresses(host, origin[2])
    if addresses and not any(_is_forbidden(ip) for ip in addresses):
        return
    if addresses and _same_server(origin, addresses, allowed):
        return
    raise ProviderError(
        f"The download link points to a private or reserved network address ({host}); "
        "it was not fetched.",
        permanent=True,
    )


def guarded_get(
    session: requests.Session,
    url: str,
    *,
    allowed_origins: Iterable[str],
    timeout: tuple[float, float],
    max_redirects: int = 5,
    stream: bool = True,
    headers: Mapping[str, str] | None = None,
    private_headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """GET ``url``, following redirects by hand so that every hop passes ``check_fetch_url``.

    ``private_headers`` (the Authorization header) go only to the origin of the first URL: a
    redirect to a CDN or another host must not receive our API key. The caller owns the
    returned response (close it). Network failures surface as ``requests`` exceptions; the
    caller maps them to ProviderError.
    """
    allowed = list(allowed_origins)
    first_origin = origin_of(url)
    for _hop in range(max_redirects + 1):
        check_fetch_url(url, allowed_origins=allowed)
        hop_headers = dict(headers or {})
        if private_headers and origin_of(url) == first_origin:
            hop_headers.update(private_headers)
        response = session.get(
            url, headers=hop_headers, timeout=timeout, stream=stream, allow_redirects=False
        )
        location = response.headers.get("Location")
        if response.status_code not in _REDIRECT_CODES or not location:
            return response
        response.close()
        url = urljoin(url, location)
    raise ProviderError(
        f"The download link redirected more than {max_redirects} times; it was not followed.",
        permanent=True,
    )
