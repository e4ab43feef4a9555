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
    return ValidatedImage(
        name=name, content_type=ALLOWED_FORMATS[fmt], data=data, width=width, height=height
    )
