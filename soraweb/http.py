"""What the middleware in settings.MIDDLEWARE adds to a request, as types for the views.

django-htmx documents this pattern: a view that reads ``request.htmx`` takes an HtmxHttpRequest,
and mypy checks the attribute HtmxMiddleware sets. LoginRequiredMiddleware sends everyone else to
the sign-in page, so a view not marked ``login_not_required`` that needs ``request.user`` to be a
User (a query filter, a foreign key) takes an AuthenticatedHttpRequest.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    user: User
