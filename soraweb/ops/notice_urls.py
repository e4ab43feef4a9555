"""Notices are for everyone, so they live apart from the staff-only "ops" pages."""

from __future__ import annotations

from django.urls import path

from soraweb.ops import views

app_name = "notices"

urlpatterns = [
    path("notices/", views.notices, name="list"),
    path("notices/read/", views.notices_read, name="read"),
    path("notices/bell/", views.notice_bell, name="bell"),
]
