"""Refuse NUL characters in addresses and query strings with a clear 400, before any view.

PostgreSQL cannot store or even compare a text containing NUL (U+0000): the driver raises and the
person gets a server error. Posted forms are covered where they are read: Django's form
CharFields refuse NUL with a form error next to the field (kept that way, so an htmx form shows
its error instead of a bare 400), and the few values read outside a form are checked there. Query
strings are read all over (the gallery's filters, the admin's search boxes and list filters)
and mostly not through a form, so one check here covers them all, on every backend.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

NUL = "\x00"


def _has_nul(query) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in query.lists())


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        # Signed webhooks read the raw body themselves and answer in JSON; leave them alone.
        if getattr(view_func, "csrf_exempt", False):
            return None
        if NUL in request.path or _has_nul(request.GET):
            return _refuse()
        return None


def _refuse() -> HttpResponse:
    return HttpResponse(
        _(
            "This address contains a NUL character, which soraweb cannot accept. Remove it "
            "(it often comes from copying out of another program) and try again."
        ),
        status=400,
        content_type="text/plain; charset=utf-8",
    )
