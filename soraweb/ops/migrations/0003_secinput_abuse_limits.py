"""Per-person abuse limits on the team budget: videos in progress at once, and new per minute."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0003_secauth_permissions_and_self_approval"),
    ]

    operations = [
        migrations.AddField(
            model_name="budgetpolicy",
            name="max_active_jobs_per_user",
            field=models.PositiveIntegerField(
                default=10,
                help_text="Most videos one person may have waiting or being made at once. 0: no limit.",
                verbose_name="videos in progress per person",
            ),
        ),
        migrations.AddField(
            model_name="budgetpolicy",
            name="max_jobs_per_minute_per_user",
            field=models.PositiveIntegerField(
                default=20,
                help_text="Most videos one person may start within one minute. 0: no limit.",
                verbose_name="new videos per minute per person",
            ),
        ),
    ]
