from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "soraweb.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from soraweb.ops import receivers
        from soraweb.videos.signals import job_settled, storage_failed

        job_settled.connect(receivers.on_job_settled, dispatch_uid="soraweb-ops-job-settled")
        storage_failed.connect(
            receivers.on_storage_failed, dispatch_uid="soraweb-ops-storage-failed"
        )
