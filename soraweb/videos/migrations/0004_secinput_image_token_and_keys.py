"""Reference images get a random token for addresses; stored pictures lose their EXIF/GPS data;
idempotency keys become unique per owner instead of across everyone."""

import hashlib
import io
import uuid

from django.conf import settings
from django.db import migrations, models


def fill_tokens(apps, schema_editor):
    ReferenceImage = apps.get_model("videos", "ReferenceImage")
    for image in ReferenceImage.objects.filter(token__isnull=True).only("pk"):
        ReferenceImage.objects.filter(pk=image.pk).update(token=uuid.uuid4())


def strip_stored_metadata(apps, schema_editor):
    """Rewrite pictures stored before uploads were cleaned: upright, without EXIF, GPS or XMP.

    Written out here (not imported) so the migration keeps working when the app code changes.
    A file that is missing or unreadable is left as it is: the migration must not stop an upgrade.
    """
    from django.core.files.base import ContentFile
    from PIL import Image, ImageOps

    ReferenceImage = apps.get_model("videos", "ReferenceImage")
    for image in ReferenceImage.objects.exclude(file=""):
        try:
            with image.file.open("rb") as fh:
                data = fh.read()
            with Image.open(io.BytesIO(data)) as original:
                fmt = original.format
                if fmt not in ("PNG", "JPEG", "WEBP"):
                    continue
                icc = original.info.get("icc_profile")
                upright = ImageOps.exif_transpose(original)
                if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    upright = upright.convert("RGB")
                if fmt == "JPEG" and upright.mode not in ("RGB", "L"):
                    upright = upright.convert("RGB")
                out = io.BytesIO()
                options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
                if icc:
                    options["icc_profile"] = icc
                upright.save(out, fmt, **options)
            clean = out.getvalue()
            old_name = image.file.name
            digest = hashlib.sha256(clean).hexdigest()
            storage = image.file.storage
            ext = old_name.rsplit(".", 1)[-1] if "." in old_name else "png"
            image.sha256 = digest  # the upload path is named after it
            image.file.save(f"{digest}.{ext}", ContentFile(clean), save=False)
            image.width, image.height = upright.size
            image.save(update_fields=["file", "sha256", "width", "height"])
            if old_name != image.file.name:
                storage.delete(old_name)
        except Exception:  # noqa: BLE001, S112 - one bad file must not stop the upgrade
            continue


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0003_team_studio"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="referenceimage",
            name="token",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="referenceimage",
            name="token",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.RunPython(strip_stored_metadata, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="videojob",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddConstraint(
            model_name="videojob",
            constraint=models.UniqueConstraint(
                fields=("owner", "idempotency_key"), name="unique_idempotency_key_per_owner"
            ),
        ),
    ]
