"""Ids of any length, through the real pipeline against the simulator (no gateway needed).

LiteLLM hands out 266-character ids and chained gateways nest them further; soraweb once cut
them at 255 and every status query then asked for a job that does not exist. The simulator's
``[sim:longid=N]`` switch hands out ids of N characters full of ``= : / % +``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest

from soraweb.videos import services
from soraweb.videos.models import JobEvent, JobState, VideoJob, WebhookDelivery
from soraweb.videos.pipeline import poll
from tests.videos.test_formats import catalogue, submit  # noqa: F401 - fixture
from tests.videos.test_pipeline import drive

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Where each polled format puts the id when it asks for a status.
STATUS_PATHS = {"openai": "/v1/videos/", "newapi": "/v1/video/generations/"}


def assert_hostile(remote_id: str, length: int) -> None:
    assert len(remote_id) >= length
    for char in "=:/%+":
        assert char in remote_id


@pytest.mark.parametrize("fmt", ["unified", "openai", "newapi", "chat"])
def test_a_long_id_is_stored_and_sent_in_full_in_every_format(fmt, catalogue, simulator, member):  # noqa: F811
    job = drive(submit(member, catalogue[fmt], f"a heron at dawn longid-{fmt} [sim:longid=1100]"))
    assert job.state == JobState.SUCCEEDED, job.error_message
    assert_hostile(job.remote_id, 1100)
    # The simulator knows the job by exactly this id, and served its bytes to us.
    with job.video.open("rb") as fh:
        assert fh.read() == simulator.video_bytes(job.remote_id)
    accepted = JobEvent.objects.filter(job=job, message__startswith="Accepted by the provider")
    if fmt != "chat":  # chat finishes inside the create call: no "accepted" step
        assert accepted.get().data["remote_id"] == job.remote_id
    seen = [path for method, path in simulator.request_log if method == "GET"]
    if fmt == "unified":
        # This job's queries (the log is the whole session's): its unique head, encoded.
        head = "/v1/video/query?id=" + quote_plus(job.remote_id[:38])
        queries = [p for p in seen if p.startswith(head)]
        assert queries
        for path in queries:
            raw = urlsplit(path).query
            assert parse_qs(raw)["id"] == [job.remote_id]
            assert "%25" in raw and "%2F" in raw and "%3D" in raw  # encoded, not raw
    elif fmt in STATUS_PATHS:
        encoded = STATUS_PATHS[fmt] + quote(job.remote_id, safe="")
        assert encoded in seen  # one path segment: '/' as %2F, '%' as %25
        if fmt == "openai":
            assert any(p.startswith(encoded + "/content") for p in seen)


def test_a_webhook_finds_a_job_by_a_long_id(catalogue, simulator, member):  # noqa: F811
    job = submit(
        member, catalogue["openai"], "a webhook for a long id [sim:longid=1500][sim:slow=30]"
    )
    assert_hostile(job.remote_id, 1500)
    # Another job whose id shares the first 255 characters must not be the one found.
    twin = VideoJob.objects.get(pk=job.pk)
    twin.pk = None
    twin.idempotency_key = None
    twin.remote_id = job.remote_id[:255]
    twin.save()
    outcome = poll.webhook_receive(
        provider=job.provider,
        webhook_id="evt_long_1",
        event_type="video.completed",
        remote_id=job.remote_id,
    )
    assert outcome == "accepted"
    assert JobEvent.objects.filter(job=job, message="Webhook video.completed received").exists()
    assert not JobEvent.objects.filter(job=twin, message__startswith="Webhook").exists()
    assert WebhookDelivery.objects.get(webhook_id="evt_long_1").remote_id == job.remote_id


def test_a_remix_of_a_long_id_sends_the_whole_id(catalogue, simulator, member):  # noqa: F811
    source = drive(submit(member, catalogue["openai"], "a lantern to remix [sim:longid=1200]"))
    assert source.state == JobState.SUCCEEDED, source.error_message
    remix = services.job_remix(job=source, by=member, prompt_text="the lantern, now blue")
    remix.refresh_from_db()
    assert remix.remix_remote_id == source.remote_id
    remix = drive(remix)
    assert remix.state == JobState.SUCCEEDED, remix.error_message
    assert simulator.job(remix.remote_id)["remixed_from"] == source.remote_id
    path = "/v1/videos/" + quote(source.remote_id, safe="") + "/remix"
    assert ("POST", path) in simulator.request_log
