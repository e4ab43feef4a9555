"""A knob no code knows, added entirely through the admin's form controls, reaches the relay:
the same journey as test_app's imported-file version, with the admin page instead of a file."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from soraweb.videos import services
from soraweb.videos.models import JobState, VideoModel
from tests.catalogue.browserform import as_post, form_fields
from tests.catalogue.test_app import preset_model, relay
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_style_knob_added_with_the_admin_controls_reaches_the_relay_as_metadata(
    simulator, member, client, django_user_model
):
    boss = django_user_model.objects.create_superuser(username="boss", password="pw-boss-12345")
    client.force_login(boss)
    provider = relay(simulator, "newapi")
    add_url = reverse("admin:videos_videomodel_add")
    page = client.get(add_url).content.decode()
    data = as_post(form_fields(page, "videomodel_form"))
    # The row: which provider, the name relays know, the name people see.
    data |= {"provider": [str(provider.pk)], "name": ["brand-new-video"]}
    data |= {
        "display_name": ["Brand new"],
        "cat-label_en": ["Brand new"],
        "cat-label_zh": ["全新模型"],
    }
    # The blank settings row: a "style" choice with two values of our own, noir by default.
    blank = next(
        k for k, v in data.items() if k.startswith("cat-p-") and k.endswith("-name") and v == [""]
    )
    pre = blank.removesuffix("-name")
    assert data[f"{pre}-type"] == ["choice"]
    data |= {f"{pre}-name": ["style"], f"{pre}-label_en": ["Style"], f"{pre}-label_zh": ["风格"]}
    data |= {f"{pre}-ch-0-value": ["noir"], f"{pre}-ch-1-value": ["anime"]}
    assert data[f"{pre}-ch-0-on"] == data[f"{pre}-ch-1-on"] == ["on"]  # a new chip is offered
    data[f"{pre}-default"] = ["noir"]
    # Sold in the newapi format only, with style sent as metadata.style.
    for fmt in ("unified", "openai", "chat"):
        data.pop(f"cat-w-{fmt}-on", None)
    assert data["cat-w-newapi-on"] == ["on"]
    data |= {"cat-w-newapi-f-0-param": ["style"], "cat-w-newapi-f-0-to": ["metadata.style"]}
    # A price per video, one row for everything.
    data |= {"cat-price-per": ["video"], "cat-pr-0-amount": ["0.25"]}
    response = client.post(add_url, data)
    assert response.status_code == 302, response.content.decode()[-4000:]

    model = VideoModel.objects.get(provider=provider, name="brand-new-video")
    style = model.catalogue_spec().param("style")
    assert [c.value for c in style.choices] == ["noir", "anime"] and style.default == "noir"
    assert style.label.zh == "风格"
    job = drive(
        services.job_create(
            owner=member, video_model=model, prompt_text="a new knob", params={"style": "anime"}
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.job(job.remote_id)["extra"]["metadata"] == {"style": "anime"}
    assert job.estimated_cost == Decimal("0.25")


def value_prefix(data: dict[str, list[str]], to: str, key: str) -> str:
    """The cell of one value sent instead (``...-f-2-v-1``) of the wire field sent as ``to``."""
    field = next(k for k, v in data.items() if k.endswith("-to") and v == [to]).removesuffix("-to")
    return next(
        k
        for k, v in data.items()
        if k.startswith(f"{field}-v-") and k.endswith("-key") and v == [key]
    ).removesuffix("-key")


def test_a_camera_move_edited_as_parts_reaches_the_relay_as_a_nested_object(
    simulator, member, client, django_user_model
):
    boss = django_user_model.objects.create_superuser(username="boss", password="pw-boss-12345")
    client.force_login(boss)
    model = preset_model(relay(simulator, "newapi"), "kling-3")
    url = reverse("admin:videos_videomodel_change", args=[model.pk])
    data = as_post(form_fields(client.get(url).content.decode(), "videomodel_form"))
    cell = value_prefix(data, "metadata.camera_control", "forward_up")
    # The object {"type": "forward_up"} is a group of parts: one row per path, one blank row.
    assert data[f"{cell}-kind"] == ["object"]
    assert data[f"{cell}-o-count"] == ["2"]
    assert (data[f"{cell}-o-0-path"], data[f"{cell}-o-0-value"]) == (["type"], ["forward_up"])
    # Change one part and fill the blank row with a nested part, as a person types them.
    data[f"{cell}-o-0-value"] = ["simple"]
    data |= {
        f"{cell}-o-1-path": ["config.horizontal"],
        f"{cell}-o-1-kind": ["number"],
        f"{cell}-o-1-value": ["-2.5"],
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-4000:]

    move = {"type": "simple", "config": {"horizontal": -2.5}}
    model.refresh_from_db()
    sent = next(f for f in model.spec["wire"]["newapi"]["fields"] if f["param"] == "camera_control")
    assert sent["values"]["forward_up"] == move
    assert sent["values"]["down_back"] == {"type": "down_back"}  # the others unchanged
    job = drive(
        services.job_create(
            owner=member,
            video_model=model,
            prompt_text="a slow push",
            params={"camera_control": "forward_up"},
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.job(job.remote_id)["extra"]["metadata"]["camera_control"] == move
