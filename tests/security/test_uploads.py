"""Hostile and broken uploads are refused with a message the uploader can act on; nothing is stored."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from soraweb.videos.models import ReferenceImage, VideoJob
from tests.conftest import form_data

pytestmark = pytest.mark.django_db


def png(size=(64, 64), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def bomb() -> bytes:
    """A small PNG that claims a huge pixel count (mostly one colour, so it compresses tiny)."""
    buf = io.BytesIO()
    Image.new("1", (12000, 12000), 0).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def zipped_png() -> bytes:
    """A PNG with a ZIP archive appended: opens as an image, unzips as an archive."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("evil.html", "<script>alert(1)</script>")
    return png() + archive.getvalue()


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
HTML_IN_JPEG_COMMENT = jpeg()[:2] + b"\xff\xfe\x00\x1e<script>alert(1)</script>xxxx" + jpeg()[2:]

CASES = {
    "text file": ("notes.png", b"just some text, not an image at all", "not an image"),
    "svg": ("logo.svg", SVG, "not an image"),
    "svg named png": ("logo.png", SVG, "not an image"),
    "zero bytes": ("empty.png", b"", "is empty"),
    "decompression bomb": ("huge.png", None, "pixels"),
    "png+zip polyglot": ("poly.png", None, "hidden content"),
    "html inside a jpeg": ("poly.jpg", HTML_IN_JPEG_COMMENT, "hidden content"),
    "png named jpg": ("photo.jpg", None, "extension"),
    "jpeg named webp": ("photo.webp", jpeg(), "extension"),
}


def post(client, filename: str, data: bytes):
    form = form_data(
        prompt="upload test",
        orientation="portrait",
        images=SimpleUploadedFile(filename, data, content_type="image/png"),
    )
    return client.post(reverse("videos:studio"), form, HTTP_HX_REQUEST="true")


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "references"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_upload_is_refused_clearly_and_nothing_is_stored(client, member, case):
    filename, data, expected = CASES[case]
    if data is None:
        data = {"decompression bomb": bomb, "png+zip polyglot": zipped_png, "png named jpg": png}[
            case
        ]()
    client.force_login(member)
    before = stored_files()
    response = post(client, filename, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "field-error" in html and expected in html, html[
        html.find("field-error") - 200 : html.find("field-error") + 400
    ]
    assert filename in html  # the message names the file, so the person knows which one
    assert ReferenceImage.objects.count() == 0
    assert VideoJob.objects.count() == 0
    assert stored_files() == before


def test_an_oversized_file_is_refused_before_it_is_read(client, member, settings):
    settings.SORAWEB_MAX_IMAGE_BYTES = 50_000
    client.force_login(member)
    response = post(client, "big.png", png((1200, 1200)) + b"\0" * 60_000)
    html = response.content.decode()
    assert "big.png" in html and "at most" in html
    assert ReferenceImage.objects.count() == 0


def test_a_good_image_is_accepted(client, member, django_capture_on_commit_callbacks):
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, "good.png", png())
    assert response.status_code == 200
    assert ReferenceImage.objects.count() == 1
    assert VideoJob.objects.get().images.count() == 1
