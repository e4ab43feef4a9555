"""django.contrib.admin with soraweb's admin site as ``admin.site`` (see soraweb.admin_site).

A module of its own: INSTALLED_APPS imports it before the app registry is ready, when the site
(which imports auth forms) cannot be imported yet.
"""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "soraweb.admin_site.SorawebAdminSite"
