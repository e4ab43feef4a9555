"""The catalogue's core: parameters, rules across fields, prices. Plain Python, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from soraweb.catalogue import pricing, rules, wire
from soraweb.catalogue.presets import load_presets, preset_document
from soraweb.catalogue.schema import SpecError, parse_model

PRESETS = {spec.id: spec for spec in load_presets()}


def minimal(**extra):
    return {
        "name": "m1",
        "params": [
            {"name": "duration", "type": "int", "values": [4, 8], "default": 4},
            {"name": "seed", "type": "int", "min": 0, "max": 100, "step": 5},
            {"name": "audio", "type": "bool", "default": False},
            {"name": "negative_prompt", "type": "text", "max_length": 10},
            {"name": "style", "type": "choice", "choices": ["noir", "anime"]},
            {"name": "first_frame", "type": "slot", "max_count": 1},
            {"name": "reference_images", "type": "slot", "max_count": 2},
        ],
        "wire": {"newapi": {}},
        **extra,
    }


def test_presets_file_is_what_the_presets_module_writes():
    # The simulator reads the JSON file; it must not drift from the module that documents it.
    from soraweb.catalogue.io import dumps
    from soraweb.catalogue.presets import PRESETS_FILE

    assert PRESETS_FILE.read_text(encoding="utf-8") == dumps(preset_document())


def test_every_asked_for_family_has_a_preset_with_a_note_in_both_languages():
    wanted = {
        "veo-3.1", "veo-3.1-fast", "seedance-2.0", "seedance-2.0-fast", "seedance-1.5-pro",
        "kling-2.6", "kling-3", "wan-2.5", "wan-2.6", "hailuo-02", "hailuo-2.3", "vidu-q2",
        "grok-imagine-video", "sora-2", "sora-2-pro",
    }  # fmt: skip
    assert wanted <= set(PRESETS)
    for spec in PRESETS.values():
        assert "relay" in spec.note.en and spec.note.zh != spec.note.en
        for param in spec.params:
            assert param.label.en and param.label.zh


def test_defaults_are_filled_in_and_unset_optionals_are_not_sent():
    spec = parse_model(minimal())
    resolved = rules.resolve(spec, {})
    assert resolved.ok
    assert resolved.values == {"duration": 4, "audio": False}  # seed, text, style: not sent


def test_values_are_coerced_from_form_strings_and_checked():
    spec = parse_model(minimal())
    ok = rules.resolve(spec, {"duration": "8", "seed": "15", "audio": "on", "style": "Anime"})
    assert ok.values == {"duration": 8, "seed": 15, "audio": True, "style": "anime"}
    bad = rules.resolve(
        spec,
        {"duration": "6", "seed": "7", "negative_prompt": "x" * 11, "style": "pop"},
        counts={"reference_images": 3},
    )
    codes = {(p.param, p.code) for p in bad.problems}
    assert codes == {
        ("duration", "invalid"),
        ("seed", "invalid"),  # not on the step of 5
        ("negative_prompt", "too_long"),
        ("style", "invalid"),
        ("reference_images", "too_many"),
    }
    duration = next(p for p in bad.problems if p.param == "duration")
    assert duration.allowed == (4, 8)


def test_an_unknown_setting_is_refused_when_strict_and_dropped_otherwise():
    spec = parse_model(minimal())
    assert [p.code for p in rules.resolve(spec, {"colour": "red"}).problems] == ["unknown"]
    assert rules.resolve(spec, {"colour": "red"}, strict=False).ok


def test_a_broken_spec_lists_every_problem_with_its_path():
    broken = minimal(
        rules=[{"when": {"nope": "set"}, "then": {"duration": [5]}, "message": "x"}],
        price={"per": "second", "rows": [{"amount": "-1"}]},
    )
    broken["params"][0]["default"] = 5
    with pytest.raises(SpecError) as exc:
        parse_model(broken)
    paths = {path for path, _ in exc.value.problems}
    assert {
        "model.params[0].default",
        "model.rules[0].when.nope",
        "model.rules[0].then.duration[0]",
        "model.price.rows[0].amount",
    } <= paths


# --- rules across fields ---------------------------------------------------------------------------


def test_veo_4k_needs_8_seconds_and_says_so():
    veo = PRESETS["veo-3.1"]
    resolved = rules.resolve(veo, {"resolution": "4k", "duration": "4"})
    assert [p.code for p in resolved.problems] == ["rule"]
    assert resolved.problems[0].message.en == "1080p and 4K need 8 seconds."
    assert resolved.problems[0].message.get("zh-hans") == "1080p 和 4K 需要 8 秒时长。"
    assert rules.resolve(veo, {"resolution": "4k", "duration": "8"}).ok
    # The form's view: at 4 seconds, 1080p and 4k are disabled with the reason; 720p is not.
    states = rules.option_states(veo, {"resolution": "720p", "duration": 4})
    assert states["resolution"]["720p"] is None
    assert states["resolution"]["4k"].message.en == "1080p and 4K need 8 seconds."
    assert states["duration"][6] is None


def test_a_last_frame_needs_a_first_frame():
    seedance = PRESETS["seedance-2.0"]
    alone = rules.resolve(seedance, {}, counts={"last_frame": 1})
    assert [(p.param, p.message.en) for p in alone.problems] == [
        ("first_frame", "A last frame needs a first frame.")
    ]
    assert rules.resolve(seedance, {}, counts={"first_frame": 1, "last_frame": 1}).ok


def test_kling_last_frame_only_in_pro_and_no_camera_move_with_a_picture():
    kling = PRESETS["kling-2.6"]
    std = rules.resolve(kling, {"mode": "std"}, counts={"first_frame": 1, "last_frame": 1})
    assert [p.message.en for p in std.problems] == ["A last frame needs Pro mode."]
    assert rules.resolve(kling, {"mode": "pro"}, counts={"first_frame": 1, "last_frame": 1}).ok
    camera = rules.resolve(kling, {"camera_control": "down_back"}, counts={"first_frame": 1})
    assert [p.message.en for p in camera.problems] == [
        "A camera move cannot be combined with a picture."
    ]
    # With a camera move picked, the picture slot is the thing shown as forbidden.
    slots = rules.slot_states(kling, {"camera_control": "down_back", "mode": "std"})
    assert slots["first_frame"].message.en == "A camera move cannot be combined with a picture."
    assert slots["last_frame"] is not None  # needs pro
    assert rules.slot_states(kling, {"mode": "pro"})["last_frame"] is None


# --- prices ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "picked", "counts", "expected"),
    [
        ("veo-3.1", {"resolution": "720p", "duration": 8}, {}, "3.20"),  # $0.40/s with sound
        ("veo-3.1", {"resolution": "720p", "duration": 8, "audio": False}, {}, "1.60"),
        ("veo-3.1", {"resolution": "4k", "duration": 8}, {}, "4.80"),
        ("veo-3.1-fast", {"resolution": "1080p", "duration": 8}, {}, "1.20"),
        ("seedance-2.0", {"resolution": "720p", "duration": 10}, {}, "2.00"),
        # a reference video costs more, whatever the resolution
        ("seedance-2.0", {"resolution": "480p", "duration": 10}, {"reference_videos": 1}, "3.00"),
        ("seedance-1.5-pro", {"resolution": "1080p", "duration": 10}, {}, "1.20"),
        ("seedance-1.5-pro", {"resolution": "1080p", "duration": 10, "audio": False}, {}, "0.60"),
        ("sora-2", {"resolution": "720p", "duration": 12}, {}, "1.20"),
        ("sora-2-pro", {"resolution": "1080p", "duration": 12}, {}, "6.00"),
        # Vidu bills credits: relays' dollar rates (5 s at 720p $0.25, 1080p only at 4 s)
        ("vidu-q2", {}, {}, "0.25"),
        ("vidu-q2", {"resolution": "1080p", "duration": 4}, {}, "0.60"),
        ("grok-imagine-video", {}, {}, "0.42"),  # xAI: $0.07/s at 720p
        ("grok-imagine-video", {"resolution": "480p", "duration": 10}, {}, "0.50"),
    ],
)
def test_prices(model, picked, counts, expected):
    spec = PRESETS[model]
    resolved = rules.resolve(spec, picked, counts=counts)
    assert resolved.ok, resolved.problems
    assert pricing.estimate(spec, resolved.values) == Decimal(expected)


def test_a_price_per_video_ignores_the_duration():
    spec = parse_model(minimal(price={"per": "video", "rows": [{"amount": "0.75"}]}))
    assert pricing.estimate(spec, rules.resolve(spec, {"duration": 8}).values) == Decimal("0.75")


def test_every_preset_default_is_valid_and_sendable_in_every_format_it_is_sold_in():
    for spec in PRESETS.values():
        for fmt in spec.formats:
            sold = wire.for_format(spec, fmt)
            resolved = rules.resolve(sold, {})
            assert resolved.ok, (spec.id, fmt, resolved.problems)
            wire.build(sold, fmt, resolved.values, prompt="p")
