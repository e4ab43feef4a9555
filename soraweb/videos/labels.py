"""Words people read for the catalogue's tokens (services and forms both speak them)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

ORIENTATION_LABELS = {
    "portrait": gettext_lazy("Portrait (tall)"),
    "landscape": gettext_lazy("Landscape (wide)"),
}
SIZE_LABELS = {"small": gettext_lazy("Small (720p)"), "large": gettext_lazy("Large (1080p)")}


def size_label(token: str) -> str:
    return str(SIZE_LABELS.get(token, token))


def orientation_label(token: str) -> str:
    return str(ORIENTATION_LABELS.get(token, token))
