"""The periodic work, declared in code and written idempotently (by name)."""

from __future__ import annotations

from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "soraweb-poll",
        "func": "soraweb.videos.tasks.poll_loop",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
        "repeats": -1,
    },
    # Uploads no job took (the job was refused) are deleted with their files after a day.
    {
        "name": "soraweb-orphan-images",
        "func": "soraweb.videos.images.orphan_images_sweep",
        "schedule_type": Schedule.HOURLY,
        "repeats": -1,
    },
]


def ensure_schedules(schedule_model=Schedule) -> None:
    for spec in SCHEDULES:
        spec = dict(spec)
        schedule_model.objects.update_or_create(name=spec.pop("name"), defaults=spec)
