"""The whole journey in a real browser, with a stock LiteLLM proxy between soraweb and the relay.

The stack is the one `make run` starts (its own worker processes); an admin adds the LiteLLM
provider and a model for it, and a person makes a video and plays it in the gallery.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import browser, login, manage, page, start_stack, stop_stack  # noqa: F401

pytestmark = [pytest.mark.gateways, pytest.mark.browser]

PROMPT = "A paper lantern rises over a harbour via-litellm-browser"


@pytest.fixture
def litellm_stack(tmp_path_factory, litellm):
    stack = start_stack(tmp_path_factory.mktemp("gateway-stack"))
    manage(
        stack,
        "shell",
        "-c",
        "from soraweb.videos.models import Provider, VideoModel\n"
        "seed = VideoModel.objects.get(name='sora-2', provider__from_environment=True)\n"
        "p = Provider.objects.create(name='LiteLLM', base_url="
        f"{litellm.url + '/v1'!r}, wire_format='openai', api_key={litellm.master_key!r},"
        " poll_interval_seconds=1)\n"
        "VideoModel.objects.create(name='sora-2', display_name='Sora 2 via LiteLLM', provider=p,"
        " orientations=seed.orientations, sizes=['small'], durations=[10],"
        " price_per_second=seed.price_per_second)",
    )
    yield stack
    stop_stack(stack)


def test_a_video_made_through_litellm_plays_in_the_gallery(
    page,  # noqa: F811
    litellm_stack,
    gateway_simulator,
):
    stack = litellm_stack
    login(page, stack)
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_label("Model").select_option(label="Sora 2 via LiteLLM")
    page.get_by_role("button", name="Generate").click()
    page.locator('.job-card[data-state="succeeded"]', has_text="A paper lantern rises").wait_for(
        timeout=180_000
    )
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
    page.wait_for_url(stack.url("/gallery/"))
    page.get_by_label("Search prompts").fill("A paper lantern rises")
    page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
    page.get_by_role("button", name="Play: A paper lantern rises").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('video.tile-video');"
        " return v && v.readyState >= 1 && v.duration > 0; }",
        timeout=60_000,
    )
    upstream = [job for job in gateway_simulator.jobs() if "via-litellm-browser" in job["prompt"]]
    assert len(upstream) == 1  # one create upstream
    # The clip is the one the relay made, whatever length the create path asked it for.
    duration = page.locator("video.tile-video").evaluate("v => v.duration")
    assert duration == pytest.approx(upstream[0]["seconds"], abs=0.6)
