"""Signing in: login throttling (django-axes), the client address it counts, idle sessions.

Wired up in settings (AUTHENTICATION_BACKENDS, AXES_*, MIDDLEWARE); see README "Security".
"""

from __future__ import annotations

import ipaddress
import math
import time
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses every sign-in for a locked-out username and address, the right password included.

    Every sign-in from outside comes through a view that passes the request (the site's and the
    admin's login forms). A call without one is code running on the server itself (the shell,
    management commands, the test client's ``login()``); there is no address to count, so it is
    left to the next backend instead of failing with axes' "request required" error.
    """

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _forwarded_by_trusted_proxy(remote_addr: str) -> bool:
    allowed = settings.SORAWEB_FORWARDED_ALLOW_IPS
    return "*" in allowed or remote_addr in allowed


def client_ip(request: HttpRequest) -> str:
    """The address failed sign-ins are counted against (``AXES_CLIENT_IP_CALLABLE``).

    Behind ``SORAWEB_TRUSTED_PROXY_COUNT`` proxies, each of which appends the address it saw to
    X-Forwarded-For, the client's address is that many entries from the right: whatever a client
    writes into the header itself stays on the left and is never believed. The header is read
    only when the connection comes from an address in ``SORAWEB_FORWARDED_ALLOW_IPS`` (the same
    list gunicorn takes the scheme from); otherwise the connecting address counts.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.SORAWEB_TRUSTED_PROXY_COUNT
    if count <= 0 or not _forwarded_by_trusted_proxy(remote):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [h for h in hops if h]
    if len(hops) < count:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:  # garbage where the proxy should have written an address
        return remote


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """The page shown instead of signing in while locked out (``AXES_LOCKOUT_CALLABLE``).

    Each refused attempt restarts the cool-off (axes' default), so "from now" is accurate.
    """
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    context = {
        "minutes": max(1, math.ceil(cool_off.total_seconds() / 60)),
        "retry_at": timezone.now() + cool_off,
    }
    return render(request, "registration/locked_out.html", context, status=429)


# --- Idle sessions --------------------------------------------------------------------------------

LAST_SEEN_KEY = "soraweb_last_seen"
# The session is written at most this often just to note activity (not on every request).
_TOUCH_SECONDS = 60


def _is_background_poll(request: HttpRequest) -> bool:
    # Open pages poll job cards and the notice bell with htmx GETs; those are not a person at
    # the keyboard, so they must not keep an abandoned session alive.
    # The live stream (an EventSource, which sends no HX-Request) is one of them.
    return request.method == "GET" and (
        request.headers.get("HX-Request") == "true"
        or request.headers.get("Accept") == "text/event-stream"
    )


def note_sign_in(sender, request, user, **kwargs) -> None:
    """Signing in is activity: the session starts with its timestamp (no extra write later)."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN_KEY] = time.time()


class IdleTimeoutMiddleware:
    """Signs out a session that has seen no activity for ``SORAWEB_SESSION_IDLE_MINUTES``.

    Placed after AuthenticationMiddleware; LoginRequiredMiddleware then sends the now anonymous
    visitor to the sign-in page, which says why.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        idle_seconds = settings.SORAWEB_SESSION_IDLE_MINUTES * 60
        if idle_seconds > 0 and request.user.is_authenticated:
            now = time.time()
            last = request.session.get(LAST_SEEN_KEY)
            if last is not None and now - last > idle_seconds:
                logout(request)
                messages.info(
                    request,
                    _("You were signed out after %(minutes)d minutes without activity.")
                    % {"minutes": settings.SORAWEB_SESSION_IDLE_MINUTES},
                )
            elif last is None or (now - last > _TOUCH_SECONDS and not _is_background_poll(request)):
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


def mark_seen_at_login(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """Start the idle clock at sign-in, inside the session save that signing in makes anyway,
    so the first page after it does not write the session once more."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN_KEY] = time.time()


# --- Changing one's own password ------------------------------------------------------------------


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    """Members change their own password in the site's layout; AUTH_PASSWORD_VALIDATORS apply.

    Its own template name: "registration/password_change_form.html" is the admin's page too.
    Django keeps this session signed in and ends the person's other sessions.
    """

    template_name = "registration/site_password_change.html"
    success_url = reverse_lazy("videos:studio")
    success_message = gettext_lazy("Your password was changed.")


# --- Two-factor enrolment for staff (django-otp TOTP) ---------------------------------------------


def _qr_svg(data: str) -> str:
    """An inline SVG QR code, drawn here: no script, no image from elsewhere (CSP allows both)."""
    import re

    import qrcode
    from qrcode.image.svg import SvgPathImage

    svg = qrcode.make(data, image_factory=SvgPathImage, border=2).to_string(encoding="unicode")
    svg = re.sub(r'width="[^"]*" height="[^"]*"', 'width="220" height="220"', svg, count=1)
    return svg.replace("<svg ", '<svg role="img" aria-labelledby="qr-label" ', 1)


def two_factor(request: HttpRequest) -> HttpResponse:
    """Staff set up a TOTP authenticator app: scan the code, type the six digits it shows."""
    import base64

    from django.core.exceptions import PermissionDenied
    from django.shortcuts import redirect
    from django.utils.safestring import mark_safe
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    # is_staff is the right test here: this is about signing in to the admin site.
    if not request.user.is_staff:
        raise PermissionDenied(_("Two-factor sign-in is for administrators' accounts."))
    devices = TOTPDevice.objects.filter(user=request.user)
    if devices.filter(confirmed=True).exists():
        return render(request, "registration/two_factor.html", {"enrolled": True})
    device = devices.filter(confirmed=False).first() or TOTPDevice.objects.create(
        user=request.user, name=_("Authenticator app"), confirmed=False
    )
    error = ""
    if request.method == "POST":
        token = "".join(request.POST.get("token", "").split())
        if token.isdigit() and device.verify_token(token):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)  # this session counts as verified from now on
            messages.success(request, _("Two-factor sign-in is on for your account."))
            return redirect("two_factor")
        error = _(
            "That code is not right. Type the six digits your app shows now; "
            "if it keeps failing, check that your phone's clock is set automatically."
        )
    context = {
        "enrolled": False,
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308 - drawn by qrcode from our own data
        "secret": base64.b32encode(device.bin_key).decode(),
        "error": error,
    }
    return render(request, "registration/two_factor.html", context, status=400 if error else 200)
