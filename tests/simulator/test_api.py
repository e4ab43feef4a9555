"""The Python API of the simulator, its key check, and its command line."""

from __future__ import annotations

import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.management import call_command

from soraweb.simulator.management.commands.runsimulator import Command
from soraweb.simulator.server import Simulator
from tests.simulator.helpers import unified_body, wait_until

KEY = "sk-sim-VERYSECRET-123"


def test_it_counts_creates_across_formats_and_logs_requests(tag):
    with Simulator(job_seconds=30) as sim:
        base = sim.base_url
        requests.post(f"{base}/video/create", json=unified_body(prompt=f"{tag} a"), timeout=5)
        requests.post(f"{base}/videos", json={"prompt": f"{tag} b"}, timeout=5)
        task = requests.post(
            f"{base}/video/generations", json={"prompt": "other", "model": "m"}, timeout=5
        ).json()
        requests.get(f"{base}/video/generations/{task['task_id']}", timeout=5)
        requests.get(f"{base}/video/generations/{task['task_id']}", timeout=5)

        assert sim.create_count == 3
        assert sim.creates_for_prompt(tag) == 2
        assert sim.creates_for_prompt("other") == 1
        assert sim.requests_to("GET", "/v1/video/generations/") == 2
        assert ("POST", "/v1/videos") in sim.request_log
        assert sim.job(task["task_id"])["state"] == "queued"

        started = time.monotonic()
        sim.complete_now(task["task_id"])

        assert time.monotonic() - started < 5
        assert sim.job(task["task_id"])["state"] == "completed"
        assert sim.video_bytes(task["task_id"])[4:8] == b"ftyp"
        with pytest.raises(KeyError):
            sim.job("nope")


def test_it_makes_a_different_video_for_every_job(sim, tag):
    ids = [
        requests.post(
            f"{sim.base_url}/video/create", json=unified_body(prompt=f"{tag} same"), timeout=5
        ).json()["id"]
        for _ in range(2)
    ]
    for job_id in ids:
        sim.complete_now(job_id)

    first, second = (sim.video_bytes(job_id) for job_id in ids)

    assert first != second
    assert sim.video_bytes(ids[0]) == first  # made once, then the same bytes


def test_it_stays_consistent_under_concurrent_creates(sim, tag):
    def create(i):
        return requests.post(
            f"{sim.base_url}/video/create", json=unified_body(prompt=f"{tag} #{i}"), timeout=10
        ).json()["id"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(create, range(20)))

    assert len(set(ids)) == 20
    assert sim.creates_for_prompt(tag) == 20


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/video/create", {}),
        ("GET", "/video/query?id=x", None),
        ("POST", "/chat/completions", {}),
        ("POST", "/videos", {}),
        ("GET", "/videos/video_x", None),
        ("GET", "/videos/video_x/content", None),
        ("POST", "/video/generations", {}),
        ("GET", "/video/generations/task_x", None),
        ("GET", "/models", None),
    ],
)
def test_it_requires_the_bearer_key_on_every_route_and_never_echoes_it(method, path, body):
    with Simulator(api_key=KEY) as sim:
        url = sim.base_url + path
        missing = requests.request(method, url, json=body, timeout=5)
        wrong = requests.request(
            method, url, json=body, headers={"Authorization": "Bearer sk-WRONG-456"}, timeout=5
        )
        right = requests.request(
            method, url, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=5
        )

    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert answer.json()["error"]["message"]
        assert KEY not in answer.text
        assert "WRONG" not in answer.text
    assert right.status_code != 401


def test_it_serves_result_files_without_the_key_like_a_signed_url(tag):
    with Simulator(api_key=KEY, job_seconds=0.3) as sim:
        job_id = requests.post(
            f"{sim.base_url}/video/create",
            json=unified_body(prompt=f"{tag} files"),
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=5,
        ).json()["id"]
        sim.complete_now(job_id)

        answer = requests.get(sim.job(job_id)["video_url"], timeout=10)

    assert answer.status_code == 200


def test_it_stops_promptly_while_a_request_hangs(tag):
    sim = Simulator(hang_seconds=60).start()
    caught = []

    def hanging_create():
        try:
            requests.post(
                f"{sim.base_url}/video/create",
                json=unified_body(prompt=f"{tag} [sim:hang]"),
                timeout=30,
            )
        except requests.RequestException as exc:
            caught.append(exc)

    thread = threading.Thread(target=hanging_create)
    thread.start()
    wait_until(lambda: sim.creates_for_prompt(tag) == 1, timeout=5)

    started = time.monotonic()
    sim.stop()
    thread.join(timeout=10)

    assert time.monotonic() - started < 5
    assert not thread.is_alive()
    assert caught  # the client saw the connection close, not an answer


class _Lines(io.StringIO):
    """A stdout that can be read while the command is still writing to it."""


def test_it_runs_from_the_management_command_with_env_defaults(monkeypatch):
    monkeypatch.setenv("SORAWEB_SIMULATOR_API_KEY", KEY)
    out = _Lines()
    runner = threading.Thread(
        target=call_command,
        args=(Command(), "--port", "0", "--job-seconds", "2", "--serve-seconds", "2"),
        kwargs={"stdout": out},
    )
    runner.start()
    url = wait_until(lambda: re.search(r"listening on (http://\S+/v1)", out.getvalue()), timeout=5)

    anonymous = requests.get(f"{url.group(1)}/models", timeout=5)
    models = requests.get(
        f"{url.group(1)}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )
    runner.join(timeout=10)

    assert anonymous.status_code == 401
    assert models.status_code == 200
    assert {m["id"] for m in models.json()["data"]} >= {"sora-2", "sora-2-pro"}
    assert "stopped" in out.getvalue()
