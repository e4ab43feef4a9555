from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VideosConfig(AppConfig):
    name = "soraweb.videos"
    label = "videos"
    verbose_name = _("Videos")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django_q.signals import post_spawn

        from soraweb import accounts
        from soraweb.videos.pipeline import queue

        user_logged_in.connect(accounts.mark_seen_at_login, dispatch_uid="soraweb-idle-clock")

        # A restarted cluster resumes in-flight jobs at once instead of at the next schedule tick
        # (up to ~90 s later). Several workers kick it; the loop's lease lets one run.
        post_spawn.connect(queue.kick_poll_loop_on_spawn, dispatch_uid="soraweb-kick-poll-loop")
