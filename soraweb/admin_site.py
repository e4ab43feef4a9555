"""The admin site, with TOTP two-factor sign-in for staff when SORAWEB_STAFF_2FA is on.

Installed in place of ``django.contrib.admin`` (INSTALLED_APPS names soraweb.admin_apps), so every
``admin.site.register`` in soraweb and in the libraries lands on this site. The setting is read
on each request, not at import, so turning it on needs no code change and tests can switch it.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.urls import reverse
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


# What admins use, in the order they use it. soraweb's other tables follow in their app; the
# libraries' tables and auth groups go in one "Advanced" section at the bottom.
EVERYDAY = {
    "videos": ["VideoJob", "Provider", "VideoModel", "Prompt", "ReferenceImage"],
    "ops": [
        "BudgetPolicy",
        "UserBudget",
        "LedgerEntry",
        "Notice",
        "TeamWebhook",
        "OutgoingDelivery",
    ],
    "auth": ["User"],
}
EVERYDAY_APP_NAMES = {"auth": gettext_lazy("Team accounts")}
# The libraries' tables say what they are for, in the person's language (their own labels are
# English-only or name the library), in this order.
ADVANCED_LABELS = {
    ("auth", "Group"): gettext_lazy("Permission groups"),
    ("django_q", "OrmQ"): gettext_lazy("Background tasks: waiting"),
    ("django_q", "Schedule"): gettext_lazy("Background tasks: scheduled"),
    ("django_q", "Success"): gettext_lazy("Background tasks: done"),
    ("django_q", "Failure"): gettext_lazy("Background tasks: failed"),
    ("axes", "AccessAttempt"): gettext_lazy("Sign-in lockouts (failed attempts)"),
    ("axes", "AccessFailureLog"): gettext_lazy("Sign-in log: wrong passwords"),
    ("axes", "AccessLog"): gettext_lazy("Sign-in log: all sign-ins"),
    ("otp_totp", "TOTPDevice"): gettext_lazy("Two-factor devices (authenticator apps)"),
}
ADVANCED_RANK = {key: i for i, key in enumerate(ADVANCED_LABELS)}


def _is_everyday(app: dict, model: dict) -> bool:
    label = app["app_label"]
    if label in EVERYDAY and label != "auth":
        return True  # a soraweb app: all of its tables, the named ones first
    if label == "auth":
        return model["object_name"] in EVERYDAY["auth"]
    return apps.get_app_config(label).name.startswith("soraweb.")


def _everyday_rank(app: dict, model: dict) -> tuple[int, str]:
    order = EVERYDAY.get(app["app_label"], [])
    name = model["object_name"]
    return (order.index(name) if name in order else len(order), str(model["name"]))


class SorawebAdminSite(AdminSite):
    site_header = gettext_lazy("soraweb admin")
    site_title = gettext_lazy("soraweb admin")
    index_title = gettext_lazy("What would you like to manage?")

    def get_app_list(self, request, app_label=None):
        """soraweb's own tables first, in the order admins use them; the libraries' tables and
        auth groups in one "Advanced" section at the bottom (the index and the sidebar both)."""
        app_dict = self._build_app_dict(request, app_label)
        for app in app_dict.values():
            for model in app["models"]:
                label = ADVANCED_LABELS.get((app["app_label"], model["object_name"]))
                model["name"] = label or model["name"]
        if app_label is not None:  # one app's own page: just its tables
            apps_shown = list(app_dict.values())
            for app in apps_shown:
                app["models"].sort(key=lambda m: _everyday_rank(app, m))
            return apps_shown
        everyday_order = list(EVERYDAY)
        ordered = sorted(
            app_dict.values(),
            key=lambda a: (
                everyday_order.index(a["app_label"])
                if a["app_label"] in everyday_order
                else len(everyday_order),
                str(a["name"]),
            ),
        )
        app_list, advanced = [], []
        for app in ordered:
            mine = [m for m in app["models"] if _is_everyday(app, m)]
            advanced += [
                {**m, "app_label": app["app_label"]}
                for m in app["models"]
                if not _is_everyday(app, m)
            ]
            if mine:
                mine.sort(key=lambda m: _everyday_rank(app, m))
                name = EVERYDAY_APP_NAMES.get(app["app_label"], app["name"])
                app_list.append({**app, "name": name, "models": mine})
        if advanced:
            advanced.sort(
                key=lambda m: (
                    ADVANCED_RANK.get((m["app_label"], m["object_name"]), len(ADVANCED_RANK)),
                    str(m["name"]),
                )
            )
            app_list.append(
                {
                    "name": gettext_lazy("Advanced"),
                    "app_label": "advanced",
                    # Not a page of its own but the index's section; no admin path contains it,
                    # so the sidebar never marks it as the current app.
                    "app_url": reverse("admin:index", current_app=self.name) + "#advanced",
                    "has_module_perms": True,
                    "models": advanced,
                }
            )
        return app_list

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
