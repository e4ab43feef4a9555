"""django.contrib.admin with soraweb's admin site as ``admin.site`` (see soraweb.admin_site).

A module of its own: INSTALLED_APPS imports it before the app registry is ready, when the site
(which imports auth forms) cannot be imported yet.
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "soraweb.admin_site.SorawebAdminSite"

    def ready(self) -> None:
        super().ready()
        # soraweb's sign-in hooks live with the rest of its sign-in code (soraweb.accounts);
        # this is the app config soraweb owns that is loaded before any request.
        from django.contrib.auth.signals import user_logged_in

        from soraweb.accounts import note_sign_in

        user_logged_in.connect(note_sign_in, dispatch_uid="soraweb-note-sign-in")
