"""Response headers Django's SecurityMiddleware does not send: Content-Security-Policy and
Permissions-Policy.

The policy allows only this origin. Scripts come from static files (htmx is vendored by
django-htmx, no inline script anywhere); styles allow inline attributes because the job card
draws its progress bar with ``style="width: N%"`` and htmx adds its indicator style element.
With ``SORAWEB_MEDIA_DELIVERY=redirect`` the browser fetches videos and posters from the S3
endpoint, so that origin is added to ``media-src`` and ``img-src``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def csp_policy(*, media_origins: Iterable[str] = ()) -> str:
    extra = " ".join(media_origins)
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": f"'self' data: blob: {extra}".strip(),
        "media-src": f"'self' blob: {extra}".strip(),
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def s3_origins(endpoint_url: str, bucket: str) -> tuple[str, ...]:
    """Where presigned media URLs point: the custom endpoint (path or virtual-host style), or AWS."""
    if not bucket:
        return ()
    if not endpoint_url:
        return ("https://*.amazonaws.com",)
    parts = urlsplit(endpoint_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return (origin, f"{parts.scheme}://{bucket}.{parts.netloc}")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.SORAWEB_CSP

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
