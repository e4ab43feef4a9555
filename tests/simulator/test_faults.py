"""Fault markers in prompts: each misbehaviour, over real HTTP."""

from __future__ import annotations

import json
import time

import pytest
import requests

from soraweb.simulator import faults
from tests.simulator.helpers import advance_until, unified_body


def unified_create(sim, prompt, timeout=5.0):
    return requests.post(
        f"{sim.base_url}/video/create", json=unified_body(prompt=prompt), timeout=timeout
    )


def unified_query(sim, job_id, timeout=5.0):
    return requests.get(f"{sim.base_url}/video/query", params={"id": job_id}, timeout=timeout)


def test_it_parses_markers_in_one_place():
    parsed = faults.parse("a cat [SIM:429=2] [sim:pollhang] [sim:expire=1.5] [sim:nonsense] [x]")

    assert parsed.create_429 == 2
    assert parsed.poll_hang == 1
    assert parsed.expire_after == 1.5
    assert parsed.failure_reason is None
    assert faults.parse("[sim:moderation]").failure_reason == faults.DEFAULT_MODERATION_REASON
    assert faults.parse("[sim:fail=out of GPUs]").failure_reason == "out of GPUs"
    assert faults.parse("plain prompt") == faults.Faults()
    assert faults.strip_markers("a [sim:slow=3] cat") == "a cat"


def test_it_answers_429_with_retry_after_and_stores_nothing_then_accepts(sim, tag):
    prompt = f"{tag} [sim:429]"

    first = unified_create(sim, prompt)

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert first.headers["retry-after-ms"] == "1000"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert sim.creates_for_prompt(tag) == 0

    second = unified_create(sim, prompt)

    assert second.status_code == 200
    assert sim.creates_for_prompt(tag) == 1
    assert sim.attempts_for_prompt(tag) == 2


def test_it_serves_create_rejections_in_order(sim, tag):
    prompt = f"{tag} [sim:429][sim:502=2]"

    codes = [unified_create(sim, prompt).status_code for _ in range(4)]

    assert codes == [429, 502, 502, 200]
    assert sim.creates_for_prompt(tag) == 1


def test_it_answers_502_with_an_html_page_on_create_and_on_query(sim, tag):
    rejected = requests.post(
        f"{sim.base_url}/video/generations",
        json={"prompt": f"{tag} [sim:502]", "model": "sora-2"},
        timeout=5,
    )
    job_id = unified_create(sim, f"{tag} [sim:poll502=2]").json()["id"]

    queries = [unified_query(sim, job_id) for _ in range(3)]

    assert rejected.status_code == 502
    assert rejected.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in rejected.text
    assert [q.status_code for q in queries] == [502, 502, 200]
    assert queries[0].headers["Content-Type"].startswith("text/html")
    assert sim.creates_for_prompt(tag) == 1


def test_it_answers_429_to_status_queries(sim, tag):
    created = requests.post(
        f"{sim.base_url}/videos", json={"prompt": f"{tag} [sim:poll429]"}, timeout=5
    ).json()

    first = requests.get(f"{sim.base_url}/videos/{created['id']}", timeout=5)
    second = requests.get(f"{sim.base_url}/videos/{created['id']}", timeout=5)

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert second.status_code == 200
    assert second.json()["id"] == created["id"]


def test_it_answers_garbage_that_is_not_json(sim, tag):
    create = requests.post(
        f"{sim.base_url}/chat/completions",
        json={"model": "sora-2", "messages": [{"role": "user", "content": f"{tag} [sim:garbage]"}]},
        timeout=5,
    )
    task = requests.post(
        f"{sim.base_url}/video/generations",
        json={"prompt": f"{tag} [sim:pollgarbage]", "model": "sora-2"},
        timeout=5,
    ).json()
    query = requests.get(f"{sim.base_url}/video/generations/{task['task_id']}", timeout=5)

    for answer in (create, query):
        assert answer.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.text)
    assert sim.creates_for_prompt(f"{tag} [sim:garbage]") == 0
    assert sim.creates_for_prompt(f"{tag} [sim:pollgarbage]") == 1


def test_it_stores_the_job_then_hangs_on_create(sim, tag):
    prompt = f"{tag} [sim:hang]"

    with pytest.raises(requests.exceptions.ReadTimeout):
        unified_create(sim, prompt, timeout=0.5)

    # The outcome was unknown to the client, but the job exists and runs.
    assert sim.creates_for_prompt(tag) == 1
    (job,) = [j for j in sim.jobs() if tag in j["prompt"]]
    assert unified_query(sim, job["id"]).status_code == 200
    started = time.monotonic()
    assert unified_create(sim, prompt, timeout=5).status_code == 200  # only the first hangs
    assert time.monotonic() - started < 1.0
    assert sim.creates_for_prompt(tag) == 2


