"""Remixes and fitted pictures through the real pipeline, against the simulator over HTTP.

The simulator's openai format refuses an ``input_reference`` whose pixel size differs from the
video's (as the real API does), so these prove the fitted copy is what is sent.
"""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from soraweb.videos import services
from soraweb.videos.models import JobState, VideoJob
from tests.videos.test_pipeline import drive
from tests.videos.test_studio import openai_model, png_bytes

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def stored_image(owner, size):
    data = png_bytes(size)
    return services.reference_image_store(
        uploaded_by=owner,
        name="photo.png",
        content_type="image/png",
        data=data,
        width=size[0],
        height=size[1],
    )


def make(owner, vm, prompt, **kwargs):
    return services.job_create(
        owner=owner,
        video_model=vm,
        prompt_text=prompt,
        orientation="portrait",
        size="small",
        # The openai format takes seconds "4", "8" or "12" (spec section 3); 10 is refused.
        duration=8 if vm.provider.wire_format == "openai" else 10,
        **kwargs,
    )


@pytest.mark.parametrize("fit", ["crop", "pad", ""])
def test_a_picture_of_another_size_is_fitted_before_it_is_sent(
    simulator, sim_provider, member, fit
):
    vm = openai_model(simulator.base_url)
    job = drive(
        make(
            member,
            vm,
            f"a kite from a photo fit-{fit or 'default'}",
            images=[stored_image(member, (1000, 400))],
            image_fit=fit,
        )
    )
    assert job.state == JobState.SUCCEEDED, job.error_message
    remote = simulator.job(job.remote_id)
    assert remote["images"] == ["upload:photo.png"]
    # The original stays as it was uploaded.
    with job.images.get().file.open("rb") as fh:
        assert Image.open(io.BytesIO(fh.read())).size == (1000, 400)


def test_send_unchanged_lets_the_provider_refuse_and_the_card_says_why(
    simulator, sim_provider, member
):
    vm = openai_model(simulator.base_url)
    job = drive(
        make(
            member,
            vm,
            "unfitted photo",
            images=[stored_image(member, (1000, 400))],
            image_fit="none",
        )
    )
    assert job.state == JobState.FAILED
    assert "must match the requested width and height" in job.error_message
    from soraweb.videos.templatetags.studio import error_summary

    assert "size does not match" in error_summary(job)["headline"]


def test_a_remix_is_a_new_job_sent_as_a_remix_of_the_original(
    simulator, sim_provider, member, other_member
):
    vm = openai_model(simulator.base_url)
    source = drive(make(member, vm, "a red kite remix-source"))
    assert source.state == JobState.SUCCEEDED, source.error_message
    remix = services.job_remix(
        job=source, by=other_member, prompt_text="the same kite at night remix-case"
    )
    remix.refresh_from_db()
    assert remix.owner == other_member and remix.remix_of == source
    assert remix.remix_remote_id == source.remote_id
    remix = drive(remix)
    assert remix.state == JobState.SUCCEEDED, remix.error_message
    remote = simulator.job(remix.remote_id)
    assert remote["remixed_from"] == source.remote_id
    assert simulator.requests_to("POST", f"/v1/videos/{source.remote_id}/remix") == 1
    # A double submit of the remix form starts it once.
    again = services.job_remix(
        job=source, by=other_member, prompt_text="x", idempotency_key="remix-1"
    )
    assert (
        services.job_remix(job=source, by=other_member, prompt_text="x", idempotency_key="remix-1")
        == again
    )


def test_a_format_without_remix_refuses_it_in_words(simulator, sim_provider, member):
    from soraweb.videos.models import VideoModel

    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    job = drive(make(member, vm, "unified cannot remix"))
    assert job.state == JobState.SUCCEEDED
    with pytest.raises(ValidationError, match="cannot remix"):
        services.job_remix(job=job, by=member, prompt_text="again")
    assert VideoJob.objects.count() == 1


def test_the_remix_form_sits_by_the_video_and_says_what_it_costs(
    client, simulator, sim_provider, member
):
    vm = openai_model(simulator.base_url)
    source = drive(make(member, vm, "a red kite remix-price"))
    assert source.state == JobState.SUCCEEDED, source.error_message
    client.force_login(member)
    page = client.get(f"/jobs/{source.pk}/").content.decode()
    cost = services.job_remix_cost(source)
    assert cost == source.estimated_cost  # the same settings, today's prices
    assert f"A remix costs about ${cost:.2f}: the same settings as this video." in page
    # By the video: before the prompt and the review panel, right after the player's buttons.
    assert page.index('id="remix-title"') < page.index(">Prompt</h2>")
    assert page.index("Download video") < page.index('id="remix-title"')
