"""Golden bodies: what each wire format receives for a pick, written from providers.md."""

from __future__ import annotations

import pytest

from soraweb.catalogue import rules, wire
from soraweb.catalogue.presets import load_presets
from soraweb.catalogue.schema import parse_model

PRESETS = {spec.id: spec for spec in load_presets()}


def body(model, fmt, picked=None, inputs=None):
    spec = wire.for_format(PRESETS[model], fmt)
    counts = {slot: len(files) for slot, files in (inputs or {}).items()}
    resolved = rules.resolve(spec, picked or {}, counts=counts)
    assert resolved.ok, resolved.problems
    return wire.build(spec, fmt, resolved.values, prompt="a kite", inputs=inputs, url_of=str)


def offered(model, fmt, name):
    return wire.for_format(PRESETS[model], fmt).param(name).allowed()


# --- openai: seconds as strings 4/8/12, four sizes (sora-2 only the 720p pair) -----------------


def test_openai_sora2_gets_string_seconds_and_a_portrait_size():
    sent = body("sora-2", "openai", {"aspect_ratio": "9:16", "duration": "12"})
    assert sent.body == {"model": "sora-2", "prompt": "a kite", "seconds": "12", "size": "720x1280"}
    assert offered("sora-2", "openai", "duration") == (4, 8, 12)
    assert offered("sora-2", "openai", "resolution") == ("720p",)  # 1792x1024 is a pro size


def test_openai_sora2_pro_has_all_four_sizes():
    sizes = {
        body("sora-2-pro", "openai", {"aspect_ratio": r, "resolution": res, "duration": 4}).body[
            "size"
        ]
        for r in ("9:16", "16:9")
        for res in ("720p", "1080p")
    }
    assert sizes == {"720x1280", "1280x720", "1024x1792", "1792x1024"}


def test_openai_first_frame_is_the_input_reference_file_part():
    sent = body("sora-2", "openai", {}, inputs={"first_frame": ["IMG"]})
    assert sent.files == [("input_reference", "IMG")]
    assert "input_reference" not in sent.body


def test_every_openai_preset_offers_only_durations_the_relay_takes():
    for spec in PRESETS.values():
        if "openai" in spec.formats:
            assert set(offered(spec.id, "openai", "duration")) <= {4, 8, 12}, spec.id


# --- unified: every field required, small/large, integer duration -------------------------------


def test_unified_sora2_sends_exactly_the_required_fields():
    sent = body("sora-2", "unified", {"aspect_ratio": "16:9", "duration": "15"})
    assert sent.body == {
        "images": [],
        "model": "sora-2",
        "orientation": "landscape",
        "prompt": "a kite",
        "size": "small",
        "duration": 15,
    }
    assert offered("sora-2", "unified", "duration") == (10, 15)


def test_unified_sora2_pro_is_large_only():
    assert offered("sora-2-pro", "unified", "resolution") == ("1080p",)
    assert body("sora-2-pro", "unified").body["size"] == "large"


# --- newapi: portrait stays portrait, knobs in metadata, content[] roles --------------------------


def test_newapi_portrait_is_a_portrait_size_not_small():
    sent = body("sora-2", "newapi", {"aspect_ratio": "9:16", "duration": "8"})
    assert sent.body["size"] == "720x1280"
    assert sent.body["duration"] == 8
    assert sent.body["metadata"] == {"orientation": "portrait"}


def test_newapi_seedance_frames_travel_as_content_items_with_roles():
    sent = body(
        "seedance-2.0",
        "newapi",
        {"aspect_ratio": "16:9", "resolution": "1080p", "audio": "on", "duration": "5"},
        inputs={"first_frame": ["F"], "last_frame": ["L"]},
    )
    assert sent.body["size"] == "1920x1080"
    assert sent.body["metadata"]["generate_audio"] is True
    assert sent.body["metadata"]["ratio"] == "16:9"
    assert sent.body["metadata"]["resolution"] == "1080p"
    assert sent.body["metadata"]["content"] == [
        {"type": "image_url", "image_url": {"url": "F"}, "role": "first_frame"},
        {"type": "image_url", "image_url": {"url": "L"}, "role": "last_frame"},
    ]


