"""Reference images: validation (the type is decided by the content, never by the file name),
metadata stripping, who may see and reuse a picture, and the clean-up of orphaned uploads."""

from __future__ import annotations

import io
import logging
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from soraweb.videos import upload_checks

logger = logging.getLogger(__name__)

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
    # What is stored, served and sent is a clean copy: upright, without EXIF, GPS or XMP.
    data, width, height = strip_metadata(data)
    return ValidatedImage(
        name=name, content_type=ALLOWED_FORMATS[fmt], data=data, width=width, height=height
    )


def strip_metadata(data: bytes) -> tuple[bytes, int, int]:
    """The picture re-encoded without its metadata, turned upright first. Returns (bytes, w, h).

    Phone photos carry the place they were taken (GPS) and the camera's serial number in EXIF;
    none of that may reach the team's gallery or a provider. The EXIF orientation is applied
    before it is dropped, or portrait photos would arrive lying on their side. The colour
    profile is kept, since it is part of how the picture looks.
    """
    with Image.open(io.BytesIO(data)) as original:
        fmt = original.format
        icc = original.info.get("icc_profile")
        transparency = original.info.get("transparency")
        img = ImageOps.exif_transpose(original)
        if fmt == "JPEG" and img.mode not in ("RGB", "L", "CMYK"):
            img = img.convert("RGB")
        options: dict = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
        if icc:
            options["icc_profile"] = icc
        if fmt == "PNG" and transparency is not None:
            options["transparency"] = transparency
        out = io.BytesIO()
        img.save(out, fmt, **options)  # no exif=, no pnginfo=: nothing else is written
        return out.getvalue(), img.width, img.height


FIT_MODES = ("crop", "pad")
_SAVE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


def fit_image(data: bytes, *, size: tuple[int, int], mode: str) -> tuple[bytes, str]:
    """A copy of an image at exactly ``size`` pixels: cropped to fill it, or padded with black.

    Providers that take a reference image as the first frame refuse one whose pixel size differs
    from the video's. The photo is turned upright first (phones store rotation in EXIF), and the
    copy keeps the original's format. Returns (bytes, content type).
    """
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


# --- Who may see and reuse a picture ----------------------------------------------------------------


def parse_token(value) -> uuid.UUID | None:
    """A picture's token from a form or an address; None for anything that is not one."""
    if isinstance(value, uuid.UUID):
        return value
    text = str(value or "").strip()
    if not text or len(text) > 36:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def images_visible_to(user):
    """The pictures ``user`` may see: their own uploads, and those of jobs they can see.

    Every signed-in member sees every job (the team shares one studio), so a picture used by a
    job is the team's; a picture nobody used yet (an upload whose job was refused) is its
    uploader's alone.
    """
    from django.db.models import Q

    from soraweb.videos.models import ReferenceImage

    if user is None or not user.is_authenticated:
        return ReferenceImage.objects.none()
    if user.is_staff:
        return ReferenceImage.objects.all()
    return ReferenceImage.objects.filter(Q(uploaded_by=user) | Q(jobs__isnull=False)).distinct()


def image_for_viewer(*, token, user):
    """The picture with ``token`` if ``user`` may see it, else None (so a 404, not a 403)."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    return images_visible_to(user).filter(token=parsed).first()


def images_adopt(*, images: Iterable, owner) -> list:
    """The pictures for a new job of ``owner``: their own as they are, anyone else's as a copy.

    A job that reuses a teammate's picture ("Use these settings") gets its own row, so the
    teammate deleting their job takes their picture with it and leaves this job's copy alone.
    """
    from soraweb.videos.services import reference_image_store

    adopted = []
    for image in images:
        if image.uploaded_by_id == owner.pk:
            adopted.append(image)
            continue
        with image.file.open("rb") as fh:
            data = fh.read()
        adopted.append(
            reference_image_store(
                uploaded_by=owner,
                name=image.original_name,
                content_type=image.content_type,
                data=data,
                width=image.width,
                height=image.height,
            )
        )
    return adopted


# --- Orphaned uploads ----------------------------------------------------------------------------

ORPHAN_AGE = timedelta(hours=24)


def orphan_images_delete(*, older_than: timedelta = ORPHAN_AGE, now=None) -> int:
    """Delete uploads no job uses that are older than ``older_than``, with their files.

    A picture is stored before its job is made; when the job is then refused (a budget, a
    limit) the picture stays behind, visible to nobody but its uploader. A day is long enough
    for "Use these settings" on the same page. Returns how many were deleted.
    """
    from django.db import transaction
    from django.utils import timezone

    from soraweb.videos.models import ReferenceImage

    cutoff = (now or timezone.now()) - older_than
    orphans = list(
        ReferenceImage.objects.filter(jobs__isnull=True, created_at__lt=cutoff).only("pk", "file")[
            :1000
        ]
    )
    if not orphans:
        return 0
    names = [image.file.name for image in orphans if image.file.name]
    storage = ReferenceImage._meta.get_field("file").storage
    with transaction.atomic():
        # Checked again under the delete: a job may have taken one of them meanwhile.
        _total, counts = ReferenceImage.objects.filter(
            pk__in=[image.pk for image in orphans], jobs__isnull=True
        ).delete()
        deleted = counts.get(ReferenceImage._meta.label, 0)
        kept = set(ReferenceImage.objects.filter(file__in=names).values_list("file", flat=True))

        def remove() -> None:
            for name in names:
                if name in kept:
                    continue
                try:
                    storage.delete(name)
                except Exception:  # a file already gone must not stop the rest
                    logger.warning("could not delete %s", name, exc_info=True)

        transaction.on_commit(remove)
    return deleted


def orphan_images_sweep() -> int:
    """The hourly schedule's entry point (see soraweb/schedules.py)."""
    return orphan_images_delete()
