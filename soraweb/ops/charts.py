"""Small charts drawn on the server as inline SVG: no scripts, no external files.

Each chart is an ``<svg role="img">`` with a title and a text description, and every bar carries
its value as text, so the numbers can be read without seeing the picture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

# Colours from static/css/app.css, as SVG attributes (a Content-Security-Policy that forbids
# inline styles does not apply to presentation attributes).
ACCENT = "#5a4bf0"
TONES = {
    "ok": "#2f9e6b",
    "bad": "#d04a5e",
    "warn": "#d49a1b",
    "busy": "#6a78d8",
    "muted": "#9aa0b4",
    "accent": ACCENT,
}
TEXT = "#1b1d2a"
MUTED = "#5d6275"
GRID = "#e2e5ee"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    tone: str = "accent"
    note: str = ""  # shown instead of the formatted value when given


def _plain(value: float) -> str:
    return f"{value:g}"


def _nice_max(value: float) -> float:
    """A round number at or above ``value`` for the top of an axis."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value:
            return float(top)
    return float(10 * magnitude)


def _svg(width: int, height: int, title: str, desc: str, body: list[str], css: str) -> SafeString:
    ident = "chart-" + hashlib.sha1(f"{title}|{desc}".encode()).hexdigest()[:10]  # noqa: S324
    head = format_html(
        '<svg class="{}" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-labelledby="{}-t {}-d" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{}-t">{}</title><desc id="{}-d">{}</desc>',
        css,
        width,
        height,
        ident,
        ident,
        ident,
        title,
        ident,
        desc,
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 - every part is escaped above


def column_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    fmt: Callable[[float], str] = _plain,
    width: int = 720,
    height: int = 240,
    label_every: int = 1,
    limit: float | None = None,
    limit_label: str = "",
) -> SafeString:
    """Vertical bars over time (one per day, say), with an optional dashed limit line."""
    left, right, top, bottom = 56, 12, 18, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([b.value for b in bars] + [limit or 0, 0])
    axis_max = _nice_max(peak)
    desc = "; ".join(f"{b.label}: {b.note or fmt(b.value)}" for b in bars) or "no data"
    parts: list[str] = []
    for i in range(5):
        value = axis_max * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1"/>'
                '<text x="{}" y="{}" font-size="11" text-anchor="end" fill="{}">{}</text>',
                left,
                width - right,
                f"{y:.1f}",
                f"{y:.1f}",
                GRID,
                left - 6,
                f"{y + 4:.1f}",
                MUTED,
                fmt(value),
            )
        )
    n = max(1, len(bars))
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7)
    for i, bar in enumerate(bars):
        h = plot_h * (bar.value / axis_max) if axis_max else 0
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h - h
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}">'
                "<title>{}: {}</title></rect>",
                f"{x:.1f}",
                f"{y:.1f}",
                f"{bar_w:.1f}",
                f"{h:.1f}",
                TONES.get(bar.tone, ACCENT),
                bar.label,
                bar.note or fmt(bar.value),
            )
        )
        if i % label_every == 0 or i == n - 1:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="{}">{}</text>',
                    f"{x + bar_w / 2:.1f}",
                    height - bottom + 16,
                    MUTED,
                    bar.label,
                )
            )
    if limit:
        y = top + plot_h - plot_h * (limit / axis_max)
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="1.5" '
                'stroke-dasharray="6 4"/><text x="{}" y="{}" font-size="11" text-anchor="end" '
                'fill="{}">{}</text>',
                left,
                width - right,
                f"{y:.1f}",
                f"{y:.1f}",
                TONES["bad"],
                width - right,
                f"{y - 4:.1f}",
                TONES["bad"],
                limit_label,
            )
        )
    return _svg(width, height, title, desc, parts, "chart chart-columns")


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    fmt: Callable[[float], str] = _plain,
    width: int = 560,
    row: int = 28,
    label_width: int = 230,
) -> SafeString:
    """Horizontal bars, one per category, each labelled with its value."""
    height = max(1, len(bars)) * row + 8
    value_w = 70
    plot_w = width - label_width - value_w
    peak = max([b.value for b in bars] + [0])
    desc = "; ".join(f"{b.label}: {b.note or fmt(b.value)}" for b in bars) or "no data"
    parts: list[str] = []
    for i, bar in enumerate(bars):
        y = 4 + i * row
        w = plot_w * (bar.value / peak) if peak else 0
        label = bar.label if len(bar.label) <= 34 else bar.label[:33] + "…"
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="12" text-anchor="end" fill="{}">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" rx="3" fill="{}">'
                "<title>{}: {}</title></rect>"
                '<text x="{}" y="{}" font-size="12" fill="{}">{}</text>',
                label_width - 8,
                y + row / 2 + 4,
                TEXT,
                label,
                label_width,
                y + 4,
                f"{max(w, 1.5):.1f}",
                row - 8,
                TONES.get(bar.tone, ACCENT),
                bar.label,
                bar.note or fmt(bar.value),
                f"{label_width + max(w, 1.5) + 6:.1f}",
                y + row / 2 + 4,
                TEXT,
                bar.note or fmt(bar.value),
            )
        )
    return _svg(width, height, title, desc, parts, "chart chart-bars")
