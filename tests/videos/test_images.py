"""Reference pictures: checked by their bytes, and fitted to the video frame for the provider."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from soraweb.videos.images import fit_image, validate_image


def picture(size, fmt="PNG", color=(250, 0, 0), mode="RGB", exif_orientation=None) -> bytes:
    img = Image.new(mode, size, color)
    buf = io.BytesIO()
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(buf, fmt, exif=exif)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize("mode", ["crop", "pad"])
@pytest.mark.parametrize(
    "fmt,content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_a_fitted_picture_has_exactly_the_frame_size_and_keeps_its_format(mode, fmt, content_type):
    data, ctype = fit_image(picture((1000, 300), fmt), size=(720, 1280), mode=mode)
    img = opened(data)
    assert img.size == (720, 1280)
    assert img.format == fmt and ctype == content_type


def test_crop_fills_the_frame_and_pad_adds_black_bars():
    red_wide = picture((1600, 400))
    cropped = opened(fit_image(red_wide, size=(720, 1280), mode="crop")[0]).convert("RGB")
    padded = opened(fit_image(red_wide, size=(720, 1280), mode="pad")[0]).convert("RGB")
    assert cropped.getpixel((360, 5)) == (250, 0, 0)  # no bars: the picture reaches the top
    assert padded.getpixel((360, 5)) == (0, 0, 0)  # a bar above the picture
    assert padded.getpixel((360, 640))[0] > 200  # the whole picture is in the middle


def test_a_transparent_picture_is_flattened_onto_black():
    data = picture((200, 200), "PNG", color=(0, 0, 0, 0), mode="RGBA")
    img = opened(fit_image(data, size=(1280, 720), mode="pad")[0])
    assert img.mode == "RGB" and img.getpixel((640, 360)) == (0, 0, 0)


def test_a_phone_photo_is_turned_upright_before_fitting():
    # Stored 400x300 but tagged "rotate 90°": it is really a 300x400 portrait photo.
    data = picture((400, 300), "JPEG", exif_orientation=6)
    img = opened(fit_image(data, size=(300, 400), mode="pad")[0]).convert("RGB")
    # Upright, the photo fills a 300x400 frame exactly: no bars at the top.
    assert img.getpixel((150, 2))[0] > 200


def test_an_unknown_fit_mode_is_a_programming_error():
    with pytest.raises(ValueError):
        fit_image(picture((10, 10)), size=(10, 10), mode="stretch")


def test_the_type_comes_from_the_bytes_not_the_name():
    upload = SimpleUploadedFile("photo", picture((40, 30), "JPEG"), content_type="text/plain")
    checked = validate_image(upload)
    assert checked.content_type == "image/jpeg" and (checked.width, checked.height) == (40, 30)
    with pytest.raises(ValidationError, match="not an image"):
        validate_image(SimpleUploadedFile("x.png", b"GIF89a not really", content_type="image/png"))


def test_too_many_pixels_and_too_many_bytes_are_refused(settings):
    settings.SORAWEB_MAX_IMAGE_PIXELS = 10_000
    with pytest.raises(ValidationError, match="megapixels"):
        validate_image(SimpleUploadedFile("big.png", picture((200, 200))))
    settings.SORAWEB_MAX_IMAGE_PIXELS = 40_000_000
    settings.SORAWEB_MAX_IMAGE_BYTES = 100
    with pytest.raises(ValidationError, match="at most"):
        validate_image(SimpleUploadedFile("heavy.png", picture((200, 200))))