def test_newapi_wan_writes_star_sizes_and_capital_resolutions():
    sent = body("wan-2.6", "newapi", {"aspect_ratio": "9:16", "resolution": "720p"})
    assert sent.body["size"] == "720*1280"
    assert sent.body["metadata"]["resolution"] == "720P"


def test_newapi_kling_sound_on_off_and_camera_move_object():
    sent = body(
        "kling-2.6", "newapi", {"mode": "pro", "audio": True, "camera_control": "down_back"}
    )
    assert sent.body["metadata"]["sound"] == "on"
    assert sent.body["metadata"]["camera_control"] == {"type": "down_back"}
    assert sent.body["metadata"]["mode"] == "pro"


def test_newapi_images_follow_the_first_last_reference_convention():
    sent = body("grok-imagine-video", "newapi", {}, inputs={"first_frame": ["F"]})
    assert sent.body["images"] == ["F"]
    assert sent.body["image"] == "F"


# --- chat: options by model name, pictures as image_url parts ------------------------------------


def test_chat_picks_orientation_and_length_by_model_name():
    sent = body(
        "sora-2", "chat", {"aspect_ratio": "9:16", "duration": "15"}, {"first_frame": ["F"]}
    )
    assert sent.body == {
        "model": "sora2-portrait-15s",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a kite"},
                    {"type": "image_url", "image_url": {"url": "F"}},
                ],
            }
        ],
    }
    assert body("sora-2-pro", "chat", {"aspect_ratio": "16:9"}).model == "sora2-pro-landscape-15s"


def test_chat_prompt_suffix_carries_what_the_name_does_not():
    spec = parse_model(
        {
            "name": "vx",
            "params": [
                {
                    "name": "aspect_ratio",
                    "type": "choice",
                    "choices": ["16:9", "9:16"],
                    "default": "16:9",
                },
                {"name": "duration", "type": "int", "values": [5, 10], "default": 5},
            ],
            "wire": {
                "chat": {"model": "{model}-{duration}s", "prompt_suffix": " --ar {aspect_ratio}"}
            },
        }
    )
    sold = wire.for_format(spec, "chat")
    sent = wire.build(sold, "chat", {"aspect_ratio": "9:16", "duration": 10}, prompt="p")
    assert sent.body["model"] == "vx-10s"
    assert sent.body["messages"][0]["content"] == "p --ar 9:16"


def test_chat_drops_settings_that_reach_the_relay_in_no_way():
    sold = wire.for_format(PRESETS["sora-2"], "chat")
    assert sold.param("resolution") is None  # the chat name has no place for it


# --- a knob no code knows ------------------------------------------------------------------------


def test_an_unknown_knob_goes_to_metadata_in_newapi_and_as_a_field_elsewhere():
    spec = parse_model(
        {
            "name": "new-model",
            "params": [{"name": "style", "type": "choice", "choices": ["noir", "anime"]}],
            "wire": {"newapi": {}, "unified": {}, "openai": {}},
        }
    )
    for fmt, where in (
        ("newapi", ("metadata", "style")),
        ("unified", ("style",)),
        ("openai", ("style",)),
    ):
        sent = wire.build(wire.for_format(spec, fmt), fmt, {"style": "noir"}, prompt="p").body
        for key in where:
            sent = sent[key]
        assert sent == "noir", fmt


def test_a_mapping_gap_is_refused_before_anything_is_sent():
    spec = wire.for_format(PRESETS["sora-2"], "openai")
    with pytest.raises(wire.WireError):
        wire.build(
            spec,
            "openai",
            {"aspect_ratio": "9:16", "resolution": "1080p", "duration": 4},
            prompt="p",
        )
