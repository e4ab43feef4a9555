"""One input per picture slot (#11) and the fitted copy that was sent (#14 item 3): each slot the
chosen model declares is its own labelled input with its own limits, a slot's problem is shown
next to it, "use these settings" puts each picture back in its slot, the fit hint agrees with
the choices offered, and the job's page shows the copy the provider received."""

from __future__ import annotations

import copy
import io
import json
import os
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from soraweb.catalogue.presets import PRESETS_FILE
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel
from tests.factories import job_row
from tests.videos.test_pipeline import drive
from tests.videos.test_remix_and_fit import stored_image
from tests.videos.test_studio import openai_model, png_bytes

pytestmark = pytest.mark.django_db
PRESETS = {m["id"]: m for m in json.loads(PRESETS_FILE.read_text(encoding="utf-8"))["models"]}


def preset(
    preset_id: str, fmt: str = "newapi", base_url: str = "http://127.0.0.1:9", **spec_changes
):
    spec = copy.deepcopy(PRESETS[preset_id])
    for name, changes in spec_changes.items():
        next(p for p in spec["params"] if p["name"] == name).update(changes)
    provider = Provider.objects.create(
        name=f"{preset_id} relay", base_url=base_url, wire_format=fmt
    )
    return VideoModel.objects.create(
        name=spec["name"], display_name=spec["label"]["en"], provider=provider, spec=spec
    )


def upload(name="a.png", size=(64, 48), color=(200, 30, 30)):
    return SimpleUploadedFile(name, png_bytes(size, color), content_type="image/png")


def post(client, vm, **fields):
    data = {"prompt": "frames", "video_model": str(vm.pk), "idempotency_key": "", **fields}
    return client.post(reverse("videos:studio"), data)


def slot_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    return match.group(1) if match else ""


def test_each_slot_the_model_declares_is_its_own_labelled_input(client, member):
    vm = preset("seedance-2.0")
    client.force_login(member)
    options = client.get(reverse("videos:form_options"), {"video_model": vm.pk}).content.decode()
    for name, label in [
        ("slot_first_frame", "First frame"),
        ("slot_last_frame", "Last frame"),
        ("slot_reference_images_1", "Reference pictures 1"),
        ("slot_reference_images_9", "Reference pictures 9"),
    ]:
        assert f'<label for="id_{name}">{label}</label>' in options, name
        assert re.search(rf'<input type="file" name="{name}" id="id_{name}"', options), name
    assert "slot_reference_images_10" not in options  # Seedance takes nine
    assert 'name="images"' not in options and " multiple" not in options
    # The slots' own limits: 30 MB files for Seedance, capped by the site's limit.
    assert 'data-max-bytes="10485760"' in options  # SORAWEB_MAX_IMAGE_BYTES in tests
    # The rule between slots travels with them, in words.
    rules = json.loads(
        re.search(r'data-slot-rules="([^"]*)"', options).group(1).replace("&quot;", '"')
    )
    assert {
        "when": [["last_frame", "set"]],
        "then": [["first_frame", "set"]],
        "message": "A last frame needs a first frame.",
    } in rules
    assert "A last frame needs a first frame." in options  # said under the last frame too


