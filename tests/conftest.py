from __future__ import annotations

import os
import socket

import pytest
from hypothesis import settings as hypothesis_settings

# CI runs every Hypothesis test the same way each time: examples derived from the test itself
# (derandomize), a fixed count, no wall-clock deadline on a busy runner, and no example database
# carried over from an earlier run. Loaded here, before any test module builds its @settings, so
# every test inherits it; a test's own max_examples still applies where it sets one.
hypothesis_settings.register_profile(
    "ci", derandomize=True, max_examples=50, deadline=None, database=None, print_blob=True
)
if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _collected_static():
    """Static files collected as `make run` and the image do, so pages render hashed names
    from the manifest (a missing entry fails the page, as it would in production)."""
    from django.conf import settings
    from django.core.management import call_command

    if settings.configured and "django.contrib.staticfiles" in settings.INSTALLED_APPS:
        call_command("collectstatic", "--noinput", verbosity=0)


def wait_http(url: str, timeout: float = 20.0) -> None:
    """Block until ``url`` answers at all (any status), or raise after ``timeout`` seconds."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


def form_data(model: str = "sora-2", **overrides) -> dict:
    """A valid POST for the create form with the seeded model ``model``; override any field."""
    from soraweb.videos.models import VideoModel

    vm = VideoModel.objects.get(name=model, provider__from_environment=True)
    return {
        "prompt": "a red kite over green hills",
        "video_model": str(vm.pk),
        "orientation": "landscape",
        "size": vm.sizes[0],
        "duration": str(vm.durations[0]),
        "idempotency_key": "",
        **overrides,
    }


def job_fields(
    owner, video_model, *, text: str = "a job", state: str = "queued", **overrides
) -> dict:
    """Keyword arguments for a VideoJob row made directly (no pipeline): a portrait job, queued
    unless told. Kept for tests/bench; tests use tests.factories.job_row."""
    from tests.factories import job_fields as fields

    return fields(
        owner, video_model, text=text, state=state, **{"orientation": "portrait", **overrides}
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def simulator():
    """One real simulator over HTTP for the whole session (jobs finish in about 2 s)."""
    from soraweb.simulator.server import Simulator

    sim = Simulator(host="127.0.0.1", port=0, job_seconds=2.0, hang_seconds=3.0)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sim_provider(simulator, settings):
    """The seeded environment provider, pointed at the test simulator."""
    from soraweb.videos.models import Provider

    settings.SORAWEB_PROVIDER_BASE_URL = ""
    settings.SORAWEB_SIMULATOR_URL = simulator.base_url
    return Provider.objects.get(from_environment=True)


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="mia", password="pw-mia-123456")


@pytest.fixture
def other_member(django_user_model):
    return django_user_model.objects.create_user(username="omar", password="pw-omar-123456")


# What an administrator of the studio holds (not is_staff alone: a team manager is staff too).
STUDIO_ADMIN_PERMISSIONS = ["delete_videojob", "view_operations", "view_spend"]


@pytest.fixture
def staff(django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(
        username="sam", password="pw-sam-123456", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=STUDIO_ADMIN_PERMISSIONS))
    return user


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    """A request made in one test activates its language in this thread; the next test must not
    inherit it (messages stored by inline tasks would come out in that language)."""
    yield
    from django.utils import translation

    translation.deactivate()
