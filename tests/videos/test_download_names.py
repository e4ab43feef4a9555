"""Downloads carry names a person can find again: the date, the prompt's first words, the model
(RFC 6266 filename* for a Chinese prompt), for the whole file and for a ranged answer alike."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from soraweb.videos.models import JobState, VideoJob, VideoModel
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def _job(member, text: str) -> VideoJob:
    vm = VideoModel.objects.get(name="sora-2")
    job = job_row(member, vm, text=text, state=JobState.SUCCEEDED, orientation="portrait")
    job.created_at = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    job.save(update_fields=["created_at"])
    job.video.save("v.mp4", ContentFile(b"\0" * 2048), save=True)
    return job


def test_an_english_prompt_names_the_download(client, member):
    job = _job(member, "A harbour at dawn, gulls over the quiet water and boats")
    client.force_login(member)
    url = reverse("videos:job_video", args=[job.pk]) + "?download=1"
    expected = "2026-11-30-a-harbour-at-dawn-gulls-over-sora-2.mp4"
    whole = client.get(url)
    assert whole["Content-Disposition"] == f'attachment; filename="{expected}"'
    part = client.get(url, HTTP_RANGE="bytes=0-99")
    assert part.status_code == 206
    assert part["Content-Disposition"] == f'attachment; filename="{expected}"'


def test_a_chinese_prompt_names_the_download_in_chinese(client, member):
    job = _job(member, "一只纸船在下雨的街道上漂流")
    client.force_login(member)
    for range_header in ({}, {"HTTP_RANGE": "bytes=0-9"}):
        url = reverse("videos:job_video", args=[job.pk]) + "?download=1"
        header = client.get(url, **range_header)["Content-Disposition"]
        assert header.startswith("attachment; filename*=utf-8''")
        assert (
            unquote(header.split("''", 1)[1]) == "2026-11-30-一只纸船在下雨的街道上漂流-sora-2.mp4"
        )
