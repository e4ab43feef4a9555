"""The video frame soraweb fits pictures to (and the form shows) is what the relay is asked for."""

from __future__ import annotations

from soraweb.videos.params import frame_of


def test_a_body_that_names_the_resolution_gets_that_resolutions_frame():
    # Seedance at a unified relay: size "large" beside resolution "1080p" is 1920x1080.
    body = {
        "orientation": "landscape",
        "size": "large",
        "aspect_ratio": "16:9",
        "resolution": "1080p",
    }
    assert frame_of(body, {"aspect_ratio": "16:9", "resolution": "1080p"}) == (1920, 1080)
    assert frame_of(
        {**body, "aspect_ratio": "9:16", "resolution": "720p"},
        {
            "aspect_ratio": "9:16",
            "resolution": "720p",
        },
    ) == (720, 1280)


def test_the_old_tokens_alone_keep_their_openai_sizes():
    body = {"orientation": "portrait", "size": "large"}
    assert frame_of(body, {"aspect_ratio": "9:16", "resolution": "1080p"}) == (1024, 1792)
    assert frame_of({"size": "1280*720"}, {}) == (1280, 720)
