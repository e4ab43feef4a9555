from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from soraweb.accounts import PasswordChangeView, two_factor
from soraweb.health import healthz
from soraweb.zones import time_zone_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Members change their own password here, in the site's layout (the admin keeps its own).
    path("accounts/password/", PasswordChangeView.as_view(), name="password_change"),
    path("accounts/two-factor/", two_factor, name="two_factor"),
    path("accounts/time-zone/", time_zone_view, name="time_zone"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("soraweb.ops.urls")),
    path("", include("soraweb.ops.notice_urls")),
    path("", include("soraweb.videos.urls")),
]
