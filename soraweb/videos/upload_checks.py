"""Checks on an image's bytes beyond "Pillow can open it": hidden payloads and honest names.

A polyglot is a file that is a valid image *and* something else (an archive, a web page, a
script). Browsers and other tools may treat such a file as the other thing, so we refuse any
bytes after the image's own end, and markup or archive signatures anywhere inside it.
"""

from __future__ import annotations

import os
import struct

EXTENSIONS = {
    "PNG": {".png"},
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "WEBP": {".webp"},
}
# Byte patterns that have no business inside a picture.
SIGNATURES = (
    b"<script",
    b"<html",
    b"<svg",
    b"<?php",
    b"<?xml",
    b"<!doctype",
    b"<iframe",
    b"javascript:",
    b"PK\x03\x04",
)


def extension_matches(name: str, fmt: str) -> bool:
    ext = os.path.splitext(name)[1].lower()
    return not ext or ext in EXTENSIONS.get(fmt, set())


def _png_end(data: bytes) -> int | None:
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos
    return None


def _jpeg_end(data: bytes) -> int | None:
    end = data.rfind(b"\xff\xd9")
    return end + 2 if end >= 0 else None


def _webp_end(data: bytes) -> int | None:
    if len(data) < 12 or data[:4] != b"RIFF":
        return None
    (size,) = struct.unpack("<I", data[4:8])
    return 8 + size + (size & 1)


def hidden_content(data: bytes, fmt: str) -> str | None:
    """Why these bytes carry more than a picture, or None when they are clean."""
    end = {"PNG": _png_end, "JPEG": _jpeg_end, "WEBP": _webp_end}[fmt](data)
    if end is None:
        return "the image has no proper end"
    if data[end:].strip(b"\0"):
        return f"{len(data) - end} extra bytes follow the image"
    lowered = data.lower()
    for signature in SIGNATURES:
        if signature.lower() in lowered:
            return "the image contains embedded markup or an archive"
    return None
