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


def test_the_poster_is_the_frame_at_one_second_encoded_on_one_thread(
    tmp_path, settings, monkeypatch
):
    """The poster is FFmpeg's JPEG of the decoded frame at 1 s, in the frame's own colours (the
    video's limited range made full, as JPEG wants), and its encoder runs on one thread: FFmpeg's
    automatic threading gives each thread its own copy of the encoder's buffers (~3 MB more of
    the archive worker's peak at 2 cores, more with more) to make one small picture."""
    import av
    from PIL import ImageChops, ImageStat

    from soraweb.simulator.video import ClipSpec, extract_frame, render_clip

    settings.MEDIA_ROOT = str(tmp_path / "media")
    clip = tmp_path / "clip.mp4"
    render_clip(ClipSpec(360, 640, 2.0, 24, "a poster", "job 1", "poster-seed"), clip)
    encoders = []
    real = av.CodecContext

    class Spy:
        @staticmethod
        def create(*args, **kwargs):
            ctx = real.create(*args, **kwargs)
            encoders.append(ctx)
            return ctx

    monkeypatch.setattr(av, "CodecContext", Spy)
    facts = download.inspect_video(clip, poster=True)
    assert (facts.width, facts.height) == (360, 640) and facts.poster is not None
    [encoder] = encoders
    assert encoder.name == "mjpeg" and encoder.thread_count == 1
    with Image.open(facts.poster) as poster:
        assert poster.format == "JPEG" and poster.size == (360, 640)
        difference = ImageChops.difference(extract_frame(clip, 1.0), poster.convert("RGB"))
    assert max(ImageStat.Stat(difference).mean) < 6, ImageStat.Stat(difference).mean
