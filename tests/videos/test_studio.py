"""The create page beyond the basics: disabled choices explained, the picture and its fit, the
live estimate, prompt history and "use again"."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from soraweb.videos.models import (
    ImageFit,
    JobState,
    Provider,
    ReferenceImage,
    VideoJob,
    VideoModel,
)
from tests.conftest import form_data
from tests.factories import job_row

pytestmark = pytest.mark.django_db


# --- helpers shared by the studio, gallery, review and team tests ---------------------------------


def png_bytes(size=(64, 48), color=(200, 30, 30), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def openai_model(base_url: str = "http://127.0.0.1:9/v1") -> VideoModel:
    provider = Provider.objects.create(name="OpenAI relay", base_url=base_url, wire_format="openai")
    return VideoModel.objects.create(
        name="sora-2",
        display_name="Sora 2 (OpenAI relay)",
        provider=provider,
        orientations=["portrait", "landscape"],
        sizes=["small"],
        durations=[10],
        default_size="small",
        default_duration=10,
        max_images=1,
        price_per_second={"small": "0.10"},
        position=30,
    )


# --- the form ------------------------------------------------------------------------------------


def test_every_field_of_the_create_form_has_a_label(client, member):
    client.force_login(member)
    html = client.get(reverse("videos:studio")).content.decode()
    for field_id in [
        "id_prompt",
        "id_video_model",
        # the catalogue's settings for the selected model (sora-2: ratio, resolution, length)
        "id_aspect_ratio",
        "id_resolution",
        "id_duration",
        "id_slot_first_frame",  # one input per picture slot (sora-2: a first frame)
    ]:
        assert f'<label for="{field_id}">' in html, field_id
    for choice in ImageFit.values:
        assert f'name="image_fit" value="{choice}"' in html
    assert "Fit the picture to the video frame</legend>" in html


def test_the_live_estimate_follows_size_and_duration(client, member):
    client.force_login(member)
    vm = VideoModel.objects.get(name="sora-2")
    html = client.get(
        reverse("videos:estimate"),
        {"video_model": vm.pk, "size": "large", "duration": "15", "orientation": "portrait"},
    ).content.decode()
    assert "$4.50" in html  # 15 s at $0.30
    assert 'data-frame-w="1024" data-frame-h="1792"' in html
    html = client.get(
        reverse("videos:estimate"), {"video_model": vm.pk, "size": "small", "duration": "10"}
    ).content.decode()
    assert "$1.00" in html


def test_a_model_that_needs_an_exact_picture_disables_send_unchanged_and_says_why(client, member):
    vm = openai_model()
    client.force_login(member)
    html = client.get(
        reverse("videos:form_options"), {"video_model": vm.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'value="none" disabled' in html
    assert "(not with Sora 2 (OpenAI relay): it needs an exact match)" in html
    assert 'id="fit-options" class="fit-options" hx-swap-oob="true"' in html
    response = client.post(
        reverse("videos:studio"),
        form_data(video_model=str(vm.pk), size="small", duration="10", image_fit="none"),
        HTTP_HX_REQUEST="true",
    )
    assert "needs the picture to match the video frame exactly" in response.content.decode()
    assert VideoJob.objects.count() == 0


def test_a_job_keeps_the_chosen_fit_and_its_picture(
    client, member, django_capture_on_commit_callbacks
):
    client.force_login(member)
    data = form_data(image_fit="pad")
    data["images"] = SimpleUploadedFile("wide.png", png_bytes((300, 100)), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:studio"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    job = VideoJob.objects.get()
    assert job.image_fit == "pad"
    image = job.images.get()
    assert (image.width, image.height) == (300, 100)
    html = response.content.decode()
    assert "Started “a red kite over green hills”" in html
    assert 'id="prompt-history"' in html and 'hx-swap-oob="true"' in html


def test_use_again_fills_the_form_with_the_prompt_settings_and_picture(
    client, member, other_member
):
    image = ReferenceImage.objects.create(
        file=ContentFile(png_bytes(), name="r.png"),
        original_name="castle.png",
        sha256="a" * 64,
        width=64,
        height=48,
        uploaded_by=other_member,
    )
    source = job_row(
        other_member,
        text="a castle in fog",
        model="sora-2-pro",
        orientation="portrait",
        size="large",
        duration=15,
        image_fit="pad",
        remote_id="sora-2-pro:task_1",
        seconds=0,
        with_video=True,
    )
    source.images.add(image)
    client.force_login(member)  # anyone on the team may start from anyone's video
    html = client.get(reverse("videos:studio"), {"from": source.pk}).content.decode()
    assert ">a castle in fog</textarea>" in html
    assert f'<option value="{source.video_model_id}" selected>' in html
    assert '<option value="9:16" selected>' in html  # portrait, in the catalogue's terms
    assert '<option value="15" selected>' in html
    assert 'name="image_fit" value="pad" checked' in html
    # The picture goes back into the slot it filled (sora-2-pro has one: the first frame).
    assert f'name="keep_slot_first_frame" value="{image.token}" checked' in html
    assert "Use the same picture (castle.png)" in html
    # The htmx "Use again" swaps only the form.
    partial = client.get(
        reverse("videos:studio"),
        {"from": source.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="create-form",
    ).content.decode()
    assert partial.lstrip().startswith('<form id="create-form"')


def test_a_kept_picture_goes_with_the_new_job_unless_a_new_one_is_chosen(
    client, member, django_capture_on_commit_callbacks
):
    image = ReferenceImage.objects.create(
        file=ContentFile(png_bytes(), name="r.png"),
        sha256="b" * 64,
        width=64,
        height=48,
        uploaded_by=member,
    )
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(
            reverse("videos:studio"),
            {**form_data(), "keep_images": [str(image.token)]},
            HTTP_HX_REQUEST="true",
        )
        data = {**form_data(prompt="second"), "keep_images": [str(image.token)]}
        data["images"] = SimpleUploadedFile(
            "new.png", png_bytes((80, 80), (0, 200, 0)), content_type="image/png"
        )
        client.post(reverse("videos:studio"), data, HTTP_HX_REQUEST="true")
    first, second = VideoJob.objects.order_by("id")
    assert list(first.images.all()) == [image]
    assert second.images.get().original_name == "new.png"


def test_prompt_history_lists_each_prompt_once_newest_first(client, member, other_member):
    now = timezone.now()
    job_row(
        member,
        text="a red kite",
        created_at=now - timedelta(minutes=3),
        remote_id="sora-2:task_1",
        finished_at=timezone.now(),
        with_video=True,
    )
    job_row(
        member,
        text="a blue boat",
        created_at=now - timedelta(minutes=2),
        remote_id="sora-2:task_1",
        finished_at=timezone.now(),
        with_video=True,
    )
    latest_kite = job_row(
        member,
        text="a red kite",
        created_at=now - timedelta(minutes=1),
        remote_id="sora-2:task_1",
        finished_at=timezone.now(),
        with_video=True,
    )
    job_row(
        other_member,
        text="someone else's prompt",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(member)
    html = client.get(reverse("videos:studio")).content.decode()
    start = html.index('id="prompt-history"')
    history = html[start : html.index("</section>", start)]
    assert history.count(">a red kite<") == 1
    assert history.index("a red kite") < history.index("a blue boat")
    assert f"?from={latest_kite.pk}" in history
    assert "someone else" not in history
    assert 'aria-label="Use again: a red kite"' in history


def test_the_picture_input_names_its_limit_and_the_preview_texts_are_in_the_page(
    client, member, settings
):
    settings.SORAWEB_MAX_IMAGE_BYTES = 5 * 1024 * 1024
    client.force_login(member)
    html = client.get(reverse("videos:studio")).content.decode()
    assert "PNG/JPEG/WebP, at most 5.0\xa0MB." in html
    assert 'data-max-bytes="5242880"' in html
    assert 'data-text-crop="Sent cropped to %(w)s × %(h)s' in html
    assert re.search(r'<script src="/static/js/app\.[0-9a-f]{12}\.js" defer></script>', html)


def test_a_damaged_hidden_field_is_explained_not_swallowed(client, member):
    client.force_login(member)
    response = client.post(
        reverse("videos:studio"), form_data(idempotency_key="\x00"), HTTP_HX_REQUEST="true"
    )
    assert (
        "This form was damaged on its way; reload the page and try again."
        in response.content.decode()
    )
    assert VideoJob.objects.count() == 0


# --- "My jobs" pages ------------------------------------------------------------------------------


def cards(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="job-card[^"]*" id="job-(\d+)"', html)]


def older_link(html: str) -> str | None:
    from html import unescape

    match = re.search(r'<div class="jobs-more" id="jobs-more">\s*<a [^>]*href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


@pytest.mark.parametrize("page_name", ["videos:studio", "videos:batch"])
def test_my_jobs_pages_older_jobs_with_htmx_and_with_real_links(
    client, member, other_member, page_name
):
    now = timezone.now()
    # Made in one burst: created_at ties, so the id breaks them.
    mine = [
        job_row(
            member,
            text=f"mine {i}",
            state=JobState.FAILED,
            created_at=now - timedelta(minutes=i // 3),
            remote_id="sora-2:task_1",
        )
        for i in range(65)
    ]
    job_row(
        other_member,
        text="not mine",
        created_at=now - timedelta(minutes=30),
        remote_id="sora-2:task_1",
        finished_at=timezone.now(),
        with_video=True,
    )
    newest_first = [j.pk for j in sorted(mine, key=lambda j: (j.created_at, j.pk), reverse=True)]
    client.force_login(member)
    html = client.get(reverse(page_name)).content.decode()
    assert cards(html) == newest_first[:30]
    link = older_link(html)
    assert link.startswith(reverse(page_name) + "?jobs_after=") and link.endswith("#jobs-title")
    assert "Back to my newest jobs" not in html

    more = client.get(
        link.split("#")[0], HTTP_HX_REQUEST="true", HTTP_HX_TARGET="jobs-more"
    ).content.decode()
    assert "<html" not in more and cards(more) == newest_first[30:60]
    assert older_link(more)

    plain = client.get(link).content.decode()  # without JavaScript: the whole page, and a way back
    assert "<html" in plain and cards(plain) == newest_first[30:60]
    assert "Back to my newest jobs" in plain
    last = client.get(older_link(plain)).content.decode()
    assert cards(last) == newest_first[60:] and older_link(last) is None


def test_my_jobs_with_a_forged_cursor_shows_the_newest_jobs(client, member):
    jobs = [
        job_row(member, text=f"j {i}", state=JobState.FAILED, remote_id="sora-2:task_1")
        for i in range(3)
    ]
    client.force_login(member)
    for after in ("nonsense", "a:b", "W1siLWNyZWF0ZWRfYXQiXSwgWzFdLCAyXQ:forged"):
        response = client.get(reverse("videos:studio"), {"jobs_after": after})
        assert response.status_code == 200
        assert sorted(cards(response.content.decode())) == sorted(j.pk for j in jobs)


def test_a_deep_page_of_my_jobs_costs_the_same_queries_as_the_first(client, member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(95):  # pages of 30, 30, 30, 5
        job_row(member, text=f"q {i}", state=JobState.FAILED, remote_id="sora-2:task_1")
    client.force_login(member)

    def count(path: str) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(path).content.decode()
        return len(ctx.captured_queries), html

    count(reverse("videos:studio"))  # a person's first page also stores their preferences, once
    first, html = count(reverse("videos:studio"))
    link = older_link(client.get(older_link(html)).content.decode())
    deep, html = count(link)  # page 3: as many cards as page 1 (a card's queries are its own)
    assert len(cards(html)) == 30 and deep == first
