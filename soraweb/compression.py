"""Compression: gzip for HTML (and other text answers), never for videos or downloads; and the
static files' storage (hashed, precompressed).

Django's GZipMiddleware would also compress streamed files, which drops their Content-Length
and breaks Range requests for the video player; static files come precompressed from whitenoise.
So only whole (non-streaming) text answers are compressed here. Django's gzip output carries its
BREACH mitigation (random bytes in the header), which matters as pages hold CSRF tokens.
"""

from __future__ import annotations

from django.middleware.gzip import GZipMiddleware
from whitenoise.storage import CompressedManifestStaticFilesStorage

COMPRESSIBLE = ("text/html", "text/csv", "text/plain", "application/json")


class TextGZipMiddleware(GZipMiddleware):
    def process_response(self, request, response):
        if response.streaming:
            return response
        content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in COMPRESSIBLE:
            return response
        return super().process_response(request, response)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's hashed, precompressed storage, as in production. Until collectstatic has run
    (a bare dev server, a benchmark), there is no manifest at all: plain names are used then,
    served from the source folders, instead of every page failing. Once a manifest exists, a
    file missing from it is an error, as it would be in production."""

    def stored_name(self, name):
        if not self.hashed_files:
            return name
        return super().stored_name(name)
