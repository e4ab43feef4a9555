"""Serve a stored file with HTTP Range support, so browsers can seek in videos (206)."""

from __future__ import annotations

import re

from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header

from soraweb.videos import media_delivery

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _iter_range(fh, start: int, length: int):
    try:
        fh.seek(start)
        remaining = length
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


def ranged_file_response(
    request, fieldfile, *, content_type: str, filename: str | None = None, attachment: bool = False
) -> HttpResponseBase:
    handed_off = media_delivery.hand_off(
        fieldfile, content_type=content_type, filename=filename, attachment=attachment
    )
    if handed_off is not None:  # nginx (X-Accel-Redirect) or the object store sends the bytes
        return handed_off
    try:
        size = fieldfile.size
    except (FileNotFoundError, OSError):
        # The row names a file the storage no longer has (deleted by hand, lost volume).
        raise Http404("The file is missing from storage.") from None
    header = request.headers.get("Range", "").strip()
    match = RANGE_RE.match(header) if header else None
    if not match or (not match.group(1) and not match.group(2)):
        whole = FileResponse(
            media_delivery.open_for_reading(fieldfile),
            content_type=content_type,
            as_attachment=attachment,
            filename=filename or "",  # FileResponse's own default: the file's name
        )
        whole["Accept-Ranges"] = "bytes"
        whole["Cache-Control"] = "private, max-age=3600"
        return whole
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:  # "bytes=-N": the last N bytes
        start = max(0, size - int(last))
        end = size - 1
    if start >= size or start > end:
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    length = end - start + 1
    response = StreamingHttpResponse(
        _iter_range(media_delivery.open_for_reading(fieldfile), start, length),
        status=206,
        content_type=content_type,
    )
    response["Content-Length"] = str(length)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    # RFC 6266: a plain filename when it is ASCII, else filename*=utf-8'' (Chinese prompts).
    disposition = content_disposition_header(attachment, filename) if filename else None
    if disposition:
        response["Content-Disposition"] = disposition
    return response