def test_a_last_frame_without_a_first_is_refused_next_to_the_first_frame(client, member):
    vm = preset("seedance-2.0")
    client.force_login(member)
    response = post(
        client, vm, aspect_ratio="16:9", resolution="720p", slot_last_frame=upload("last.png")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert slot_error(html, "slot_first_frame") == "A last frame needs a first frame."
    assert 'id="id_slot_first_frame"' in html and 'aria-invalid="true"' in html
    assert not VideoJob.objects.exists()


def test_a_bad_file_is_reported_in_its_own_slot_and_the_other_slot_stays_clean(client, member):
    vm = preset("seedance-2.0")
    client.force_login(member)
    bad = SimpleUploadedFile("last.png", b"not a picture at all", content_type="image/png")
    response = post(
        client, vm, aspect_ratio="16:9", slot_first_frame=upload("first.png"), slot_last_frame=bad
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "“last.png” is not an image soraweb can read" in slot_error(html, "slot_last_frame")
    assert slot_error(html, "slot_first_frame") == ""


def test_a_slot_refuses_a_file_over_its_own_limit(client, member, settings):
    settings.SORAWEB_MAX_IMAGE_BYTES = 10 * 1024 * 1024
    vm = preset("seedance-2.0", last_frame={"max_bytes": 2000})
    client.force_login(member)
    noisy = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    buf = io.BytesIO()
    noisy.save(buf, "PNG")
    assert len(buf.getvalue()) > 2000
    big = SimpleUploadedFile("noise.png", buf.getvalue(), content_type="image/png")
    response = post(
        client, vm, aspect_ratio="16:9", slot_first_frame=upload("first.png"), slot_last_frame=big
    )
    error = slot_error(response.content.decode(), "slot_last_frame")
    assert "Last frame can be at most 2.0\xa0KB" in error, error
    page = client.get(reverse("videos:form_options"), {"video_model": vm.pk}).content.decode()
    last = re.search(r'<input type="file" name="slot_last_frame"[^>]*>', page).group(0)
    assert 'data-max-bytes="2000"' in last


def test_kling_shows_the_last_frame_disabled_with_the_reason_until_pro_mode(client, member):
    vm = preset("kling-2.6")
    client.force_login(member)
    std = client.get(
        reverse("videos:form_options"), {"video_model": vm.pk, "mode": "std"}
    ).content.decode()
    last = re.search(r'<input type="file" name="slot_last_frame"[^>]*>', std).group(0)
    assert "disabled" in last
    assert re.search(
        r'id="slot_last_frame-reason" data-slot-reason>A last frame needs Pro mode.<', std
    )
    assert '"last_frame": "A last frame needs Pro mode."' in std.replace("&quot;", '"')
    pro = client.get(
        reverse("videos:form_options"), {"video_model": vm.pk, "mode": "pro"}
    ).content.decode()
    last = re.search(r'<input type="file" name="slot_last_frame"[^>]*>', pro).group(0)
    assert "disabled" not in last
    # Sent anyway (no script, an old page): the service refuses it, in the catalogue's words.
    response = post(
        client,
        vm,
        mode="std",
        slot_first_frame=upload("first.png"),
        slot_last_frame=upload("last.png"),
    )
    assert response.status_code == 400
    assert "A last frame needs Pro mode." in response.content.decode()
    assert not VideoJob.objects.exists()


def test_each_picture_lands_in_its_slot_and_use_these_settings_puts_it_back(
    client, member, django_capture_on_commit_callbacks
):
    vm = preset("seedance-2.0")
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):
        response = post(
            client,
            vm,
            aspect_ratio="16:9",
            slot_first_frame=upload("first.png", color=(255, 0, 0)),
            slot_last_frame=upload("last.png", color=(0, 0, 255)),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = VideoJob.objects.get()
    first = job.images.get(original_name="first.png")
    last = job.images.get(original_name="last.png")
    assert job.params["first_frame"] == [first.pk] and job.params["last_frame"] == [last.pk]

    html = client.get(reverse("videos:studio"), {"from": job.pk}).content.decode()
    assert f'name="keep_slot_first_frame" value="{first.token}" checked' in html
    assert f'name="keep_slot_last_frame" value="{last.token}" checked' in html
    with django_capture_on_commit_callbacks(execute=False):
        post(
            client,
            vm,
            prompt="again",
            aspect_ratio="16:9",
            keep_slot_first_frame=str(first.token),
            keep_slot_last_frame=str(last.token),
        )
    again = VideoJob.objects.exclude(pk=job.pk).get()
    assert again.params["first_frame"] == [first.pk] and again.params["last_frame"] == [last.pk]
    # A new file in one slot replaces that slot's picture only.
    with django_capture_on_commit_callbacks(execute=False):
        post(
            client,
            vm,
            prompt="third",
            aspect_ratio="16:9",
            keep_slot_first_frame=str(first.token),
            keep_slot_last_frame=str(last.token),
            slot_last_frame=upload("new-last.png", color=(0, 255, 0)),
        )
    third = VideoJob.objects.get(prompt__text="third")
    assert third.params["first_frame"] == [first.pk]
    assert third.images.get(pk=third.params["last_frame"][0]).original_name == "new-last.png"


def _fit_hint(html: str) -> str:
    return re.search(r'<p class="hint" id="fit-hint">([^<]*)</p>', html).group(1)


def _send_unchanged(html: str) -> str:
    return re.search(r'<input type="radio" name="image_fit" value="none"[^>]*>', html).group(0)


def test_the_fit_hint_never_contradicts_an_enabled_send_unchanged(client, member):
    any_size = preset("seedance-2.0", fmt="newapi")
    exact = openai_model()
    client.force_login(member)
    for vm in (any_size, exact):
        html = client.get(reverse("videos:form_options"), {"video_model": vm.pk}).content.decode()
        hint = _fit_hint(html.replace("&#x27;", "'").replace("&quot;", '"'))
        unchanged = _send_unchanged(html)
        if vm is any_size:
            assert "disabled" not in unchanged
            assert "refuses" not in hint and "Send unchanged" in hint, hint
        else:
            assert "disabled" in unchanged
            assert "refuses a picture whose size differs" in hint and "Send unchanged" not in hint


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_job_page_shows_the_fitted_copy_that_was_sent(
    client, simulator, sim_provider, member, staff
):
    vm = preset("seedance-2.0", base_url=simulator.base_url)
    first, last = stored_image(member, (1600, 900)), stored_image(member, (1280, 720))
    from soraweb.videos import services
    from soraweb.videos.models import SentImage

    job = services.job_create(
        owner=member,
        video_model=vm,
        prompt_text="fitted frames",
        params={"aspect_ratio": "9:16", "resolution": "720p"},
        slots={"first_frame": [first], "last_frame": [last]},
        image_fit="pad",
    )
    job = drive(job)
    assert job.state == JobState.SUCCEEDED, job.error_message
    sent = {s.slot: s for s in SentImage.objects.filter(job=job)}
    assert set(sent) == {"first_frame", "last_frame"}
    with sent["first_frame"].file.open("rb") as fh:
        picture = Image.open(io.BytesIO(fh.read()))
        assert picture.size == (720, 1280)
        assert picture.getpixel((360, 10)) == (0, 0, 0)  # a bar above the wide picture
    client.force_login(member)
    html = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    url = reverse("videos:sent_image", args=[job.pk, sent["first_frame"].pk])
    assert f'src="{url}"' in html
    assert "sent: 720 × 1280 (Add bars to fit the frame)" in html
    assert "First frame: your picture, 1600 × 900" in html
    served = client.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (720, 1280)
    # The admin's job page lists the copies sent, each with its size and its original.
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    page = client.get(reverse("admin:videos_videojob_change", args=[job.pk]))
    admin_html = page.content.decode()
    assert page.status_code == 200 and "Pictures sent to the provider" in admin_html
    assert f'src="{url}"' in admin_html and "720 × 1280" in admin_html
    assert f"{first} (1600 × 900)" in admin_html
    assert 'name="sent_images-0-slot"' not in admin_html  # read only: a record, not a form
    # A job that sent no fitted copy shows no such table.
    other = job_row(member, text="no pictures")
    plain = client.get(reverse("admin:videos_videojob_change", args=[other.pk])).content.decode()
    assert "Pictures sent to the provider" not in plain and "Event log" in plain
    client.logout()
    assert client.get(url).status_code == 302  # sign-in first


def test_changing_the_model_keeps_a_carried_over_picture_only_for_its_viewer(
    client, member, other_member
):
    vm = preset("seedance-2.0")
    mine, theirs = stored_image(member, (64, 48)), stored_image(other_member, (64, 48))
    client.force_login(member)
    url = reverse("videos:form_options")
    html = client.get(
        url, {"video_model": vm.pk, "keep_slot_first_frame": str(mine.token)}
    ).content.decode()
    assert f'name="keep_slot_first_frame" value="{mine.token}" checked' in html
    # Someone else's picture no job used is theirs alone: not offered, not even by its name.
    html = client.get(
        url, {"video_model": vm.pk, "keep_slot_first_frame": str(theirs.token)}
    ).content.decode()
    assert str(theirs.token) not in html
