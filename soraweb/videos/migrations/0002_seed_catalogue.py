"""Seed the environment provider, sora-2 and sora-2-pro (rules from the seeds), and the schedule."""

from django.db import migrations

from soraweb.schedules import ensure_schedules

SORA_MODELS = [
    {
        "name": "sora-2",
        "display_name": "Sora 2",
        "orientations": ["portrait", "landscape"],
        "sizes": ["small", "large"],
        "durations": [10, 15],
        "default_size": "small",
        "default_duration": 10,
        "max_images": 1,
        "price_per_second": {"small": "0.10", "large": "0.30"},
        "position": 10,
    },
    {
        "name": "sora-2-pro",
        "display_name": "Sora 2 Pro",
        "orientations": ["portrait", "landscape"],
        "sizes": ["large"],  # sora-2-pro rejects "small"
        "durations": [15],
        "default_size": "large",
        "default_duration": 15,
        "max_images": 1,
        "price_per_second": {"large": "0.50"},
        "position": 20,
    },
]


def seed(apps, schema_editor):
    Provider = apps.get_model("videos", "Provider")
    VideoModel = apps.get_model("videos", "VideoModel")
    provider, _ = Provider.objects.get_or_create(
        name="Default provider", defaults={"from_environment": True, "wire_format": "unified"}
    )
    for spec in SORA_MODELS:
        spec = dict(spec)
        VideoModel.objects.get_or_create(provider=provider, name=spec.pop("name"), defaults=spec)
    # Declared once, in soraweb/schedules.py; soraweb_setup repairs it from the same place.
    ensure_schedules(apps.get_model("django_q", "Schedule"), names=["soraweb-poll"])


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
