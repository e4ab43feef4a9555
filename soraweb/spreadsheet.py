"""CSV downloads a spreadsheet opens as the person means them (the spend report, the gallery).

UTF-8 with a byte-order mark, so Excel reads Chinese names; and whatever a person typed (a name,
a prompt) goes through ``text_cell``, so a spreadsheet shows it as text instead of running it.
"""

from __future__ import annotations

import csv
from typing import Any

from django.http import HttpResponse


def csv_download(filename: str) -> tuple[HttpResponse, Any]:
    """A response that downloads as ``filename``, and the csv writer that fills it."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    return response, csv.writer(response)


def text_cell(text: str) -> str:
    """A spreadsheet must not run what a person typed: a leading = + - @ is shown as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
