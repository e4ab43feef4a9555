"""Every preset in every format it is sold in, over real HTTP to a simulator that reads the
same catalogue file and refuses what real relays refuse."""

from __future__ import annotations

import json
import re

import pytest
import requests

from soraweb.catalogue.presets import PRESETS_FILE
from soraweb.videos import services
from soraweb.videos.models import JobState, Provider, VideoModel

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PRESETS = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))["models"]
CASES = [(m["id"], fmt) for m in PRESETS for fmt in m["wire"] if fmt != "chat"]
OPENAI_SIZES = {"720x1280", "1280x720", "1024x1792", "1792x1024"}


def sent_body(job) -> dict:
    return job.events.filter(to_state=JobState.SUBMITTING).order_by("-id").first().data["body"]


@pytest.mark.parametrize(("preset_id", "fmt"), CASES)
def test_each_preset_reaches_the_relay_in_the_formats_documented_shape(
    simulator, member, preset_id, fmt
):
    preset = next(m for m in PRESETS if m["id"] == preset_id)
    provider = Provider.objects.create(
        name=f"{fmt} relay", base_url=simulator.base_url, wire_format=fmt
    )
    model = VideoModel.objects.create(
        name=preset["name"], display_name=preset["label"]["en"], provider=provider, spec=preset
    )
    prompt = f"a harbour at dawn {preset_id} {fmt}"
    job = services.job_create(owner=member, video_model=model, prompt_text=prompt)
    job.refresh_from_db()
    assert job.remote_id, job.error_message  # the strict relay accepted it
    body = sent_body(job)
    at_relay = simulator.job(job.remote_id)
    picked = job.params
    assert body["model"] == preset["name"] == at_relay["model"]
    assert at_relay["seconds"] == picked["duration"]
    if fmt == "unified":
        assert {"images", "model", "orientation", "prompt", "size", "duration"} <= set(body)
        assert body["images"] == [] and isinstance(body["duration"], int)
        assert body["size"] in ("small", "large")
        assert body["orientation"] in ("portrait", "landscape")
    elif fmt == "openai":
        assert isinstance(body["seconds"], str) and body["seconds"] in ("4", "8", "12")
        assert re.fullmatch(r"\d+x\d+", body["size"])
        if preset["family"] == "sora":
            assert body["size"] in OPENAI_SIZES
    else:
        assert isinstance(body["duration"], int)
        assert isinstance(body.get("metadata", {}), dict)
        if "size" in body:
            assert re.fullmatch(r"\d+[x*]\d+", body["size"])
    ratio = picked.get("aspect_ratio")
    if ratio in ("16:9", "9:16"):
        landscape = ratio == "16:9"
        assert (at_relay["width"] > at_relay["height"]) is landscape
        assert job.orientation == ("landscape" if landscape else "portrait")


def test_a_square_clip_is_square_at_the_relay(simulator, member):
    preset = next(m for m in PRESETS if m["id"] == "seedance-2.0")
    provider = Provider.objects.create(name="nr", base_url=simulator.base_url, wire_format="newapi")
    model = VideoModel.objects.create(
        name=preset["name"], display_name="Seedance", provider=provider, spec=preset
    )
    job = services.job_create(
        owner=member, video_model=model, prompt_text="a square tile", params={"aspect_ratio": "1:1"}
    )
    job.refresh_from_db()
    at_relay = simulator.job(job.remote_id)
    assert at_relay["width"] == at_relay["height"]


# --- the relay refuses what real relays refuse, with their error shape -------------------------


def openai_create(simulator, **fields):
    parts = {name: (None, value) for name, value in fields.items()}
    return requests.post(f"{simulator.base_url}/videos", files=parts, timeout=10)


def test_openai_refuses_seconds_outside_4_8_12_with_its_error_object(simulator):
    response = openai_create(simulator, prompt="p", model="sora-2", seconds="10", size="720x1280")
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == "seconds" and "'4', '8', '12'" in error["message"]
    # A model the relay has never heard of gets OpenAI's own rule, not a free pass.
    unknown = openai_create(simulator, prompt="p", model="mystery", seconds="15", size="720x1280")
    assert unknown.status_code == 400


def test_openai_refuses_a_size_the_model_lacks(simulator):
    response = openai_create(simulator, prompt="p", model="sora-2", seconds="8", size="1792x1024")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "size"
    ok = openai_create(simulator, prompt="p", model="sora-2-pro", seconds="8", size="1792x1024")
    assert ok.status_code == 200


def test_newapi_refuses_a_last_frame_without_a_first_and_too_many_references(simulator):
    def create(content):
        body = {"prompt": "p", "model": "doubao-seedance-2-0", "duration": 5,
                "metadata": {"content": content}}  # fmt: skip
        return requests.post(f"{simulator.base_url}/video/generations", json=body, timeout=10)

    item = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    alone = create([{**item, "role": "last_frame"}])
    assert alone.status_code == 400 and alone.json()["error"]["param"] == "content"
    assert create([{**item, "role": "first_frame"}, {**item, "role": "last_frame"}]).ok
    video = {"type": "video_url", "video_url": {"url": "https://v.example/a.mp4"}}
    assert create([{**video, "role": "reference_video"}] * 3).ok
    too_many = create([{**video, "role": "reference_video"}] * 4)
    assert too_many.status_code == 400 and "At most 3" in too_many.json()["error"]["message"]


def test_a_relay_sells_a_model_from_an_imported_catalogue_file(tmp_path):
    from soraweb.simulator.catalogue_models import PRESETS_FILE as SIM_PRESETS
    from soraweb.simulator.server import Simulator, rules_from_catalogue

    extra = tmp_path / "relay.json"
    extra.write_text(
        json.dumps(
            {
                "format": "soraweb-catalogue",
                "version": 1,
                "models": [
                    {
                        "name": "seven-second-model",
                        "params": [{"name": "duration", "type": "int", "values": [7]}],
                        "wire": {"openai": {"allow": {"duration": [7]}, "sizes": ["640x640"]}},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    with Simulator(model_rules=rules_from_catalogue([SIM_PRESETS, extra]), job_seconds=1) as sim:
        ok = openai_create(sim, prompt="p", model="seven-second-model", seconds="7", size="640x640")
        assert ok.status_code == 200, ok.text
        assert sim.job(ok.json()["id"])["width"] == sim.job(ok.json()["id"])["height"]
        wrong = openai_create(
            sim, prompt="p", model="seven-second-model", seconds="8", size="640x640"
        )
        assert wrong.status_code == 400
        assert (
            openai_create(sim, prompt="p", model="sora-2", seconds="7", size="720x1280").status_code
            == 400
        )
