from __future__ import annotations

import socket

import pytest


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


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="sam", password="pw-sam-123456", is_staff=True
    )
