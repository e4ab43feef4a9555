"""SSRF guard for URLs that a provider hands us to download.

A result URL comes from a third party; fetching it blindly would let a hostile or compromised
relay make our server request its own admin pages, a cloud metadata endpoint
(169.254.169.254) or anything else on the private network, and then store the answer as a
"video" for users to see. So every URL, and every redirect hop, must be http(s) and resolve only
to public addresses, unless its origin is one an admin configured (the provider's base URL:
that is how a relay or the simulator on 127.0.0.1 is reached on purpose).

``check_fetch_url`` is the early, friendly answer (used before a download and when a webhook
address is saved). It is not what keeps the server safe: the session's ``GuardedAdapter``
(transport.py) checks the address it actually connects to, for every hop, and pins the
connection to it, so a second DNS answer cannot slip past the check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urljoin

import requests

from .base import ProviderError
from .transport import (
    AddressRefused,
    GuardedAdapter,
    Origin,
    is_forbidden,
    origins,
    parse_fetch_url,
    resolve,
    sockaddr_ip,
)
from .transport import origin_of as origin_of

_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

__all__ = ["Origin", "check_fetch_url", "guarded_get", "origin_of"]


def check_fetch_url(url: str, *, allowed_origins: Iterable[str] = ()) -> None:
    """Raise ProviderError(permanent=True) unless ``url`` looks safe to fetch.

    ``allowed_origins`` holds URLs (only their scheme, host and port count) that are trusted
    because an admin configured them, such as the provider's base URL. A failed lookup is a
    transient ProviderError (DNS trouble can pass).
    """
    parsed = parse_fetch_url(url)
    if parsed.origin in origins(allowed_origins):
        return
    try:
        infos = resolve(parsed.host, parsed.port)
    except (OSError, UnicodeError) as exc:
        raise ProviderError(
            f"The download address {parsed.host} could not be looked up.", permanent=False
        ) from exc
    try:
        addresses = [sockaddr_ip(info[4]) for info in infos]
    except ValueError:
        addresses = []
    if not addresses or any(is_forbidden(ip) for ip in addresses):
        raise AddressRefused(parsed.host)


def guarded_get(
    session: requests.Session,
    url: str,
    *,
    allowed_origins: Iterable[str],
    timeout: tuple[float, float],
    max_redirects: int = 5,
    stream: bool = True,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """GET ``url``, following redirects by hand so that every hop is checked again.

    ``session`` must send through a ``GuardedAdapter`` (transport.py): it checks the address of
    each connection and adds the credentials only on their own origin, so a redirect to a CDN
    or another host never receives our API key. The caller owns the returned response (close
    it). Network failures surface as ``requests`` exceptions; the caller maps them.
    """
    allowed = list(allowed_origins)
    for _hop in range(max_redirects + 1):
        check_fetch_url(url, allowed_origins=allowed)
        url = parse_fetch_url(url).url
        if not isinstance(session.get_adapter(url), GuardedAdapter):
            raise TypeError("guarded_get needs a session made by transport.guard_session")
        response = session.get(
            url, headers=dict(headers or {}), timeout=timeout, stream=stream, allow_redirects=False
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
