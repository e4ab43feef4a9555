"""The catalogue inside the app: what a person picks is what the relay receives, in every
format, over real HTTP to the simulator; forbidden picks are refused before any request."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from soraweb.catalogue.io import load_text
from soraweb.catalogue.presets import PRESETS_FILE
from soraweb.videos import services
from soraweb.videos.forms import JobForm, initial_from_job
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PRESETS = {m["id"]: m for m in json.loads(PRESETS_FILE.read_text(encoding="utf-8"))["models"]}
SECRET = "sk-catalogue-test-0123456789"


def relay(simulator, fmt: str) -> Provider:
    return Provider.objects.create(
        name=f"Relay {fmt}",
        base_url=simulator.base_url,
        wire_format=fmt,
        api_key=SECRET,
        poll_interval_seconds=1,
    )


def preset_model(provider: Provider, preset: str, **fields) -> VideoModel:
    spec = PRESETS[preset]
    return VideoModel.objects.create(
        name=spec["name"], display_name=spec["label"]["en"], provider=provider, spec=spec, **fields
    )


def legacy_model(provider: Provider) -> VideoModel:
    """A model row written the old way (orientation / size / duration), as tests and old
    databases have them."""
    return VideoModel.objects.create(
        name="sora-2",
        display_name="Sora 2 (old row)",
        provider=provider,
        orientations=["portrait", "landscape"],
        sizes=["small"],
        durations=[10],
        price_per_second={"small": "0.10"},
    )


def sent_body(job: VideoJob) -> dict:
    event = job.events.filter(to_state=JobState.SUBMITTING).order_by("-id").first()
    return event.data["body"]


# --- the bugs people hit today ------------------------------------------------------------------


def test_openai_gets_string_seconds_and_its_own_sizes_and_10_s_is_refused_inline(simulator, member):
    model = legacy_model(relay(simulator, "openai"))
    before = simulator.create_count
    with pytest.raises(ValidationError) as exc:
        services.job_create(
            owner=member,
            video_model=model,
            prompt_text="ten seconds at an openai relay",
            orientation="portrait",
            size="small",
            duration=10,
        )
    assert exc.value.message_dict["duration"] == [
        "Sora 2 (old row) only makes videos of 4, 8, 12 seconds."
    ]
    assert simulator.create_count == before  # refused before any request left
    job = drive(
        services.job_create(
            owner=member,
            video_model=model,
            prompt_text="a portrait kite at an openai relay",
            orientation="portrait",
            size="small",
            duration=8,
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    at_relay = simulator.job(job.remote_id)
    assert (at_relay["size"], at_relay["seconds"]) == ("720x1280", 8)
    assert sent_body(job) == {
        "model": "sora-2",
        "prompt": "a portrait kite at an openai relay",
        "seconds": "8",
        "size": "720x1280",
    }


def test_newapi_portrait_arrives_as_a_portrait_size(simulator, member):
    model = legacy_model(relay(simulator, "newapi"))
    job = services.job_create(
        owner=member,
        video_model=model,
        prompt_text="a tall lighthouse via newapi",
        orientation="portrait",
        size="small",
        duration=10,
    )
    job.refresh_from_db()
    at_relay = simulator.job(job.remote_id)
    assert at_relay["size"] == "720x1280"  # was "small", with the orientation only in metadata
    assert (at_relay["width"], at_relay["height"])[0] < (at_relay["width"], at_relay["height"])[1]
    assert sent_body(job)["size"] == "720x1280"


@pytest.mark.parametrize(("ratio", "seconds"), [("16:9", 15), ("9:16", 10)])
def test_chat_gets_orientation_and_length_in_the_model_name(simulator, member, ratio, seconds):
    model = preset_model(relay(simulator, "chat"), "sora-2")
    job = drive(
        services.job_create(
            owner=member,
            video_model=model,
            prompt_text=f"a chat kite {ratio}",
            params={"aspect_ratio": ratio, "duration": seconds},
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    orientation = "landscape" if ratio == "16:9" else "portrait"
    (at_relay,) = [j for j in simulator.jobs() if j["prompt"] == f"a chat kite {ratio}"]
    assert at_relay["model"] == f"sora2-{orientation}-{seconds}s"
    assert (at_relay["orientation"], at_relay["seconds"]) == (orientation, seconds)
    assert job.orientation == orientation


# --- one check for every caller ------------------------------------------------------------------


def test_a_forbidden_combination_is_refused_with_the_rule_in_words(simulator, member):
    veo = preset_model(relay(simulator, "newapi"), "veo-3.1")
    before = simulator.create_count
    with pytest.raises(ValidationError) as exc:
        services.job_create(
            owner=member,
            video_model=veo,
            prompt_text="4k in four seconds",
            params={"resolution": "4k", "duration": 4},
        )
    assert exc.value.message_dict["duration"] == ["1080p and 4K need 8 seconds."]
    assert simulator.create_count == before
    assert VideoJob.objects.count() == 0


def test_the_form_disables_a_forbidden_choice_with_the_reason_and_prices_live(simulator, member):
    veo = preset_model(relay(simulator, "newapi"), "veo-3.1")
    form = JobForm(initial={"video_model": veo.pk, "duration": "4", "audio": "false"})
    menus = {menu["field"].name: menu for menu in form.option_menus()}
    four_k = next(o for o in menus["resolution"]["options"] if o["value"] == "4k")
    assert four_k["disabled"]
    assert four_k["label"] == "4K Ultra HD (1080p and 4K need 8 seconds.)"
    assert "1080p and 4K need 8 seconds." in menus["resolution"]["note"]
    assert form.estimated_cost() == Decimal("0.80")  # 4 s at $0.20 without sound
    response = None
    from django.test import Client

    client = Client()
    client.force_login(member)
    response = client.post(
        reverse("videos:studio"),
        {
            "prompt": "a forbidden pick",
            "video_model": str(veo.pk),
            "resolution": "4k",
            "duration": "4",
        },
        HTTP_HX_REQUEST="true",
    )
    assert "1080p and 4K need 8 seconds." in response.content.decode()
    assert VideoJob.objects.count() == 0


def test_retry_remix_and_use_again_restore_every_setting(simulator, member):
    seedance = preset_model(relay(simulator, "newapi"), "seedance-2.0")
    picked = {
        "aspect_ratio": "21:9",
        "resolution": "480p",
        "duration": 7,
        "audio": False,
        "watermark": True,
        "seed": 42,
    }
    first = services.job_create(
        owner=member, video_model=seedance, prompt_text="a wide desert", params=picked
    )
    first.refresh_from_db()
    assert first.params == picked
    assert first.estimated_cost == Decimal("0.70")  # 7 s at $0.10 (480p)
    metadata = simulator.job(first.remote_id)["extra"]["metadata"]
    assert metadata == {
        "generate_audio": False,
        "ratio": "21:9",
        "resolution": "480p",
        "watermark": True,
        "seed": 42,
    }
    VideoJob.objects.filter(pk=first.pk).update(state=JobState.FAILED)
    first.refresh_from_db()
    again = services.job_retry(job=first, by=member)
    assert again.params == picked
    initial = initial_from_job(first)
    form = JobForm(initial=initial)
    assert {name: form._current(name) for name in picked} == {
        k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in picked.items()
    }


def test_the_event_log_keeps_the_exact_body_with_pictures_shortened_and_no_secret(
    simulator, member
):
    from tests.videos.test_remix_and_fit import stored_image

    seedance = preset_model(relay(simulator, "newapi"), "seedance-2.0")
    first, last = stored_image(member, (640, 360)), stored_image(member, (641, 360))
    job = services.job_create(
        owner=member,
        video_model=seedance,
        prompt_text="frames first and last",
        params={"aspect_ratio": "16:9", "resolution": "720p"},
        images=[first, last],
    )
    job.refresh_from_db()
    assert job.params["first_frame"] == [first.pk] and job.params["last_frame"] == [last.pk]
    body = sent_body(job)
    content = body["metadata"]["content"]
    assert [item["role"] for item in content] == ["first_frame", "last_frame"]
    url = content[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,… (") and url.endswith(" bytes)")
    at_relay = simulator.job(job.remote_id)["extra"]["metadata"]["content"]
    assert at_relay[0]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    assert SECRET not in json.dumps([e.data for e in job.events.all()])


def test_a_knob_no_code_knows_travels_from_an_imported_file(simulator, member):
    text = json.dumps(
        {
            "format": "soraweb-catalogue",
            "version": 1,
            "models": [
                {
                    "name": "brand-new-video",
                    "label": {"en": "Brand new", "zh": "全新模型"},
                    "params": [
                        {
                            "name": "style",
                            "type": "choice",
                            "label": {"en": "Style", "zh": "风格"},
                            "choices": ["noir", "anime"],
                            "default": "noir",
                        },
                        {"name": "duration", "type": "int", "values": [5], "default": 5},
                    ],
                    "price": {"per": "video", "rows": [{"amount": "0.25"}]},
                    "wire": {"newapi": {}},
                }
            ],
        }
    )
    (spec,) = load_text(text)
    model = VideoModel.objects.create(
        name=spec.name, display_name="Brand new", provider=relay(simulator, "newapi"),
        spec=spec.to_dict(),
    )  # fmt: skip
    job = drive(
        services.job_create(
            owner=member, video_model=model, prompt_text="a new knob", params={"style": "anime"}
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert simulator.job(job.remote_id)["extra"]["metadata"] == {"style": "anime"}
    assert job.estimated_cost == Decimal("0.25")
