"""The new-api format (spec section 4) in both documented query shapes."""

from __future__ import annotations

import re

import pytest
import requests

from soraweb.simulator.server import Simulator
from tests.simulator.helpers import advance_until


def create(sim, prompt, **extra):
    body = {"prompt": prompt, "model": "sora-2", "size": "720x1280", **extra}
    if "seconds" not in body:
        body.setdefault("duration", 10)
    answer = requests.post(f"{sim.base_url}/video/generations", json=body, timeout=5)
    assert answer.status_code == 200
    return answer.json()


def test_it_runs_a_newapi_task_in_the_code_shape(clocked, tag):
    sim = clocked
    created = create(sim, f"{tag} lanterns", image="https://example.com/a.png")

    assert set(created) == {"task_id", "status"}
    seen = []

    def poll():
        answer = requests.get(f"{sim.base_url}/video/generations/{created['task_id']}", timeout=5)
        assert answer.status_code == 200
        seen.append(answer.json())
        return answer.json()["data"]["status"] == "SUCCESS"

    advance_until(sim, poll, step=0.1, limit=10)
    assert {s["code"] for s in seen} == {"success"}
    statuses = [s["data"]["status"] for s in seen]
    assert set(statuses) <= {"NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"}
    assert "IN_PROGRESS" in statuses
    assert all(re.fullmatch(r"\d{1,3}%", s["data"]["progress"]) for s in seen)
    done = seen[-1]["data"]
    assert done["progress"] == "100%"
    assert done["fail_reason"] == ""
    video = requests.get(done["result_url"], timeout=10)
    assert video.content == sim.video_bytes(created["task_id"])
    assert sim.job(created["task_id"])["images"] == ["https://example.com/a.png"]


def test_it_answers_in_the_flat_shape_when_asked_per_request(sim, tag):
    created = create(sim, f"{tag} [sim:fail=GPU on fire]", seconds="15")
    sim.complete_now(created["task_id"])
    url = f"{sim.base_url}/video/generations/{created['task_id']}"

    by_query = requests.get(url, params={"shape": "flat"}, timeout=5).json()
    by_header = requests.get(url, headers={"X-Sim-Newapi-Shape": "flat"}, timeout=5).json()
    coded = requests.get(url, timeout=5).json()

    assert by_query == by_header
    assert by_query["status"] == "failed"
    assert by_query["url"] is None
    assert by_query["error"]["message"] == "GPU on fire"
    assert coded["data"]["status"] == "FAILURE"
    assert coded["data"]["fail_reason"] == "GPU on fire"
    assert sim.job(created["task_id"])["seconds"] == 15


def test_it_answers_in_the_flat_shape_when_started_so(tag):
    with Simulator(job_seconds=0.5, newapi_shape="flat") as flat:
        created = create(flat, f"{tag} flat")
        flat.complete_now(created["task_id"])

        body = requests.get(
            f"{flat.base_url}/video/generations/{created['task_id']}", timeout=5
        ).json()

    assert body["status"] == "completed"
    assert body["url"].endswith(".mp4")
    assert body["error"] is None
    assert body["metadata"]["width"] < body["metadata"]["height"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "sora-2"}, "prompt"),
        ({"prompt": "x"}, "model"),
        ({"prompt": "x", "model": "sora-2", "duration": "long"}, "duration"),
        ({"prompt": "x", "model": "sora-2", "duration": 7}, "duration"),
        ({"prompt": "x", "model": "sora-2", "images": "not-a-list"}, "images"),
    ],
)
def test_it_rejects_an_invalid_newapi_create(sim, body, param):
    answer = requests.post(f"{sim.base_url}/video/generations", json=body, timeout=5)

    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def test_it_answers_task_not_exist_for_an_unknown_task(sim):
    answer = requests.get(f"{sim.base_url}/video/generations/task_missing", timeout=5)

    assert answer.status_code == 404
    assert answer.json()["code"] == "task_not_exist"
