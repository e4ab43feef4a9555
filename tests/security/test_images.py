"""Reference images: random tokens in addresses, only the uploader (or a visible job) sees one,
foreign pictures cannot be attached by id, EXIF/GPS never stored, orphans cleaned up."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image

from soraweb.schedules import SCHEDULES
from soraweb.videos import services
from soraweb.videos.images import orphan_images_delete
from soraweb.videos.models import ReferenceImage, VideoJob, VideoModel
from tests.conftest import form_data
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def png(size=(64, 48), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def stored(owner, *, color=(200, 30, 30)) -> ReferenceImage:
    return services.reference_image_store(
        uploaded_by=owner,
        name="pic.png",
        content_type="image/png",
        data=png(color=color),
        width=64,
        height=48,
    )


def used_by_job(image: ReferenceImage, owner) -> VideoJob:
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    job = job_row(owner, vm, state="succeeded", orientation="portrait")
    job.images.add(image)
    return job


def gps_photo() -> bytes:
    """A phone photo: 80x40 stored sideways (orientation 6), left half red, right half blue,
    with the camera's make and a GPS position in its EXIF."""
    img = Image.new("RGB", (80, 40), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 22.0, 1.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (4.0, 53.0, 2.0),
    }
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=95)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the fixture really carries what it claims
        assert check.getexif()[ExifTags.Base.Orientation] == 6
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def assert_no_metadata(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        assert not dict(img.getexif()), dict(img.getexif())
        assert "exif" not in img.info and "xmp" not in img.info
    assert b"Exif\x00\x00" not in data
    assert b"PhoneMaker" not in data


# --- who sees a picture ---------------------------------------------------------------------------


def test_an_unused_upload_is_seen_by_its_uploader_only(client, member, other_member):
    image = stored(other_member)
    url = reverse("videos:reference_image", args=[image.token])
    client.force_login(member)
    assert client.get(url).status_code == 404
    client.force_login(other_member)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_picture_used_by_a_job_is_seen_by_the_team(client, member, other_member):
    image = stored(other_member)
    used_by_job(image, other_member)
    client.force_login(member)
    assert client.get(reverse("videos:reference_image", args=[image.token])).status_code == 200


def test_addresses_use_the_random_token_not_the_counting_id(client, member):
    image = stored(member)
    url = reverse("videos:reference_image", args=[image.token])
    assert url == f"/images/{image.token}/" and len(str(image.token)) == 36
    client.force_login(member)
    assert client.get(f"/images/{image.pk}/").status_code == 404
    assert client.get(url).status_code == 200


def test_existing_rows_got_distinct_tokens():
    """The migration fills one per row; a unique constraint keeps them apart."""
    field = ReferenceImage._meta.get_field("token")
    assert field.unique and not field.null


# --- reusing a picture ----------------------------------------------------------------------------


def test_another_persons_unused_picture_cannot_be_attached(
    client, member, other_member, django_capture_on_commit_callbacks
):
    theirs = stored(other_member)
    client.force_login(member)
    for value in (str(theirs.token), str(theirs.pk), "1" * 30, "not-a-token"):
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(
                reverse("videos:studio"), {**form_data(prompt=value), "keep_images": [value]}
            )
        assert response.status_code == 400, value
        assert "is not available any more" in response.content.decode(), value
    assert not VideoJob.objects.exists()
    assert not theirs.jobs.exists()


def test_a_teammates_picture_is_copied_so_their_delete_leaves_mine(
    client, member, other_member, django_capture_on_commit_callbacks
):
    theirs = stored(other_member)
    their_job = used_by_job(theirs, other_member)
    client.force_login(member)  # "Use these settings" on a teammate's video
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("videos:studio"), {**form_data(), "keep_images": [str(theirs.token)]}
        )
    assert response.status_code == 302
    mine = VideoJob.objects.get(owner=member).images.get()
    assert mine.uploaded_by == member and mine.pk != theirs.pk
    their_file = theirs.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.job_delete(job=their_job, by=other_member)
    assert not ReferenceImage.objects.filter(pk=theirs.pk).exists()
    assert not default_storage.exists(their_file)
    assert default_storage.exists(mine.file.name)


# --- metadata -------------------------------------------------------------------------------------


def test_a_gps_photo_is_stored_upright_and_without_exif(
    client, member, django_capture_on_commit_callbacks
):
    client.force_login(member)
    data = {**form_data(), "images": SimpleUploadedFile("phone.jpg", gps_photo(), "image/jpeg")}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:studio"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    image = VideoJob.objects.get(owner=member).images.get()
    assert (image.width, image.height) == (40, 80)  # turned upright
    with image.file.open("rb") as fh:
        saved = fh.read()
    assert_no_metadata(saved)
    with Image.open(io.BytesIO(saved)) as img:
        assert img.size == (40, 80)
        top, bottom = img.convert("RGB").getpixel((20, 10)), img.convert("RGB").getpixel((20, 70))
    assert top[0] > 200 and top[2] < 60, top  # the red left half is now on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom
    served = client.get(reverse("videos:reference_image", args=[image.token]))
    assert_no_metadata(b"".join(served.streaming_content))


# --- orphans --------------------------------------------------------------------------------------


def test_the_cleanup_removes_an_old_orphan_and_its_file(member, django_capture_on_commit_callbacks):
    orphan = stored(member, color=(1, 2, 3))
    young = stored(member, color=(4, 5, 6))
    used = stored(member, color=(7, 8, 9))
    used_by_job(used, member)
    day_old = timezone.now() - timedelta(hours=25)
    ReferenceImage.objects.filter(pk__in=[orphan.pk, used.pk]).update(created_at=day_old)
    name = orphan.file.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert orphan_images_delete() == 1
    assert not ReferenceImage.objects.filter(pk=orphan.pk).exists()
    assert not default_storage.exists(name)
    assert set(ReferenceImage.objects.values_list("pk", flat=True)) == {young.pk, used.pk}
    assert default_storage.exists(young.file.name) and default_storage.exists(used.file.name)


def test_the_cleanup_runs_on_a_schedule():
    spec = next(s for s in SCHEDULES if s["name"] == "soraweb-orphan-images")
    module, func = spec["func"].rsplit(".", 1)
    assert callable(getattr(__import__(module, fromlist=[func]), func))


def test_the_migration_strips_pictures_stored_before(member):
    """Rows from before the fix: the migration's rewrite leaves them upright and clean."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "soraweb.videos.migrations.0004_secinput_image_token_and_keys"
    )
    old = ReferenceImage(
        original_name="phone.jpg",
        content_type="image/jpeg",
        sha256="0" * 64,
        width=80,
        height=40,
        uploaded_by=member,
    )
    old.file.save("phone.jpg", ContentFile(gps_photo()), save=False)
    old.save()
    migration.strip_stored_metadata(apps, None)
    old.refresh_from_db()
    assert (old.width, old.height) == (40, 80)
    with old.file.open("rb") as fh:
        assert_no_metadata(fh.read())
