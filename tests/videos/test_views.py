"""Pages and HTMX endpoints through Django's test client."""

from __future__ import annotations

import pytest
from django.urls import reverse

from soraweb.videos.models import JobState, VideoJob, VideoModel
from tests.conftest import form_data
from tests.factories import job_row

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["videos:studio", "videos:gallery", "videos:form_options"])
def test_anonymous_visitors_are_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_create_page_has_every_labelled_field(client, member):
    client.force_login(member)
    html = client.get(reverse("videos:studio")).content.decode()
    for label in ["Prompt", "Model", "Aspect ratio", "Resolution", "Duration", "First frame"]:
        assert f">{label}" in html
    assert ">Generate</button>" in html
    assert 'hx-headers=\'{"x-csrftoken"' in html
    assert "Demo provider" in html  # no provider configured: the simulator is in use


def test_it_explains_a_broken_model_rule_inline(client, member):
    client.force_login(member)
    response = client.post(
        reverse("videos:studio"), form_data("sora-2-pro", size="small"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sora 2 Pro offers these for Resolution: 1080p Full HD." in html
    assert VideoJob.objects.count() == 0


def test_an_empty_prompt_is_refused_with_a_clear_message(client, member):
    client.force_login(member)
    response = client.post(reverse("videos:studio"), form_data(prompt="  "), HTTP_HX_REQUEST="true")
    assert "Describe the video you want." in response.content.decode()
    assert VideoJob.objects.count() == 0


def test_switching_the_model_swaps_the_allowed_options(client, member):
    client.force_login(member)
    pro = VideoModel.objects.get(name="sora-2-pro")
    html = client.get(
        reverse("videos:form_options"),
        {"video_model": pro.pk, "size": "small", "duration": "10"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'value="1080p" selected' in html  # the old "size=small" is pro's 1080p instead
    # What the model lacks is still listed, disabled, and says why.
    assert '<option value="720p" disabled>720p HD (not with Sora 2 Pro)</option>' in html
    assert '<option value="10" disabled>10 seconds (not with Sora 2 Pro)</option>' in html
    assert 'value="15" selected' in html
    assert "Sora 2 Pro offers these for Resolution: 1080p Full HD." in html
    assert "Sora 2 Pro only makes videos of 15 seconds." in html
    assert "$7.50" in html  # 15 s at $0.50


def test_submitting_creates_one_job_and_returns_its_card(
    client, member, django_capture_on_commit_callbacks
):
    client.force_login(member)
    data = form_data(idempotency_key="form-key-1")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("videos:studio"), data, HTTP_HX_REQUEST="true")
        client.post(reverse("videos:studio"), data, HTTP_HX_REQUEST="true")  # the double click
    assert response.status_code == 200
    job = VideoJob.objects.get()
    assert job.owner == member and job.state == JobState.PENDING
    html = response.content.decode()
    assert f'id="job-{job.pk}"' in html and 'hx-swap-oob="afterbegin:#job-list"' in html
    assert f'hx-trigger="every 3s, sse:job-{job.pk}"' in html
    assert len(callbacks) == 1  # one hand-over to the worker


def test_another_member_cannot_cancel_my_job(
    client, member, other_member, django_capture_on_commit_callbacks
):
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("videos:studio"), form_data(), HTTP_HX_REQUEST="true")
    job = VideoJob.objects.get()
    client.force_login(other_member)
    assert client.post(reverse("videos:job_cancel", args=[job.pk])).status_code == 403
    client.force_login(member)
    client.post(reverse("videos:job_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED


def test_a_finished_card_stops_polling(client, member, django_capture_on_commit_callbacks):
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(reverse("videos:studio"), form_data(), HTTP_HX_REQUEST="true")
    job = VideoJob.objects.get()
    VideoJob.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, error_message="The prompt was flagged by content moderation"
    )
    html = client.get(
        reverse("videos:job_card", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "every 3s" not in html
    assert "flagged by content moderation" in html


def test_the_api_key_never_reaches_a_page(client, staff, settings):
    settings.SORAWEB_PROVIDER_BASE_URL = "http://127.0.0.1:9/v1"
    settings.SORAWEB_PROVIDER_API_KEY = "sk-live-TOPSECRET-123"
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    from soraweb.videos.models import Provider

    provider = Provider.objects.get()
    Provider.objects.filter(pk=provider.pk).update(api_key="sk-stored-TOPSECRET-456")
    for url in [
        reverse("videos:studio"),
        reverse("videos:gallery"),
        reverse("admin:videos_provider_changelist"),
        reverse("admin:videos_provider_change", args=[provider.pk]),
    ]:
        html = client.get(url).content.decode()
        assert "TOPSECRET" not in html, url


def test_saving_a_provider_in_the_admin_keeps_the_key_when_the_field_is_left_empty(client, staff):
    from soraweb.videos.models import Provider

    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    provider = Provider.objects.create(
        name="Relay", base_url="https://relay.example.com/v1", api_key="sk-keep-me"
    )
    data = {
        "name": "Relay renamed",
        "base_url": "https://relay.example.com/v1",
        "wire_format": "unified",
        "api_key": "",
        "extra_headers": "{}",
        "concurrency_limit": 4,
        "poll_interval_seconds": 5,
        "webhook_secret": "",
        "enabled": "on",
    }
    response = client.post(reverse("admin:videos_provider_change", args=[provider.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    provider.refresh_from_db()
    assert provider.name == "Relay renamed" and provider.api_key == "sk-keep-me"


def test_a_card_names_the_picked_shape_not_only_portrait_or_landscape(client, member):
    """A 21:9 job's card says 21:9 and its resolution, as the form offered them; a job made
    before settings were stored keeps its orientation's name."""
    client.force_login(member)
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    wide = job_row(
        member,
        vm,
        text="a wide one",
        orientation="landscape",
        state=JobState.QUEUED,
        params={"aspect_ratio": "21:9", "resolution": "1080p", "duration": vm.durations[0]},
    )
    old = job_row(
        member, vm, text="an old one", size="unknown", state=JobState.QUEUED, orientation="portrait"
    )
    VideoJob.objects.filter(pk=old.pk).update(aspect_ratio="", resolution="")

    def meta(job):
        html = client.get(reverse("videos:job_card", args=[job.pk])).content.decode()
        return html.split('class="muted job-meta">')[1].split("</span>")[0]

    assert "21:9 · 1080p" in meta(wide) and "Landscape" not in meta(wide)
    assert "Portrait (tall)" in meta(old)
