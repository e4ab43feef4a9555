"""Status words, progress values and failure reasons, as relays send them (spec section 5)."""

from __future__ import annotations

import pytest

from soraweb.providers import RemoteState, find_error_text, normalise_status, parse_progress
from soraweb.providers.normalise import is_moderation

SPEC_SYNONYMS = {
    RemoteState.QUEUED: [
        "queued",
        "pending",
        "submitted",
        "not_start",
        "NOT_START",
        "SUBMITTED",
        "QUEUED",
    ],
    RemoteState.RUNNING: ["in_progress", "processing", "running", "generating", "IN_PROGRESS"],
    RemoteState.SUCCEEDED: ["completed", "complete", "success", "succeeded", "SUCCESS"],
    RemoteState.FAILED: ["failed", "failure", "error", "cancelled", "canceled", "FAILURE"],
    RemoteState.EXPIRED: ["expired"],
}


@pytest.mark.parametrize(
    ("word", "state"), [(w, s) for s, words in SPEC_SYNONYMS.items() for w in words]
)
def test_it_maps_every_synonym_from_the_spec(word, state):
    assert normalise_status(word) is state


@pytest.mark.parametrize("word", ["  Completed ", "In Progress", "in-progress", "Not_Start"])
def test_it_ignores_case_blanks_and_separators(word):
    assert normalise_status(word) is not RemoteState.UNKNOWN


@pytest.mark.parametrize("word", ["unknown", "UNKNOWN", "rendering-soon", "", None, 3, {"a": 1}])
def test_it_calls_words_it_does_not_know_unknown(word):
    assert normalise_status(word) is RemoteState.UNKNOWN


def test_it_treats_only_success_failure_and_expiry_as_terminal():
    terminal = {s for s in RemoteState if s.is_terminal}
    assert terminal == {RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.EXPIRED}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (1, 1),  # an int is a percent
        (1.0, 100),  # a float in 0..1 is a fraction
        (0.0, 0),
        (0.5, 50),
        (0.425, 43),
        ("42%", 42),
        (" 55 % ", 55),
        ("42.5%", 43),  # half-up
        (42, 42),
        (42.0, 42),
        (42.5, 43),
        ("0.42", 42),  # a decimal string in 0..1 is a fraction
        ("42", 42),
        ("1", 1),
        ("100%", 100),
        (150, 100),  # clamped
        (-5, 0),
        ("-3%", 0),
        (None, None),
        ("garbage", None),
        ("", None),
        ("%", None),
        (True, None),
        (float("nan"), None),
        ("inf", None),
        ([42], None),
    ],
)
def test_it_reads_progress_in_every_shape(value, expected):
    assert parse_progress(value) == expected


def test_it_reads_a_known_fraction_field_even_when_a_relay_sends_an_int():
    assert parse_progress(1, fraction=True) == 100
    assert parse_progress(0, fraction=True) == 0
    assert parse_progress("0.3", fraction=True) == 30


def test_it_lets_a_percent_sign_win_over_the_fraction_hint():
    assert parse_progress("1%", fraction=True) == 1


def test_it_can_be_told_a_value_is_a_percent():
    assert parse_progress(0.5, fraction=False) == 1  # 0.5 % rounds half-up to 1
    assert parse_progress("1.0", fraction=False) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "quota exceeded"}, "quota exceeded"),
        ({"error": {"message": "bad prompt", "code": "x"}}, "bad prompt"),
        ({"error": {"code": "moderation_blocked"}}, "moderation_blocked"),
        ({"fail_reason": "face detected in image"}, "face detected in image"),
        ({"message": "model not found"}, "model not found"),
        ({"msg": "token invalid"}, "token invalid"),
        ({"detail": "Not authenticated"}, "Not authenticated"),
        ({"detail": {"message": "nested reason"}}, "nested reason"),
        (
            {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}, {"msg": "too long"}]},
            "field required; too long",
        ),
        ({"error": None, "message": "fallback"}, "fallback"),
        ({"error": "", "fail_reason": "  padded  "}, "padded"),
        ({"error": {"message": "first"}, "message": "second"}, "first"),
        ({"status": "failed"}, None),
        ({"detail": {"pending_info": {"progress_pct": 0.5}}}, None),
        ({}, None),
        ("just a sentence", "just a sentence"),
        (None, None),
    ],
)
def test_it_finds_the_providers_reason(body, expected):
    assert find_error_text(body) == expected


# -- reasons from every field relays were seen to use (spec sections 1, 4, 7, 8) ------------

REFUSAL = "This content may violate our content policies."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "failed", "detail": {"failure_reason": REFUSAL}}, REFUSAL),
        ({"status": "FAILURE", "fail_reason": "upstream timeout"}, "upstream timeout"),
        ({"error": {"message": "render worker crashed", "code": "e500"}}, "render worker crashed"),
        ({"error": {"code": "moderation_blocked"}}, "moderation_blocked"),
        ({"status": "error", "message": "quota exhausted"}, "quota exhausted"),
        (
            {"response": {"generateVideoResponse": {"raiMediaFilteredReasons": ["celebrity"]}}},
            "celebrity",
        ),
        ({"raiMediaFilteredReasons": ["a child", "a weapon"]}, "a child; a weapon"),
        ({"detail": {"detail": {"failure_reason": "nested twice"}}}, "nested twice"),
        ({"data": {"task_id": "t", "fail_reason": "内容违规"}}, "内容违规"),
    ],
)
def test_it_finds_the_reason_in_every_field_relays_use(body, expected):
    assert find_error_text(body) == expected


def test_a_progress_object_is_not_mistaken_for_a_reason():
    assert find_error_text({"detail": {"pending_info": {"progress_pct": 0.4}}}) is None


@pytest.mark.parametrize(
    "text",
    [
        REFUSAL,
        "Your request was rejected by the safety system",
        "flagged by content moderation",
        "prompt violates usage policy",
        "视频内容审核未通过",
        "内容违规，请修改提示词",
        "包含敏感信息",
    ],
)
def test_it_recognises_moderation_in_english_and_chinese(text):
    assert is_moderation(text)


@pytest.mark.parametrize("text", ["upstream timeout", "服务器繁忙", "quota exhausted", "", None])
def test_it_does_not_call_other_failures_moderation(text):
    assert not is_moderation(text)
