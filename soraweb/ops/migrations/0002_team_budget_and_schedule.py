"""The one team budget row (no limits until an admin sets some) and the minute schedule."""

from django.db import migrations


def seed(apps, schema_editor):
    BudgetPolicy = apps.get_model("ops", "BudgetPolicy")
    BudgetPolicy.objects.get_or_create(pk=1)
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="soraweb-ops",
        defaults={
            "func": "soraweb.ops.tasks.every_minute",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="soraweb-ops").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
