"""Models carry a catalogue entry (``spec``) and jobs their full parameter set (``params``).

Existing rows are converted without loss: sora-2 / sora-2-pro get the shipped preset (with the
row's own name, label, durations and prices), other models the legacy converter's equivalent,
and every job's orientation / size / duration and pictures become its parameter set.
"""

import json

from django.db import migrations, models

from soraweb.catalogue.legacy import params_from_legacy, resolution_token, spec_from_legacy
from soraweb.catalogue.presets import PRESETS_FILE


def _preset(name):
    doc = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    return next((m for m in doc["models"] if m["name"] == name), None)


def _spec_for(row):
    preset = _preset(row.name)
    if preset is None:
        return spec_from_legacy(
            name=row.name,
            display_name=row.display_name,
            orientations=list(row.orientations or []),
            sizes=list(row.sizes or []),
            durations=[int(d) for d in row.durations or []],
            default_size=row.default_size,
            default_duration=row.default_duration,
            max_images=row.max_images,
            price_per_second=dict(row.price_per_second or {}),
            deadline_minutes=row.deadline_minutes,
        )
    spec = dict(preset)
    spec["label"] = {"en": row.display_name, "zh": row.display_name}
    spec["deadline_minutes"] = max(1, int(row.deadline_minutes or 30))
    prices = dict(row.price_per_second or {})
    if prices:
        rows = [
            {"when": {"resolution": [resolution_token(size)]}, "amount": str(amount)}
            for size, amount in prices.items()
        ]
        spec["price"] = {"per": "second", "currency": "USD", "rows": rows}
    # The durations the admin allowed for the seeds' formats stay allowed, where the preset has them.
    values = next(p for p in spec["params"] if p["name"] == "duration")["values"]
    kept = [int(d) for d in row.durations or [] if int(d) in values]
    if kept:
        for fmt in ("unified", "chat"):
            spec["wire"][fmt].setdefault("allow", {})["duration"] = kept
    return spec


def forwards(apps, schema_editor):
    VideoModel = apps.get_model("videos", "VideoModel")
    VideoJob = apps.get_model("videos", "VideoJob")
    for row in VideoModel.objects.all():
        row.spec = _spec_for(row)
        row.save(update_fields=["spec"])
    batch = []
    for job in VideoJob.objects.all().prefetch_related("images").iterator(chunk_size=500):
        params = params_from_legacy(
            orientation=job.orientation, size=job.size, duration=job.duration
        )
        ids = sorted(image.pk for image in job.images.all())
        if ids:
            params["first_frame"] = ids[:1]
        if len(ids) > 1:
            params["reference_images"] = ids[1:]
        job.params = params
        batch.append(job)
        if len(batch) >= 500:
            VideoJob.objects.bulk_update(batch, ["params"])
            batch = []
    if batch:
        VideoJob.objects.bulk_update(batch, ["params"])


class Migration(migrations.Migration):
    dependencies = [("videos", "0006_gateways_chat_tools")]

    operations = [
        migrations.AddField(
            model_name="videomodel",
            name="spec",
            field=models.JSONField(blank=True, default=dict, verbose_name="catalogue entry"),
        ),
        migrations.AddField(
            model_name="videojob",
            name="params",
            field=models.JSONField(blank=True, default=dict, verbose_name="settings"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
