from __future__ import annotations

import time

from django.conf import settings

from soraweb.videos.selectors import demo_provider_in_use


def studio(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "demo_provider": demo_provider_in_use(),
        "card_poll_seconds": settings.SORAWEB_CARD_POLL_SECONDS,
        # The moment the page was made: its live stream replays what changed since (live.py).
        "live_since": int(time.time() * 1000),
    }
