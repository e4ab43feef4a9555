"""Raw provider answers in the job's history, with every secret masked."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from soraweb.ops.redaction import MASK, redact
from soraweb.providers.base import JobStatus, RemoteState
from soraweb.videos.models import JobEvent, JobState, Provider
from soraweb.videos.pipeline import outcome
from tests.factories import ago, seeded_row

KEY = "relay-key-4f9a8b7c6d5e"


def test_it_masks_the_configured_key_bearer_tokens_sk_keys_and_secret_fields():
    raw = {
        "id": "task_1",
        "status": "failed",
        "error": {"message": f"Invalid key {KEY} (sent as Bearer {KEY})"},
        "echo": {"headers": {"Authorization": "Bearer abc.def", "X-Api-Key": "whatever"}},
        "access_token": "tok-123",
        "client_secret": "s3",
        "note": "other key sk-proj-ABCDEFGHIJKLMNOP in the text",
        "url": "https://cdn.example.com/v.mp4?X-Amz-Signature=abcdef&size=1",
        "usage": {"total_tokens": 1234, "max_tokens": 2000},
        "copy": KEY,
    }
    cleaned = redact(raw, secrets=[KEY])
    text = json.dumps(cleaned)
    assert KEY not in text
    assert "abc.def" not in text and "tok-123" not in text and "whatever" not in text
    assert "sk-proj" not in text and "abcdef&" not in text
    assert cleaned["echo"]["headers"]["Authorization"] == MASK
    assert cleaned["access_token"] == cleaned["client_secret"] == cleaned["copy"] == MASK
    assert cleaned["url"] == f"https://cdn.example.com/v.mp4?X-Amz-Signature={MASK}&size=1"
    # What is not a secret stays readable.
    assert cleaned["id"] == "task_1" and cleaned["status"] == "failed"
    assert cleaned["usage"] == {"total_tokens": 1234, "max_tokens": 2000}


def test_it_cuts_a_huge_answer_down():
    cleaned = redact({"text": "x" * 100_000, "items": list(range(20_000))})
    assert len(json.dumps(cleaned)) < 40_000


@pytest.mark.django_db
def test_the_status_the_pipeline_applies_is_stored_redacted_and_shown_in_the_admin(
    client, member, staff
):
    provider = Provider.objects.create(
        name="Relay", base_url="https://relay.example.com/v1", api_key=KEY
    )
    job = seeded_row(
        member,
        state=JobState.RUNNING,
        remote_id="task_9",
        provider=provider,
        created_at=ago(minutes=5),
    )
    status = JobStatus(
        state=RemoteState.FAILED,
        raw_status="failed",
        error="The prompt was flagged by content moderation",
        raw={
            "id": "task_9",
            "status": "failed",
            "request": {"authorization": f"Bearer {KEY}"},
            "message": f"moderation; key {KEY}",
        },
    )
    outcome.job_apply_answer(job=job, answer=status, step=outcome.Step.POLL)
    event = JobEvent.objects.filter(job=job, to_state=JobState.FAILED).latest("id")
    stored = event.data["provider_response"]
    assert stored["id"] == "task_9" and stored["request"]["authorization"] == MASK
    assert KEY not in json.dumps(event.data)

    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    html = client.get(reverse("admin:videos_videojob_change", args=[job.pk])).content.decode()
    assert "Event log" in html
    assert "Provider reports failure" in html and "Generating → Failed" in html
    assert "&quot;task_9&quot;" in html
    assert KEY not in html
