"""The simulator's drift switches (drift.py): each answer shape exactly as a drifted relay sends
it, so the client tests that lean on them test the real thing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from soraweb.simulator.drift import long_id
from soraweb.simulator.server import Simulator
from tests.simulator.helpers import advance_until


def openai_create(sim, prompt):
    answer = requests.post(f"{sim.base_url}/videos", json={"prompt": prompt}, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def newapi_create(sim, prompt):
    body = {"prompt": prompt, "model": "sora-2", "duration": 10}
    return requests.post(f"{sim.base_url}/video/generations", json=body, timeout=5).json()[
        "task_id"
    ]


def test_a_long_id_has_the_length_asked_and_every_awkward_character():
    made = long_id("video_abc", 1000)
    assert len(made) == 1000 and made.startswith("video_abc")
    assert all(char in made for char in "=:/%+")
    assert long_id("video_abd", 1000) != made


def test_longid_hands_out_long_ids_that_work_in_every_route(sim, tag):
    video = openai_create(sim, f"{tag} [sim:longid=1300]")
    assert len(video) == 1300
    sim.complete_now(video)
    path = f"{sim.base_url}/videos/{quote(video, safe='')}"
    assert requests.get(path, timeout=5).json()["id"] == video
    assert requests.get(path + "/content", timeout=5).content[4:8] == b"ftyp"


def test_nourl_answers_like_new_api_rc30_and_serves_the_bytes_at_content(sim, tag):
    task = newapi_create(sim, f"{tag} [sim:nourl]")
    sim.complete_now(task)
    status = requests.get(f"{sim.base_url}/video/generations/{task}", timeout=5).json()["data"]
    assert status["status"] == "SUCCESS" and status["result_url"] == ""
    rc30 = requests.get(f"{sim.base_url}/videos/{task}", timeout=5).json()
    assert rc30 == {"task_id": task, "status": "SUCCESS", "progress": "100%", "fail_reason": ""}
    content = requests.get(f"{sim.base_url}/videos/{task}/content", timeout=5)
    assert content.content == sim.video_bytes(task)


def test_metaurl_moves_the_url_to_metadata(sim, tag):
    task = newapi_create(sim, f"{tag} [sim:metaurl]")
    sim.complete_now(task)
    data = requests.get(f"{sim.base_url}/video/generations/{task}", timeout=5).json()["data"]
    assert data["result_url"] == ""
    assert data["metadata"]["url"] == sim.job(task)["video_url"]


def test_novariant_serves_the_mp4_for_a_thumbnail(sim, tag):
    video = openai_create(sim, f"{tag} [sim:novariant]")
    sim.complete_now(video)
    thumb = requests.get(f"{sim.base_url}/videos/{video}/content?variant=thumbnail", timeout=5)
    assert thumb.headers["Content-Type"] == "video/mp4"
    assert thumb.content == sim.video_bytes(video)


def test_nodelete_answers_405(sim, tag):
    video = openai_create(sim, f"{tag} [sim:nodelete]")
    answer = requests.delete(f"{sim.base_url}/videos/{video}", timeout=5)
    assert answer.status_code == 405
    assert sim.job(video)["state"] != "deleted"


@pytest.mark.parametrize(("marker", "word"), [("unknown", "unknown"), ("emptystatus", "")])
def test_running_status_words(clocked, tag, marker, word):
    sim = clocked
    video = openai_create(sim, f"{tag} [sim:{marker}][sim:slow=3]")
    advance_until(sim, lambda: sim.job(video)["state"] == "running", step=0.05, limit=5)
    assert requests.get(f"{sim.base_url}/videos/{video}", timeout=5).json()["status"] == word


def test_refusal_puts_the_reason_only_in_detail_failure_reason(sim, tag):
    answer = requests.post(
        f"{sim.base_url}/video/create",
        json={
            "images": [],
            "model": "sora-2",
            "orientation": "portrait",
            "prompt": f"{tag} [sim:refusal]",
            "size": "small",
            "duration": 10,
        },
        timeout=5,
    ).json()
    sim.complete_now(answer["id"])
    body = requests.get(f"{sim.base_url}/video/query", params={"id": answer["id"]}, timeout=5)
    body = body.json()
    assert body["status"] == "failed"
    assert "fail_reason" in body and body["fail_reason"] is None
    assert body["detail"]["failure_reason"] == "This content may violate our content policies."


@pytest.mark.parametrize(
    ("style", "value"), [("percent", 100), ("string", "100%"), ("fraction", 1.0), ("zero", 0)]
)
def test_progress_styles_on_success(sim, tag, style, value):
    video = openai_create(sim, f"{tag} [sim:progress={style}]")
    sim.complete_now(video)
    body = requests.get(f"{sim.base_url}/videos/{video}", timeout=5).json()
    assert body["status"] == "completed"
    assert body["progress"] == value and type(body["progress"]) is type(value)


def test_progress_none_leaves_the_field_out(sim, tag):
    video = openai_create(sim, f"{tag} [sim:progress=none]")
    assert "progress" not in requests.get(f"{sim.base_url}/videos/{video}", timeout=5).json()


def test_objecttools_refuses_string_tools_and_takes_objects(sim, tag):
    def chat(tools):
        body = {
            "model": "sora-2",
            "messages": [{"role": "user", "content": f"{tag} [sim:objecttools]"}],
            "stream": False,
            "tools": tools,
        }
        return requests.post(f"{sim.base_url}/chat/completions", json=body, timeout=30)

    refused = chat(["function:generate_animate"])
    assert refused.status_code == 400
    assert "expected an object" in refused.json()["error"]["message"]
    taken = chat([{"type": "function", "function": {"name": "generate_animate"}}])
    assert taken.status_code == 200


def test_drift_for_the_whole_simulator():
    with Simulator(job_seconds=0.2, prerender=False, drift=("longid", "nodelete")) as sim:
        video = openai_create(sim, "no marker in this prompt")
        assert len(video) == 1200
        assert (
            requests.delete(f"{sim.base_url}/videos/{quote(video, safe='')}", timeout=5).status_code
            == 405
        )
