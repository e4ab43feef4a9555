from django.db import migrations

from soraweb.schedules import ensure_schedules


def add(apps, schema_editor):
    # Declared once, in soraweb/schedules.py; soraweb_setup repairs it from the same place.
    ensure_schedules(apps.get_model("django_q", "Schedule"), names=["soraweb-orphan-images"])


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0005_catalogue_params"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
