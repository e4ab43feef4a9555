"""The project's URLs plus one view that breaks, to see the 500 page as people would."""

from __future__ import annotations

from django.urls import path

from soraweb.urls import urlpatterns as project_urls


def broken(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("broken/", broken), *project_urls]
