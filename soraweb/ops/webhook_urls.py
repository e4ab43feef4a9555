"""Where soraweb may post a team webhook: the address checks, shared by the model's form
validation (``TeamWebhook.clean``) and every delivery attempt. Imports no ops module."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from soraweb.providers import ProviderError
from soraweb.providers.transport import origin_of, parse_fetch_url
from soraweb.providers.urlguard import check_fetch_url

__all__ = [
    "WebhookRefused",
    "allowed_origins",
    "check_url",
    "private_refusal",
    "webhook_url_problem",
]


class WebhookRefused(Exception):
    """The address may not be sent to; trying again would not help."""


def allowed_origins(url: str) -> list[str]:
    """The webhook's own URL when an operator allowed its host (private addresses then pass)."""
    # Parsed the way the HTTP client parses it (urlsplit reads "a:1\@b" as host b, urllib3 as a).
    origin = origin_of(url)
    if origin is None:
        return []
    _scheme, host, port = origin
    allowed = {h.strip().lower() for h in settings.SORAWEB_WEBHOOK_ALLOWED_HOSTS if h.strip()}
    if host in allowed or (port and f"{host}:{port}" in allowed):
        return [url]
    return []


def check_url(url: str) -> None:
    """Raise WebhookRefused for an address soraweb must not post to; ProviderError (transient)
    when its host name cannot be looked up right now."""
    scheme = url.split(":", 1)[0].strip().lower()  # urlsplit can raise on a broken host
    if scheme not in ("http", "https"):
        raise WebhookRefused(_("The webhook address must start with http:// or https://."))
    try:
        parsed = parse_fetch_url(url)
    except ProviderError:
        raise WebhookRefused(
            _(
                "The webhook address is not one soraweb can send to: it must be a plain "
                "http(s) address without spaces, backslashes or a user name."
            )
        ) from None
    try:
        check_fetch_url(url, allowed_origins=allowed_origins(url))
    except ProviderError as exc:
        if not exc.permanent:
            raise
        raise private_refusal(parsed.host) from None


def private_refusal(host: str) -> WebhookRefused:
    return WebhookRefused(
        _(
            "The webhook address %(host)s is on a private or local network, so soraweb will "
            "not send to it. The server's SORAWEB_WEBHOOK_ALLOWED_HOSTS setting can allow it."
        )
        % {"host": host}
    )


def webhook_url_problem(url: str) -> str | None:
    """Why soraweb would refuse to post to ``url``, or None (shown when the webhook is saved)."""
    try:
        check_url(url)
    except WebhookRefused as exc:
        return str(exc)
    except ProviderError:
        return None  # DNS trouble now says nothing about the address itself
    return None
