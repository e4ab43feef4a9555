from __future__ import annotations

from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "soraweb.videos"
    label = "videos"
    verbose_name = "Videos"
