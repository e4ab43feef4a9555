"""Reference image validation: the type is decided by the content, never by the file name."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from soraweb.videos import upload_checks

ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ValidatedImage:
    name: str
    content_type: str
    data: bytes
    width: int
    height: int


def validate_image(upload) -> ValidatedImage:
    """Check one uploaded file; raise ValidationError with a message the uploader can act on."""
    name = getattr(upload, "name", "") or "image"
    size = getattr(upload, "size", None)
    limit = settings.SORAWEB_MAX_IMAGE_BYTES
    if size is not None and size > limit:
        raise ValidationError(
            _("“%(name)s” is %(size)s; images can be at most %(limit)s.")
            % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(limit)}
        )
    data = upload.read(limit + 1)
    if not data:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name})
    if len(data) > limit:
        raise ValidationError(
            _("“%(name)s” is larger than %(limit)s.")
            % {"name": name, "limit": filesizeformat(limit)}
        )
    max_pixels = settings.SORAWEB_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format
                width, height = img.size
                if fmt not in ALLOWED_FORMATS:
                    raise ValidationError(
                        _("“%(name)s” is not a PNG, JPEG or WebP image.") % {"name": name}
                    )
                if width * height > max_pixels:
                    raise ValidationError(
                        _(
                            "“%(name)s” is %(w)d×%(h)d pixels; images can have at most %(mp)d megapixels."
                        )
                        % {"name": name, "w": width, "h": height, "mp": max_pixels // 1_000_000}
                    )
                img.verify()
            # verify() leaves the image unusable; decode it fully once to catch truncated data.
            with Image.open(io.BytesIO(data)) as img:
                img.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValidationError(
            _("“%(name)s” has too many pixels to be processed safely.") % {"name": name}
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            _("“%(name)s” is not an image soraweb can read (PNG, JPEG or WebP).") % {"name": name}
        ) from None
    if not upload_checks.extension_matches(name, fmt):
        raise ValidationError(
            _(
                "“%(name)s” is a %(fmt)s image but its file extension says otherwise; rename it to end in %(ext)s."
            )
            % {"name": name, "fmt": fmt, "ext": " or ".join(sorted(upload_checks.EXTENSIONS[fmt]))}
        )
    reason = upload_checks.hidden_content(data, fmt)
    if reason:
        raise ValidationError(
            _(
                "“%(name)s” was refused because it carries hidden content besides the picture (%(reason)s). "
                "Save it again from an image editor and upload that copy."
            )
            % {"name": name, "reason": reason}
        )
    return ValidatedImage(
        name=name, content_type=ALLOWED_FORMATS[fmt], data=data, width=width, height=height
    )


FIT_MODES = ("crop", "pad")
_SAVE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


def fit_image(data: bytes, *, size: tuple[int, int], mode: str) -> tuple[bytes, str]:
    """A copy of an image at exactly ``size`` pixels: cropped to fill it, or padded with black.

    Providers that take a reference image as the first frame refuse one whose pixel size differs
    from the video's. The photo is turned upright first (phones store rotation in EXIF), and the
    copy keeps the original's format. Returns (bytes, content type).
    """
    from PIL import ImageOps

    if mode not in FIT_MODES:
        raise ValueError(f"unknown fit mode {mode!r}")
    width, height = size
    with Image.open(io.BytesIO(data)) as original:
        fmt = original.format if original.format in ALLOWED_FORMATS else "PNG"
        img = ImageOps.exif_transpose(original)
        img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
        if mode == "crop":
            fitted = ImageOps.fit(img, (width, height), method=Image.Resampling.LANCZOS)
        else:
            fitted = ImageOps.pad(
                img, (width, height), method=Image.Resampling.LANCZOS, color=(0, 0, 0)
            )
    # A first frame has no transparency: flatten onto black so bars and background agree.
    if fitted.mode == "RGBA":
        background = Image.new("RGB", fitted.size, (0, 0, 0))
        background.paste(fitted, mask=fitted.getchannel("A"))
        fitted = background
    out = io.BytesIO()
    options = {"quality": 92} if fmt in ("JPEG", "WEBP") else {}
    fitted.save(out, fmt, **options)
    return out.getvalue(), ALLOWED_FORMATS[fmt]
