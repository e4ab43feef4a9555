"""Jobs made before the gallery's resolution / aspect ratio / sound columns get them filled from
their stored settings, or from the old orientation / size tokens."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("videos", "0014_ux2_admin_labels")]
AFTER = [("videos", "0015_cat2_job_facets")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_jobs_get_their_facets_from_params_or_old_tokens():
    old = migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        VideoModel = old.get_model("videos", "VideoModel")
        Prompt = old.get_model("videos", "Prompt")
        VideoJob = old.get_model("videos", "VideoJob")
        user = User.objects.create(username="before-facets")
        vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
        prompt = Prompt.objects.create(text="old", author=user)

        def job(**fields):
            return VideoJob.objects.create(
                owner=user,
                prompt=prompt,
                provider=vm.provider,
                video_model=vm,
                model_name=vm.name,
                duration=10,
                state="succeeded",
                **fields,
            ).pk

        ids = {
            "tokens": job(orientation="portrait", size="large"),
            "wxh": job(orientation="landscape", size="1280x720"),
            "params": job(
                orientation="landscape",
                size="large",
                params={"aspect_ratio": "21:9", "resolution": "4k", "audio": False},
            ),
            "sound": job(
                orientation="portrait", size="small", params={"aspect_ratio": "9:16", "audio": True}
            ),
        }
        new = migrate(AFTER)
        rows = {
            name: new.get_model("videos", "VideoJob")
            .objects.values_list("aspect_ratio", "resolution", "audio")
            .get(pk=pk)
            for name, pk in ids.items()
        }
        assert rows == {
            "tokens": ("9:16", "1080p", None),
            "wxh": ("16:9", "720p", None),
            "params": ("21:9", "4k", False),
            "sound": ("9:16", "720p", True),
        }
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
