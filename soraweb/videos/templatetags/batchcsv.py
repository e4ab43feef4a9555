"""The batch report's rejected rows as a CSV download (a data: link: nothing is stored)."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from django import template

register = template.Library()


@register.filter
def rejected_rows_href(rows) -> str:
    """prompt + reason per rejected row; the BOM lets spreadsheet programs read it as UTF-8.
    The reason column is ignored when the file is sent again (soraweb says so)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["prompt", "reason"])
    for outcome in rows:
        writer.writerow([outcome.prompt, " ".join(outcome.errors)])
    return "data:text/csv;charset=utf-8," + quote("\ufeff" + out.getvalue())
