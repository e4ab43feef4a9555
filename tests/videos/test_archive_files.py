"""Saving large videos: stored whole, and checked with a poster taken from reading back only the
index (the moov box, at the start or the end of the file) and the first second of frames."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from soraweb.videos.pipeline import download
from tests.factories import service_job
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.parametrize("layout", ["", "[sim:moovlast]"], ids=["moov-first", "moov-last"])
def test_a_large_video_is_saved_whole_and_read_back_only_for_its_index_and_poster(
    sim_provider, simulator, member, monkeypatch, layout
):
    seen = []
    real = download.inspect_video

    def spy(path, **kwargs):
        facts = real(path, **kwargs)
        seen.append((path.stat().st_size, facts.bytes_read, kwargs))
        return facts

    monkeypatch.setattr(download, "inspect_video", spy)
    job = drive(service_job(member, f"a large video to save [sim:bigfile=48]{layout}"))
    assert job.state == "succeeded", job.error_message
    served = simulator.video_bytes(job.remote_id)
    assert len(served) == 48 * 1024 * 1024
    digest = hashlib.sha256()
    with job.video.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    assert job.video_sha256 == digest.hexdigest() == hashlib.sha256(served).hexdigest()
    # One pass over the file, for the check and the poster together, reading a small part of it.
    [(size, read_back, kwargs)] = seen
    assert size == len(served) and kwargs == {"poster": True}
    assert read_back < 2 * 1024 * 1024, read_back
    with job.poster.open("rb") as fh, Image.open(fh) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (job.video_width, job.video_height)
        # A frame, not a blank: the test pattern has many colours.
        assert len(poster.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
