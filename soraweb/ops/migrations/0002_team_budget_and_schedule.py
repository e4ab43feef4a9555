"""The one team budget row (no limits until an admin sets some) and the minute schedule."""

from django.db import migrations

from soraweb.schedules import ensure_schedules


def seed(apps, schema_editor):
    BudgetPolicy = apps.get_model("ops", "BudgetPolicy")
    BudgetPolicy.objects.get_or_create(pk=1)
    # Declared once, in soraweb/schedules.py; soraweb_setup repairs it from the same place.
    ensure_schedules(apps.get_model("django_q", "Schedule"), names=["soraweb-ops"])


def unseed(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="soraweb-ops").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
