"""Finished videos are served to signed-in people only, with HTTP Range support for seeking."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from soraweb.videos.models import JobState, VideoModel
from tests.factories import job_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_job(member):
    vm = VideoModel.objects.get(name="sora-2")
    job = job_row(member, vm, text="tiny", state=JobState.SUCCEEDED, orientation="portrait")
    job.video.save("v.mp4", ContentFile(bytes(range(256)) * 40), save=True)  # 10,240 bytes
    return job


def test_it_answers_a_range_request_with_206_and_exactly_those_bytes(client, member, finished_job):
    client.force_login(member)
    url = reverse("videos:job_video", args=[finished_job.pk])
    response = client.get(url, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 100-199/10240"
    assert b"".join(response.streaming_content) == (bytes(range(256)) * 40)[100:200]
    tail = client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == (bytes(range(256)) * 40)[-10:]
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert client.get(url, HTTP_RANGE="bytes=99999-").status_code == 416


def test_videos_are_not_served_to_anonymous_visitors(client, finished_job):
    response = client.get(reverse("videos:job_video", args=[finished_job.pk]))
    assert response.status_code == 302


def test_a_file_missing_from_storage_is_a_404_not_a_crash(client, member, finished_job):
    client.force_login(member)
    finished_job.video.storage.delete(finished_job.video.name)
    assert client.get(reverse("videos:job_video", args=[finished_job.pk])).status_code == 404
    assert (
        client.get(
            reverse("videos:job_video", args=[finished_job.pk]), HTTP_RANGE="bytes=0-9"
        ).status_code
        == 404
    )
