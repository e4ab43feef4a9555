"""The simulator's clips carry what was asked, so tests can check each (#11 item 7): a sound
track only when sound is on, and the first / last decoded frames are the given pictures.

Over real HTTP, through the pipeline: soraweb builds each format's body from the catalogue, the
simulator reads sound and frames where that model's mapping puts them, renders, and soraweb
archives the clip; PyAV decodes the archived file."""

from __future__ import annotations

import json

import av
import pytest

from soraweb.catalogue.presets import PRESETS_FILE
from soraweb.videos import services
from soraweb.videos.models import JobState, Provider, VideoModel
from tests.videos.test_pipeline import drive
from tests.videos.test_studio import png_bytes

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
PRESETS = {m["id"]: m for m in json.loads(PRESETS_FILE.read_text(encoding="utf-8"))["models"]}
RED, BLUE = (220, 30, 40), (30, 60, 210)
TOLERANCE = 25  # per channel, of the frame's mean colour (H.264 at a high CRF blurs edges)


def seedance(simulator, fmt: str) -> VideoModel:
    provider = Provider.objects.create(
        name=f"Relay {fmt}", base_url=simulator.base_url, wire_format=fmt, poll_interval_seconds=1
    )
    spec = PRESETS["seedance-2.0"]
    return VideoModel.objects.create(
        name=spec["name"], display_name="Seedance 2.0", provider=provider, spec=spec
    )


def picture(owner, color):
    data = png_bytes((320, 180), color)
    return services.reference_image_store(
        uploaded_by=owner,
        name="frame.png",
        content_type="image/png",
        data=data,
        width=320,
        height=180,
    )


def decoded(job):
    """(stream types, mean colour of the first and of the last video frame) of the saved file."""
    with job.video.open("rb") as fh, av.open(fh) as container:
        kinds = sorted(stream.type for stream in container.streams)
        first = last = None
        for frame in container.decode(video=0):
            image = frame.to_image().convert("RGB").resize((32, 18))
            pixels = list(image.get_flattened_data())
            mean = tuple(sum(p[i] for p in pixels) / len(pixels) for i in range(3))
            first = first or mean
            last = mean
    return kinds, first, last


def close(mean, color) -> bool:
    return all(abs(m - c) <= TOLERANCE for m, c in zip(mean, color, strict=True))


@pytest.mark.parametrize("fmt", ["unified", "newapi", "openai"])
def test_sound_on_has_an_audio_stream_and_frames_start_and_end_on_the_pictures(
    simulator, member, fmt
):
    model = seedance(simulator, fmt)
    duration = 4
    job = drive(
        services.job_create(
            owner=member,
            video_model=model,
            prompt_text=f"from red to blue with sound ({fmt})",
            params={
                "aspect_ratio": "16:9",
                "resolution": "720p",
                "audio": True,
                "duration": duration,
            },
            slots={"first_frame": [picture(member, RED)], "last_frame": [picture(member, BLUE)]},
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    kinds, first, last = decoded(job)
    assert kinds == ["audio", "video"]
    assert close(first, RED), first
    assert close(last, BLUE), last
    assert job.video_width > job.video_height  # 16:9, scaled down


@pytest.mark.parametrize("fmt", ["unified", "newapi", "openai"])
def test_sound_off_has_no_audio_stream(simulator, member, fmt):
    model = seedance(simulator, fmt)
    job = drive(
        services.job_create(
            owner=member,
            video_model=model,
            prompt_text=f"a silent harbour ({fmt})",
            params={"aspect_ratio": "9:16", "resolution": "480p", "audio": False, "duration": 4},
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    kinds, first, last = decoded(job)
    assert kinds == ["video"]
    # No pictures given: the clip is the simulator's own test pattern, not a solid colour.
    assert not close(first, RED) and not close(last, BLUE)
    assert job.video_width < job.video_height
