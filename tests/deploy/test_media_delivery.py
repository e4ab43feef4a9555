"""Videos from S3-compatible storage (a real local S3 server) and behind nginx: Range, presigned
redirects and X-Accel-Redirect, each still behind the login check."""

from __future__ import annotations

import pytest
import requests
from django.core.files.base import ContentFile
from django.urls import reverse

from soraweb.videos.models import JobState, VideoModel
from tests.clusters import clean_env, manage
from tests.factories import job_row
from tests.s3server import ACCESS_KEY, REGION, SECRET_KEY, moto_s3

pytestmark = pytest.mark.django_db
BODY = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    with moto_s3(tmp_path_factory.mktemp("moto") / "moto.log", bucket="media-tests") as server:
        yield server


@pytest.fixture
def s3_media(settings, s3_server):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": s3_server.bucket,
                "endpoint_url": s3_server.endpoint_url,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "addressing_style": "path",
                "signature_version": "s3v4",
                "file_overwrite": False,
                "location": "tenant-a",
            },
        },
    }
    return s3_server


@pytest.fixture
def stored_job(member):
    vm = VideoModel.objects.get(name="sora-2")
    job = job_row(member, vm, text="s3", state=JobState.SUCCEEDED, orientation="portrait")
    job.video.save("clip.mp4", ContentFile(BODY), save=True)
    return job


def test_the_app_streams_ranges_from_s3_without_fetching_the_whole_object(
    client, member, s3_media, stored_job, settings
):
    settings.SORAWEB_MEDIA_DELIVERY = "app"
    key = f"tenant-a/{stored_job.video.name}"
    assert s3_media.read(key) == BODY  # really in the bucket, under the prefix
    client.force_login(member)
    url = reverse("videos:job_video", args=[stored_job.pk])

    part = client.get(url, HTTP_RANGE="bytes=1000-1999")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 1000-1999/{len(BODY)}"
    assert b"".join(part.streaming_content) == BODY[1000:2000]
    tail = client.get(url, HTTP_RANGE="bytes=-100")
    assert b"".join(tail.streaming_content) == BODY[-100:]
    whole = client.get(url)
    assert whole.status_code == 200
    assert int(whole["Content-Length"]) == len(BODY)
    assert b"".join(whole.streaming_content) == BODY
    assert client.get(url, HTTP_RANGE=f"bytes={len(BODY)}-").status_code == 416


def test_reading_from_s3_asks_only_for_the_bytes_it_sends(s3_media, stored_job):
    from soraweb.videos.media_delivery import S3RangeReader, open_for_reading

    reader = open_for_reading(stored_job.video)
    assert isinstance(reader, S3RangeReader)
    requested = []
    original_get = reader._obj.get

    def spy(**kwargs):
        requested.append(kwargs.get("Range"))
        return original_get(**kwargs)

    reader._obj.get = spy
    reader.seek(500_000)
    assert reader.read(10) == BODY[500_000:500_010]
    assert reader.read(5) == BODY[500_010:500_015]  # same response, no second request
    reader.seek(0, 2)
    assert reader.tell() == len(BODY) and reader.read(10) == b""
    reader.close()
    assert requested == ["bytes=500000-"]


def test_redirect_mode_sends_the_browser_to_a_presigned_url_that_honours_range(
    client, member, s3_media, stored_job, settings
):
    settings.SORAWEB_MEDIA_DELIVERY = "redirect"
    settings.SORAWEB_MEDIA_URL_SECONDS = 120
    client.force_login(member)
    response = client.get(reverse("videos:job_video", args=[stored_job.pk]) + "?download=1")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(s3_media.endpoint_url) and "X-Amz-Signature=" in location
    assert "X-Amz-Expires=120" in location
    assert response["Cache-Control"] == "private, max-age=60"
    ranged = requests.get(location, headers={"Range": "bytes=10-19"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == BODY[10:20]
    whole = requests.get(location, timeout=10)
    assert whole.content == BODY
    assert "attachment" in whole.headers["Content-Disposition"]
    assert whole.headers["Content-Type"] == "video/mp4"


def test_anonymous_visitors_get_no_presigned_url(client, s3_media, stored_job, settings):
    settings.SORAWEB_MEDIA_DELIVERY = "redirect"
    response = client.get(reverse("videos:job_video", args=[stored_job.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_accel_mode_hands_local_files_to_nginx(client, member, stored_job, settings):
    settings.SORAWEB_MEDIA_DELIVERY = "accel"
    settings.SORAWEB_MEDIA_ACCEL_PREFIX = "/protected-media/"
    client.force_login(member)
    response = client.get(reverse("videos:job_video", args=[stored_job.pk]) + "?download=1")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{stored_job.video.name}"
    assert response.content == b""
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"].startswith("attachment")
    assert client.get(reverse("videos:job_poster", args=[stored_job.pk])).status_code == 404


def test_media_delivery_settings_that_cannot_work_refuse_to_start(tmp_path):
    base = clean_env(SORAWEB_DATA_DIR=str(tmp_path))
    for extra in (
        {"SORAWEB_MEDIA_DELIVERY": "redirect"},  # presigned URLs need S3
        {"SORAWEB_MEDIA_DELIVERY": "accel", "SORAWEB_S3_BUCKET": "b"},  # nginx needs local files
        {"SORAWEB_MEDIA_DELIVERY": "cdn"},
    ):
        with pytest.raises(AssertionError, match="SORAWEB_MEDIA_DELIVERY"):
            manage({**base, **extra}, "check")
    manage({**base, "SORAWEB_MEDIA_DELIVERY": "accel"}, "check")