def test_it_hangs_on_a_status_query(sim, tag):
    job_id = unified_create(sim, f"{tag} [sim:pollhang]").json()["id"]

    with pytest.raises(requests.exceptions.ReadTimeout):
        unified_query(sim, job_id, timeout=0.5)
    second = unified_query(sim, job_id, timeout=5)

    assert second.status_code == 200


def test_it_expires_the_result_url_after_completion(clocked, tag):
    sim = clocked
    unified_id = unified_create(sim, f"{tag} [sim:expire=3]").json()["id"]
    openai_id = requests.post(
        f"{sim.base_url}/videos", json={"prompt": f"{tag} [sim:expire=3]"}, timeout=5
    ).json()["id"]
    sim.complete_now(unified_id)
    sim.complete_now(openai_id)
    url = unified_query(sim, unified_id).json()["video_url"]
    fresh = requests.get(url, timeout=5)

    sim.clock.advance(3.2)  # the links live 3 s
    status = unified_query(sim, unified_id).json()
    stale = requests.get(url, timeout=5)
    video = requests.get(f"{sim.base_url}/videos/{openai_id}", timeout=5).json()
    content = requests.get(f"{sim.base_url}/videos/{openai_id}/content", timeout=5)

    assert fresh.status_code == 200
    assert status["status"] == "expired"
    assert status["video_url"] is None
    assert stale.status_code == 403
    assert b"Request has expired" in stale.content
    assert video["expires_at"] <= sim.clock.now()
    assert content.status_code == 404
    assert content.json()["error"]["code"] == "video_expired"
    assert sim.job(unified_id)["state"] == "expired"


def test_it_fails_jobs_for_moderation_and_generic_errors(clocked, tag):
    sim = clocked
    moderated = unified_create(sim, f"{tag} [sim:moderation]").json()["id"]
    broken = unified_create(sim, f"{tag} [sim:fail]").json()["id"]

    def both_failed():
        answers = [unified_query(sim, moderated).json(), unified_query(sim, broken).json()]
        return answers if all(a["status"] == "failed" for a in answers) else None

    first, second = advance_until(sim, both_failed, step=0.1, limit=5)
    assert first["fail_reason"] == (
        "The prompt was flagged by content moderation: depicts a real person"
    )
    assert second["fail_reason"] == faults.DEFAULT_FAIL_REASON
    assert first["video_url"] is None
    with pytest.raises(LookupError):
        sim.video_bytes(moderated)


def test_it_answers_a_chat_shaped_200_without_a_task_id(sim, tag):
    answer = unified_create(sim, f"{tag} [sim:noid]")

    assert answer.status_code == 200
    assert answer.json()["object"] == "chat.completion"
    assert "id" in answer.json() and ":task_" not in answer.json()["id"]
    assert sim.creates_for_prompt(tag) == 0


def test_it_keeps_stuck_jobs_running_and_speaks_odd_statuses(clocked, tag):
    sim = clocked
    stuck = unified_create(sim, f"{tag} [sim:stuck]").json()["id"]
    odd = unified_create(sim, f"{tag} [sim:oddstatus][sim:slow=3]").json()["id"]
    sim.clock.advance(0.6)  # past the odd job's queue phase (15% of 3 s)
    odd_now = unified_query(sim, odd).json()
    sim.clock.advance(sim.job_seconds)  # past the stuck job's planned end
    stuck_now = unified_query(sim, stuck).json()

    assert odd_now["status"] == "rendering"
    assert stuck_now["status"] == "processing"
    assert stuck_now["detail"]["pending_info"]["progress_pct"] == 0.5


def _boxes(data: bytes) -> list[tuple[bytes, int]]:
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append((data[offset + 4 : offset + 8], size))
        offset += size
    return boxes


@pytest.mark.parametrize("layout", ["", "[sim:moovlast]"])
def test_bigfile_serves_a_large_valid_mp4_with_the_moov_where_asked(sim, tag, layout):
    from tests.simulator.helpers import probe

    assert faults.parse("[sim:bigfile]").file_mb == faults.BIG_FILE_DEFAULT_MB
    assert faults.parse("[sim:bigfile=99999]").file_mb == faults.BIG_FILE_MAX_MB
    job_id = unified_create(sim, f"{tag} big [sim:bigfile=9]{layout}").json()["id"]
    sim.complete_now(job_id)
    url = sim.job(job_id)["video_url"]
    head = requests.head(url, timeout=5)
    assert head.headers["Content-Length"] == str(9 * 1024 * 1024)
    data = requests.get(url, timeout=10).content
    assert len(data) == 9 * 1024 * 1024
    kinds = [kind for kind, _ in _boxes(data)]
    # The padding is a free box (players skip it); nothing the sample offsets point into moves.
    assert kinds[0] == b"ftyp" and b"free" in kinds and b"mdat" in kinds
    assert kinds.index(b"moov") > kinds.index(b"mdat") if layout else kinds[1] == b"moov"
    assert (kinds[-1] == b"moov") == bool(layout)
    assert probe(data)["frames"] > 0  # still a video that decodes
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=5)
    assert part.status_code == 206 and part.content == data[100:200]
