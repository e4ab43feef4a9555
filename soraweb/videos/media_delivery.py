"""How stored media reaches the browser, per ``SORAWEB_MEDIA_DELIVERY``.

- ``app`` (default): soraweb streams the bytes with Range support (``ranged.py``). On S3 each
  request becomes one ranged GET, so seeking in a long video never downloads the whole file.
- ``redirect`` (S3 only): a 302 to a presigned URL valid ``SORAWEB_MEDIA_URL_SECONDS``; the
  object store answers Range itself and the web workers carry no video bytes. The bucket's
  endpoint must be reachable by the browsers.
- ``accel`` (local media only): an empty response with ``X-Accel-Redirect``; nginx serves the
  file from an ``internal`` location (with Range) after soraweb has checked the login.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header


def is_s3(storage) -> bool:
    return hasattr(storage, "bucket_name") and hasattr(storage, "bucket")


def hand_off(
    fieldfile, *, content_type: str, filename: str | None, attachment: bool
) -> HttpResponse | None:
    """A response that lets someone else send the bytes, or None to stream them ourselves."""
    mode = settings.SORAWEB_MEDIA_DELIVERY
    storage = fieldfile.storage
    disposition = content_disposition_header(attachment, filename) if filename else None
    if mode == "redirect" and is_s3(storage):
        params = {"ResponseContentType": content_type}
        if disposition:
            params["ResponseContentDisposition"] = disposition
        seconds = settings.SORAWEB_MEDIA_URL_SECONDS
        redirect = HttpResponseRedirect(
            storage.url(fieldfile.name, parameters=params, expire=seconds)
        )
        # A player re-requests while seeking; a cached redirect must not outlive its signature.
        redirect["Cache-Control"] = f"private, max-age={max(0, min(60, seconds // 2))}"
        return redirect
    if mode == "accel" and isinstance(storage, FileSystemStorage):
        response = HttpResponse(content_type=content_type)
        prefix = settings.SORAWEB_MEDIA_ACCEL_PREFIX.rstrip("/") + "/"
        response["X-Accel-Redirect"] = prefix + quote(fieldfile.name)
        response["Cache-Control"] = "private, max-age=3600"
        if disposition:
            response["Content-Disposition"] = disposition
        return response
    return None


def open_for_reading(fieldfile):
    """A readable, seekable file for streaming; on S3 it fetches only the bytes asked for."""
    if is_s3(fieldfile.storage):
        return S3RangeReader(fieldfile.storage.open(fieldfile.name, "rb"))
    return fieldfile.open("rb")


class S3RangeReader:
    """Reads an S3 object from the current position with one ranged GET, streamed.

    django-storages' own file object downloads the whole object before the first byte can be
    sent; this one starts a ``Range: bytes=<pos>-`` request on the first read after a seek and
    closes it (dropping the rest) when the response is done.
    """

    def __init__(self, s3file) -> None:
        self._s3file = s3file
        self._obj = s3file.obj  # loaded by a HEAD when the file was opened
        self.name = s3file.name
        self.size = self._obj.content_length
        self._pos = 0
        self._body: Any = None  # botocore's StreamingBody of the open ranged GET (boto3 is untyped)

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size}[whence]
        position = max(0, base + offset)
        if position != self._pos:
            self._drop_body()
            self._pos = position
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if self._pos >= self.size or size == 0:
            return b""
        if self._body is None:
            self._body = self._obj.get(Range=f"bytes={self._pos}-")["Body"]
        data = self._body.read(None if size is None or size < 0 else size)
        self._pos += len(data)
        return data

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop_body()
        self._s3file.close()

    def __enter__(self) -> S3RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
