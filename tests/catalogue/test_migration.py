"""Existing databases: the sora-2 rows and old jobs become catalogue entries without loss."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# The migration just before the catalogue's, then every migration there is (so the database the
# later tests use is whole again).
BEFORE = [("videos", "0006_gateways_chat_tools")]


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_rows_and_jobs_are_converted_without_loss(django_user_model):
    old = migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        Provider = old.get_model("videos", "Provider")
        VideoModel = old.get_model("videos", "VideoModel")
        Prompt = old.get_model("videos", "Prompt")
        VideoJob = old.get_model("videos", "VideoJob")
        ReferenceImage = old.get_model("videos", "ReferenceImage")
        user = User.objects.create(username="old-timer")
        seeded = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
        seeded.price_per_second = {"small": "0.12", "large": "0.33"}
        seeded.save()
        relay = Provider.objects.create(name="Old relay", base_url="https://r.example/v1")
        custom = VideoModel.objects.create(
            name="house-model",
            display_name="House model",
            provider=relay,
            orientations=["landscape"],
            sizes=["small", "large"],
            durations=[5, 10],
            default_size="large",
            default_duration=10,
            max_images=2,
            price_per_second={"small": "0.05", "large": "0.07"},
        )
        prompt = Prompt.objects.create(text="an old job", author=user)
        images = [
            ReferenceImage.objects.create(
                file=f"x{i}.png", sha256=str(i) * 64, width=8, height=8, uploaded_by=user
            )
            for i in range(2)
        ]
        job = VideoJob.objects.create(
            owner=user,
            prompt=prompt,
            provider=relay,
            video_model=custom,
            model_name="house-model",
            orientation="landscape",
            size="large",
            duration=10,
        )
        job.images.set(images)
        old_pks = (seeded.pk, custom.pk, job.pk, [i.pk for i in images])
    finally:
        new = migrate(latest())
    seeded_pk, custom_pk, job_pk, image_pks = old_pks
    VideoModel = new.get_model("videos", "VideoModel")
    VideoJob = new.get_model("videos", "VideoJob")

    from soraweb.catalogue import pricing, rules, wire
    from soraweb.catalogue.io import load_model

    sora = load_model(VideoModel.objects.get(pk=seeded_pk).spec)
    assert sora.family == "sora"  # the preset, with the row's own prices
    unified = wire.for_format(sora, "unified")
    assert unified.param("duration").allowed() == (10, 15)
    values = rules.resolve(unified, {"resolution": "1080p", "duration": 15}).values
    assert str(pricing.estimate(unified, values)) == "4.95"  # 15 s at the row's $0.33
    assert wire.for_format(sora, "openai").param("duration").allowed() == (4, 8, 12)

    house = load_model(VideoModel.objects.get(pk=custom_pk).spec)
    assert house.param("aspect_ratio").allowed() == ("16:9",)
    assert house.param("resolution").allowed() == ("720p", "1080p")
    assert house.param("resolution").default == "1080p"
    assert house.param("duration").default == 10
    assert house.param("reference_images").max_count == 1  # 2 pictures: first + 1 more
    sold = wire.for_format(house, "unified")
    resolved = rules.resolve(sold, {}).values
    assert wire.build(sold, "unified", resolved, prompt="p").body == {
        "images": [],
        "model": "house-model",
        "orientation": "landscape",
        "prompt": "p",
        "size": "large",
        "duration": 10,
    }  # exactly what the old unified client sent for this row
    assert str(pricing.estimate(sold, resolved)) == "0.70"

    migrated = VideoJob.objects.get(pk=job_pk)
    assert migrated.params == {
        "aspect_ratio": "16:9",
        "resolution": "1080p",
        "duration": 10,
        "first_frame": image_pks[:1],
        "reference_images": image_pks[1:],
    }
