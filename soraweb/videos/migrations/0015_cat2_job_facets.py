"""The gallery filters by resolution, aspect ratio and sound: three facts of a job's settings
kept in indexed columns, filled here for jobs already made (from their stored settings, or from
the old orientation / size tokens for jobs made before settings were stored)."""

from django.db import migrations, models

# As soraweb.catalogue.legacy and .wire said when this was written (a migration keeps its own).
ORIENTATION_RATIO = {"portrait": "9:16", "landscape": "16:9"}
SIZE_RESOLUTION = {"small": "720p", "large": "1080p"}
SHORT_SIDE = {
    360: "360p",
    480: "480p",
    512: "512p",
    540: "540p",
    720: "720p",
    768: "768p",
    1080: "1080p",
    1440: "1440p",
    2160: "4k",
}


def facets(params, orientation, size):
    params = params if isinstance(params, dict) else {}
    ratio = params.get("aspect_ratio")
    ratio = str(ratio) if ratio else ORIENTATION_RATIO.get(orientation, "")
    resolution = params.get("resolution")
    if not resolution:
        resolution = SIZE_RESOLUTION.get(size, "")
        dims = [int(n) for n in (size or "").lower().replace("*", "x").split("x") if n.isdigit()]
        if not resolution and len(dims) == 2:
            resolution = SHORT_SIDE.get(min(dims), "")
    audio = params.get("audio")
    return ratio[:20], str(resolution)[:20], audio if isinstance(audio, bool) else None


def fill(apps, schema_editor):
    VideoJob = apps.get_model("videos", "VideoJob")
    rows = VideoJob.objects.order_by("pk").only("pk", "params", "orientation", "size")
    batch = []
    for job in rows.iterator(chunk_size=2000):
        job.aspect_ratio, job.resolution, job.audio = facets(job.params, job.orientation, job.size)
        batch.append(job)
        if len(batch) == 2000:
            VideoJob.objects.bulk_update(batch, ["aspect_ratio", "resolution", "audio"])
            batch = []
    if batch:
        VideoJob.objects.bulk_update(batch, ["aspect_ratio", "resolution", "audio"])


class Migration(migrations.Migration):
    dependencies = [("videos", "0014_ux2_admin_labels")]

    operations = [
        migrations.AddField(
            model_name="videojob",
            name="aspect_ratio",
            field=models.CharField(
                blank=True, default="", max_length=20, verbose_name="aspect ratio"
            ),
        ),
        migrations.AddField(
            model_name="videojob",
            name="resolution",
            field=models.CharField(
                blank=True, default="", max_length=20, verbose_name="resolution"
            ),
        ),
        migrations.AddField(
            model_name="videojob",
            name="audio",
            field=models.BooleanField(blank=True, null=True, verbose_name="sound"),
        ),
        migrations.AddIndex(
            model_name="videojob",
            index=models.Index(
                fields=["state", "resolution", "aspect_ratio", "audio"],
                name="job_state_facets_idx",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
