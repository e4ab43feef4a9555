"""Every piece of periodic work soraweb runs, declared once (by name) and written idempotently.

The data migrations and ``manage.py soraweb_setup`` both call ``ensure_schedules``: a fresh
installation gets the schedules from ``migrate``, and setup puts back any that were edited or
deleted by hand. Functions are named by dotted path (django-q2 stores the string), so this
module imports no soraweb app, and a migration passes in its historical Schedule model.
"""

from __future__ import annotations

from collections.abc import Iterable

from django_q.models import Schedule

MINUTES = "I"  # django_q.models.Schedule.MINUTES, spelled out so migrations need not import it
HOURLY = "H"  # django_q.models.Schedule.HOURLY

SCHEDULES: tuple[dict, ...] = (
    # The poll loop's safety net: every job kicks the loop itself, this restarts it if lost.
    {
        "name": "soraweb-poll",
        "func": "soraweb.videos.tasks.poll_loop",
        "schedule_type": MINUTES,
        "minutes": 1,
        "repeats": -1,
    },
    # Webhook retries whose backoff has passed, and ledger entries whose job ended unheard.
    {
        "name": "soraweb-ops",
        "func": "soraweb.ops.tasks.every_minute",
        "schedule_type": MINUTES,
        "minutes": 1,
        "repeats": -1,
    },
    # Uploads no job took (the job was refused) are deleted with their files after a day.
    {
        "name": "soraweb-orphan-images",
        "func": "soraweb.videos.images.orphan_images_sweep",
        "schedule_type": HOURLY,
        "minutes": None,
        "repeats": -1,
    },
)


def ensure_schedules(schedule_model=Schedule, *, names: Iterable[str] | None = None) -> list[str]:
    """Create or repair the declared schedules (all, or only ``names``); returns their names."""
    wanted = set(names) if names is not None else None
    done = []
    for spec in SCHEDULES:
        if wanted is not None and spec["name"] not in wanted:
            continue
        defaults = {key: value for key, value in spec.items() if key != "name"}
        schedule_model.objects.update_or_create(name=spec["name"], defaults=defaults)
        done.append(spec["name"])
    return done
