"""The OpenAI-style Videos format (spec section 3), driven by the official openai client."""

from __future__ import annotations

import io
import time
import warnings

import openai
import pytest
import requests
from PIL import Image

from soraweb.simulator.server import Simulator
from tests.simulator.helpers import advance_until, probe


@pytest.fixture
def client(sim):
    # No automatic retries: the fault tests must see the first answer.
    return openai.OpenAI(base_url=sim.base_url, api_key="sk-unused", max_retries=0, timeout=10)


@pytest.fixture
def clocked_client(clocked):
    # No automatic retries: the fault tests must see the first answer.
    return openai.OpenAI(base_url=clocked.base_url, api_key="sk-unused", max_retries=0, timeout=10)


@pytest.fixture(autouse=True)
def _quiet_deprecations():
    # openai-python marks every videos.* method deprecated (the API shut down in 2026-09).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def png(width, height):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, format="PNG")
    return buf.getvalue()


def test_it_serves_the_official_client_from_create_to_download_and_remix(
    clocked, clocked_client, tag
):
    sim, client = clocked, clocked_client
    video = client.videos.create(
        prompt=f"{tag} a red fox in snow",
        model="sora-2",
        seconds="8",
        size="1280x720",
        input_reference=("ref.png", png(1280, 720), "image/png"),
    )

    assert video.id.startswith("video_")
    assert video.object == "video"
    assert video.status == "queued"
    assert video.seconds == "8"
    assert video.size == "1280x720"
    assert video.error is None
    assert abs(video.created_at - time.time()) < 5  # unix seconds
    assert sim.job(video.id)["images"] == ["upload:ref.png"]

    states = []

    def finished():
        raw = client.videos.with_raw_response.retrieve(video.id)
        current = raw.parse()
        states.append((current.status, current.progress, raw.headers.get("openai-poll-after-ms")))
        return current if current.status == "completed" else None

    done = advance_until(sim, finished, step=0.1, limit=10)
    assert "in_progress" in [s for s, _, _ in states]
    assert all(isinstance(p, int) and 0 <= p <= 100 for _, p, _ in states)
    assert all(int(h) > 0 for s, _, h in states if s != "completed")
    assert done.progress == 100
    assert done.completed_at >= done.created_at
    assert done.expires_at > done.completed_at

    content = client.videos.download_content(video.id).read()
    assert content == sim.video_bytes(video.id)
    info = probe(content)
    assert info["codec"] == "h264"
    assert info["width"] > info["height"]
    assert 7.5 <= info["duration"] <= 8.5
    thumbnail = client.videos.download_content(video.id, variant="thumbnail").read()
    assert thumbnail[:4] == b"RIFF" and thumbnail[8:12] == b"WEBP"
    sprites = client.videos.download_content(video.id, variant="spritesheet").read()
    assert sprites[:3] == b"\xff\xd8\xff"

    remix = client.videos.remix(video.id, prompt=f"{tag} the same fox, at night")
    assert remix.remixed_from_video_id == video.id
    assert remix.id != video.id
    assert remix.size == "1280x720"
    assert remix.seconds == "8"
    assert sim.creates_for_prompt(tag) == 2

    listed = [v.id for v in client.videos.list(limit=1)]  # pages through `after`
    assert listed.index(remix.id) < listed.index(video.id)  # newest first

    deleted = client.videos.delete(video.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)


def test_it_rejects_an_integer_seconds_like_the_real_api(sim, tag):
    answer = requests.post(
        f"{sim.base_url}/videos", json={"prompt": f"{tag} x", "seconds": 8}, timeout=5
    )

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == "seconds"
    assert "integer" in error["message"]
    assert sim.creates_for_prompt(tag) == 0


def test_it_accepts_json_and_the_pro_only_sizes_for_pro(sim, tag):
    pro = requests.post(
        f"{sim.base_url}/videos",
        json={"prompt": f"{tag} a", "model": "sora-2-pro", "size": "1024x1792", "seconds": "12"},
        timeout=5,
    )
    not_pro = requests.post(
        f"{sim.base_url}/videos",
        json={"prompt": f"{tag} b", "model": "sora-2", "size": "1024x1792"},
        timeout=5,
    )

    assert pro.status_code == 200
    assert pro.json()["seconds"] == "12"
    assert sim.job(pro.json()["id"])["orientation"] == "portrait"
    assert not_pro.status_code == 400
    assert not_pro.json()["error"]["param"] == "size"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 32001}, "prompt"),
        ({"prompt": "ok", "seconds": "5"}, "seconds"),
        ({"prompt": "ok", "size": "1920x1080"}, "size"),
    ],
)
def test_it_rejects_invalid_multipart_fields(sim, fields, param):
    answer = requests.post(
        f"{sim.base_url}/videos",
        files={k: (None, v) for k, v in fields.items()} or {"model": (None, "sora-2")},
        timeout=5,
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def test_it_rejects_a_reference_image_that_does_not_match_the_size(client, sim, tag):
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(
            prompt=f"{tag} mismatch",
            size="720x1280",
            input_reference=("ref.png", png(1280, 720), "image/png"),
        )

    assert "must match the requested width and height" in str(caught.value)
    assert sim.creates_for_prompt(tag) == 0


def test_it_refuses_content_until_the_video_is_completed(sim, client, tag):
    video = client.videos.create(prompt=f"{tag} [sim:slow=30]")

    answer = requests.get(f"{sim.base_url}/videos/{video.id}/content", timeout=5)
    bad_variant = requests.get(
        f"{sim.base_url}/videos/{video.id}/content", params={"variant": "gif"}, timeout=5
    )

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "video_not_ready"
    assert bad_variant.status_code == 400
    with pytest.raises(openai.BadRequestError):
        client.videos.remix(video.id, prompt="too early")


def test_it_reports_a_moderation_failure_in_the_video_object(sim, client, tag):
    video = client.videos.create(prompt=f"{tag} [sim:moderation]")
    sim.complete_now(video.id)

    failed = client.videos.retrieve(video.id)

    assert failed.status == "failed"
    assert failed.error.code == "moderation_blocked"
    assert "content moderation" in failed.error.message
    assert requests.get(f"{sim.base_url}/videos/{video.id}/content", timeout=5).status_code == 404


def test_it_can_answer_content_with_a_redirect_to_the_file(tag):
    with Simulator(job_seconds=0.3, content_redirect=True) as sim:
        video_id = requests.post(
            f"{sim.base_url}/videos", json={"prompt": f"{tag} redirect"}, timeout=5
        ).json()["id"]
        sim.complete_now(video_id)

        hop = requests.get(
            f"{sim.base_url}/videos/{video_id}/content", allow_redirects=False, timeout=5
        )
        followed = requests.get(f"{sim.base_url}/videos/{video_id}/content", timeout=10)

        assert hop.status_code == 302
        assert hop.headers["Location"].startswith(f"{sim.base_url}/files/")
        assert followed.content == sim.video_bytes(video_id)
