"""Times in the viewer's time zone.

Each person has a time zone (``videos.Preferences.time_zone``). Their browser tells it on the
first visit: ``static/js/timezone.js`` puts ``Intl.DateTimeFormat().resolvedOptions().timeZone``
in a cookie (a static file, so the CSP's ``script-src 'self'`` holds), and the first signed-in
request that carries it while the person has none stored keeps it. After that the stored zone
wins over the browser; the person changes it on the time zone page (link in every page's footer).
Anonymous pages, and people whose browser never said, use the installation's default,
``SORAWEB_TIME_ZONE`` (``TIME_ZONE``).

Budgets are the team's: their days and months run on the installation's zone for everyone
(soraweb.ops.selectors.periods), and each viewer reads the moment they reset in their own zone.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from datetime import datetime
from urllib.parse import unquote

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

COOKIE_NAME = "soraweb_tz"
# Names zoneinfo knows that are not places a person lives in.
_NOT_ZONES = frozenset({"Factory", "localtime"})


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def valid_zone(name: str | None) -> str | None:
    """``name`` if it is an IANA time zone this machine knows, else None."""
    name = (name or "").strip()
    return name if name in _known() else None


@functools.cache
def zone_choices() -> tuple[str, ...]:
    """The zones a person picks from: places (Region/City) and UTC, not the legacy aliases."""
    legacy = (
        "Etc/",
        "SystemV/",
        "US/",
        "posix",
        "right/",
        "Canada/",
        "Brazil/",
        "Chile/",
        "Mexico/",
    )
    places = sorted(z for z in _known() if "/" in z and not z.startswith(legacy))
    return ("UTC", *places)


def zone_label() -> str:
    """The current zone as people read it next to a time: its name ("Asia/Shanghai", "UTC")."""
    return str(timezone.get_current_timezone())


def local_time(when: datetime) -> str:
    """``when`` as a clock time in the current zone, e.g. "08:00"."""
    return timezone.localtime(when).strftime("%H:%M")


# --- where a person's zone comes from -------------------------------------------------------------


def _stored(user) -> tuple[str | None, str] | None:
    """(valid stored zone or None, stored language), or None when the person has no row yet."""
    from soraweb.videos.models import Preferences

    row = Preferences.objects.filter(user=user).values_list("time_zone", "language").first()
    return None if row is None else (valid_zone(row[0]), row[1])


def stored_zone(user) -> str | None:
    row = _stored(user)
    return row[0] if row else None


def language_for(user) -> str:
    """The language to write to ``user`` in outside a request (their pages' last language)."""
    from django.conf import settings

    from soraweb.videos.models import Preferences

    value = Preferences.objects.filter(user=user).values_list("language", flat=True).first()
    known = {code for code, _name in settings.LANGUAGES}
    return value if value and value in known else str(settings.LANGUAGE_CODE)


def browser_zone(request: HttpRequest) -> str | None:
    return valid_zone(unquote(request.COOKIES.get(COOKIE_NAME, "")))


def zone_set(*, user, name: str) -> None:
    from soraweb.videos.models import Preferences

    Preferences.objects.update_or_create(user=user, defaults={"time_zone": name})


def zone_for(request: HttpRequest) -> str | None:
    """The zone this request's pages show times in; None for the installation's default.

    Also remembers the language the page is shown in (one write when it changes, none else).
    """
    from django.utils import translation

    from soraweb.videos.models import Preferences

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    language = translation.get_language() or ""
    row = _stored(user)
    stored, stored_language = row if row else (None, None)
    detected = None if stored else browser_zone(request)
    changes = {}
    if detected:  # the first visit that brings the browser's answer
        changes["time_zone"] = detected
    if language != stored_language:
        changes["language"] = language
    if changes:
        if row is None:  # a second tab racing us changes nothing
            Preferences.objects.get_or_create(user=user, defaults=changes)
        else:
            Preferences.objects.filter(user=user).update(**changes)
    return stored or detected


class TimeZoneMiddleware:
    """Activates the person's zone for the request (after AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = zone_for(request)
        if name:
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# --- the page where a person changes it -----------------------------------------------------------


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"),
        help_text=gettext_lazy("Every date and time on soraweb is shown in this zone."),
    )

    def __init__(self, *args, current: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = list(zone_choices())
        if current and current not in names:  # an alias a browser reported, e.g. Asia/Calcutta
            names.insert(0, current)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(n, n.replace("_", " ")) for n in names]

    def clean_time_zone(self) -> str:
        name = valid_zone(self.cleaned_data["time_zone"])
        if not name:
            raise forms.ValidationError(_("Choose a time zone from the list."))
        return name


def time_zone_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    current = str(timezone.get_current_timezone())
    form = TimeZoneForm(
        request.POST if request.method == "POST" else None,
        current=current,
        initial={"time_zone": current},
    )
    if form.is_valid():
        name = form.cleaned_data["time_zone"]
        zone_set(user=request.user, name=name)
        timezone.activate(zoneinfo.ZoneInfo(name))
        messages.success(
            request,
            _("Times are now shown in %(zone)s. It is %(time)s there.")
            % {"zone": name, "time": local_time(timezone.now())},
        )
        return redirect("time_zone")
    context = {
        "form": form,
        "current": current,
        "now_here": local_time(timezone.now()),
        "browser": browser_zone(request),
        "default": str(timezone.get_default_timezone()),
    }
    return render(
        request, "registration/time_zone.html", context, status=400 if form.errors else 200
    )
