"""The catalogue file: export and import round trip, and errors that name the line."""

from __future__ import annotations

import json

import pytest

from soraweb.catalogue.io import CatalogueFileError, export_text, load_text
from soraweb.catalogue.presets import PRESETS_FILE, load_presets


def test_round_trip_keeps_every_model_exactly():
    models = load_presets()
    text = export_text(models)
    again = load_text(text)
    assert again == models
    assert export_text(again) == text
    assert text == PRESETS_FILE.read_text(encoding="utf-8")


def test_a_syntax_error_names_its_line():
    text = '{\n  "format": "soraweb-catalogue",\n  "version": 1\n  "models": []\n}\n'
    with pytest.raises(CatalogueFileError) as exc:
        load_text(text)
    (problem,) = exc.value.problems
    assert problem.line == 4


def test_each_semantic_error_names_the_line_of_the_bad_value():
    doc = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    doc["models"] = doc["models"][:2]
    doc["models"][1]["params"][2]["type"] = "float"
    doc["models"][1]["rules"][0]["then"] = {"colour": ["red"]}
    del doc["models"][0]["name"]
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    lines = text.splitlines()
    with pytest.raises(CatalogueFileError) as exc:
        load_text(text)
    found = {p.path: p for p in exc.value.problems}
    # params[2] is the duration: once it is broken, everything that refers to it says so too.
    assert set(found) == {
        "models[0].name",
        "models[1].params[2].type",
        "models[1].rules[0].then.colour",
        "models[1].rules[1].then.duration",
        "models[1].price.seconds_param",
        "models[1].wire.openai.allow.duration",
    }
    bad_type = found["models[1].params[2].type"]
    assert lines[bad_type.line - 1].strip() == '"type": "float",'
    assert lines[bad_type.line - 1][bad_type.column - 1 :].startswith('"float"')
    assert lines[found["models[1].rules[0].then.colour"].line - 1].strip() == '"colour": ['
    # A missing key points at the object that lacks it: the first model's opening brace.
    missing = found["models[0].name"]
    assert (
        lines[missing.line - 1].strip() == "{" and lines[missing.line - 2].strip() == '"models": ['
    )
    assert str(bad_type).startswith(f"line {bad_type.line}, column {bad_type.column}: models[1]")


def test_the_wrong_kind_of_file_is_refused_plainly():
    with pytest.raises(CatalogueFileError) as exc:
        load_text('{"format": "something-else", "version": 1, "models": []}')
    assert [p.path for p in exc.value.problems] == ["format"]
