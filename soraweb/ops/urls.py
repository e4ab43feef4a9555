"""Staff-only operations pages (the notices everyone gets are in notice_urls)."""

from __future__ import annotations

from django.urls import path

from soraweb.ops import views

app_name = "ops"

urlpatterns = [
    path("ops/", views.dashboard, name="dashboard"),
    path("ops/spend/", views.spend_report, name="spend"),
    path("ops/spend.csv", views.spend_csv, name="spend_csv"),
]
