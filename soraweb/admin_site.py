"""The admin site, with TOTP two-factor sign-in for staff when SORAWEB_STAFF_2FA is on.

Installed in place of ``django.contrib.admin`` (INSTALLED_APPS names soraweb.admin_apps), so every
``admin.site.register`` in soraweb and in the libraries lands on this site. The setting is read
on each request, not at import, so turning it on needs no code change and tests can switch it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.utils.translation import gettext_lazy
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm


class StaffCodeAuthenticationForm(OTPAdminAuthenticationForm):
    """The admin's sign-in form with the code from the person's authenticator app.

    soraweb offers one kind of device (TOTP, enrolled at /accounts/two-factor/), so the form
    uses the person's device without making them pick it from a list first; django-otp itself
    refuses to guess among several devices, and so does this form.
    """

    otp_error_messages = dict(
        OTPAdminAuthenticationForm.otp_error_messages,
        token_required=gettext_lazy(
            "Type the six-digit code from your authenticator app. Not set up yet? Sign in on "
            "the site and open Password, then Two-factor sign-in."
        ),
        invalid_token=gettext_lazy(
            "That code is not right. Type the six digits your app shows now."
        ),
        device_required=gettext_lazy(
            "Type the six-digit code from your authenticator app. Not set up yet? Sign in on "
            "the site and open Password, then Two-factor sign-in."
        ),
        verification_not_allowed=gettext_lazy("Too many wrong codes. Wait a minute and try again."),
    )

    def _chosen_device(self, user):
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user, confirmed=True, for_verify=True))
            if len(devices) == 1:
                device = devices[0]
        return device


class SorawebAdminSite(AdminSite):
    # AdminSite declares these as plain attributes; Django only reads them, and a property reads
    # the setting on each sign-in (tests switch it), so mypy's "writeable attribute" does not apply.
    @property
    def login_form(self):  # type: ignore[override]
        # Asks for the code from the person's authenticator app next to the password.
        if settings.SORAWEB_STAFF_2FA:
            return StaffCodeAuthenticationForm
        return AdminAuthenticationForm

    @property
    def login_template(self):  # type: ignore[override]  # as login_form above
        if settings.SORAWEB_STAFF_2FA:
            return "registration/admin_two_factor_login.html"
        return None

    def has_permission(self, request) -> bool:
        # A session signed in on the site with a password alone is not verified: the admin
        # sends it to its own sign-in page, which asks for the code.
        allowed = super().has_permission(request)
        if allowed and settings.SORAWEB_STAFF_2FA:
            return request.user.is_verified()
        return allowed
