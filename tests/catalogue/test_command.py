"""``manage.py catalogue export|import``: a round trip, and a broken file changes nothing."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from soraweb.catalogue.io import load_text
from soraweb.videos.models import VideoModel

pytestmark = pytest.mark.django_db


def test_presets_import_then_export_round_trips(tmp_path):
    call_command("catalogue", "import", presets=True)
    names = set(
        VideoModel.objects.filter(provider__from_environment=True).values_list("name", flat=True)
    )
    assert {"veo-3.1-generate-preview", "doubao-seedance-2-0", "sora-2", "sora-2-pro"} <= names
    out = tmp_path / "catalogue.json"
    call_command("catalogue", "export", str(out))
    exported = {m.name: m for m in load_text(out.read_text(encoding="utf-8"))}
    assert exported["veo-3.1-generate-preview"].param("resolution").allowed() == (
        "720p",
        "1080p",
        "4k",
    )
    # Importing the export again is a no-op: same rows, same entries.
    before = {m.name: m.spec for m in VideoModel.objects.all()}
    call_command("catalogue", "import", str(out))
    assert {m.name: m.spec for m in VideoModel.objects.all()} == before


def test_a_broken_file_names_the_line_and_imports_nothing(tmp_path):
    doc = {"format": "soraweb-catalogue", "version": 1,
           "models": [{"name": "ok-model", "params": [], "wire": {"newapi": {}}},
                      {"name": "bad-model", "params": [{"name": "x", "type": "float"}],
                       "wire": {"newapi": {}}}]}  # fmt: skip
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    before = VideoModel.objects.count()
    with pytest.raises(CommandError) as exc:
        call_command("catalogue", "import", str(path))
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if '"float"' in text)
    assert f"line {line}, column" in str(exc.value)
    assert "models[1].params[0].type" in str(exc.value)
    assert VideoModel.objects.count() == before
