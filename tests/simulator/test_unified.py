"""The unified relay format (spec section 1) over real HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.simulator.helpers import advance_until, probe, unified_body


def test_it_runs_a_unified_job_from_pending_to_a_playable_video(clocked, tag):
    sim = clocked
    created = requests.post(
        f"{sim.base_url}/video/create", json=unified_body(prompt=f"{tag} boats"), timeout=5
    )

    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"id", "status", "status_update_time"}
    model, _, task = body["id"].partition(":")
    assert model == "sora-2"
    assert task.startswith("task_")
    assert len(task) == len("task_") + 26
    assert task[5:].isalnum() and task[5:] == task[5:].lower()
    assert body["status"] == "pending"
    assert body["status_update_time"] > 1_700_000_000_000  # milliseconds

    seen = []

    def poll():
        # requests url-encodes the colon in the id, as the spec asks clients to.
        answer = requests.get(f"{sim.base_url}/video/query", params={"id": body["id"]}, timeout=5)
        assert answer.status_code == 200
        seen.append(answer.json())
        return answer.json()["status"] == "completed"

    advance_until(sim, poll, step=0.1, limit=10)
    statuses = [s["status"] for s in seen]
    assert statuses[0] == "pending"
    assert "processing" in statuses
    fractions = [s["detail"]["pending_info"]["progress_pct"] for s in seen]
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert any(0.0 < f < 1.0 for f in fractions)
    assert all(s["video_url"] is None for s in seen if s["status"] != "completed")

    done = seen[-1]
    assert done["video_url"].startswith(sim.base_url + "/files/")
    assert done["enhanced_prompt"]
    assert done["width"] < done["height"]
    assert done["n_frames"] == 10 * sim.video_fps
    video = requests.get(done["video_url"], timeout=10)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert int(video.headers["Content-Length"]) == len(video.content)
    assert video.content == sim.video_bytes(body["id"])
    info = probe(video.content)
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert (info["width"], info["height"]) == (done["width"], done["height"])
    assert 9.5 <= info["duration"] <= 10.5
    assert info["kinds"] == ["audio", "video"]
    # +faststart: the moov atom comes before the media data, so browsers play at once.
    assert video.content.index(b"moov") < video.content.index(b"mdat")


def test_it_makes_a_landscape_clip_for_a_landscape_request(sim, tag):
    body = unified_body(
        prompt=f"{tag} dunes",
        orientation="landscape",
        model="sora-2-pro",
        size="large",
        duration=15,
    )
    job_id = requests.post(f"{sim.base_url}/video/create", json=body, timeout=5).json()["id"]
    sim.complete_now(job_id)

    answer = requests.get(f"{sim.base_url}/video/query", params={"id": job_id}, timeout=5).json()
    info = probe(requests.get(answer["video_url"], timeout=10).content)

    assert job_id.startswith("sora-2-pro:task_")
    assert answer["status"] == "completed"
    assert info["width"] > info["height"]
    assert info["width"] > sim.video_width_small * 16 / 9  # large, not small
    assert 14.5 <= info["duration"] <= 15.5


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"images": None}, "images"),
        ({"model": None}, "model"),
        ({"orientation": None}, "orientation"),
        ({"prompt": None}, "prompt"),
        ({"size": None}, "size"),
        ({"duration": None}, "duration"),
        ({"images": "http://example.com/a.png"}, "array"),
        ({"images": [42]}, "images[0]"),
        ({"model": "sora-2-pro", "size": "small", "duration": 15}, "size"),
        ({"orientation": "square"}, "orientation"),
        ({"size": "medium"}, "size"),
        ({"duration": 25}, "duration"),
        ({"model": "sora-2-pro", "size": "large", "duration": 10}, "duration"),
        ({"duration": "ten"}, "duration"),
        ({"duration": True}, "duration"),
        ({"prompt": "   "}, "prompt"),
    ],
)
def test_it_rejects_an_invalid_unified_create_with_a_readable_400(sim, tag, change, words):
    body = unified_body(prompt=f"{tag} invalid")
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value

    answer = requests.post(f"{sim.base_url}/video/create", json=body, timeout=5)

    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    assert words in message
    assert sim.creates_for_prompt(tag) == 0


def test_it_rejects_a_body_that_is_not_json(sim):
    answer = requests.post(
        f"{sim.base_url}/video/create",
        data=b"prompt=cat",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )

    assert answer.status_code == 400
    assert "JSON" in answer.json()["error"]["message"]


def test_it_accepts_string_durations_and_unknown_catalogue_models(sim, tag):
    as_string = requests.post(
        f"{sim.base_url}/video/create",
        json=unified_body(prompt=f"{tag} a", duration="15"),
        timeout=5,
    )
    new_model = requests.post(
        f"{sim.base_url}/video/create",
        json=unified_body(prompt=f"{tag} b", model="seedance-1-pro", duration=5),
        timeout=5,
    )

    assert as_string.status_code == 200
    assert new_model.status_code == 200
    assert sim.job(as_string.json()["id"])["seconds"] == 15
    assert new_model.json()["id"].startswith("seedance-1-pro:task_")
    assert sim.creates_for_prompt(tag) == 2


def test_it_answers_404_for_an_unknown_task(sim):
    answer = requests.get(
        f"{sim.base_url}/video/query", params={"id": "sora-2:task_nope"}, timeout=5
    )

    assert answer.status_code == 404
    assert "sora-2:task_nope" in answer.json()["error"]["message"]


def test_it_serves_result_files_with_ranges(sim, tag):
    job_id = requests.post(
        f"{sim.base_url}/video/create", json=unified_body(prompt=f"{tag} ranges"), timeout=5
    ).json()["id"]
    sim.complete_now(job_id)
    url = sim.job(job_id)["video_url"]
    whole = sim.video_bytes(job_id)

    head = requests.head(url, timeout=5)
    first = requests.get(url, headers={"Range": "bytes=0-99"}, timeout=5)
    rest = requests.get(url, headers={"Range": "bytes=100-"}, timeout=5)
    tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=5)
    beyond = requests.get(url, headers={"Range": f"bytes={len(whole)}-"}, timeout=5)

    assert head.status_code == 200
    assert head.headers["Accept-Ranges"] == "bytes"
    assert int(head.headers["Content-Length"]) == len(whole)
    assert head.content == b""
    assert first.status_code == 206
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert first.content == whole[:100]
    assert rest.status_code == 206
    assert first.content + rest.content == whole
    assert tail.content == whole[-10:]
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(whole)}"
