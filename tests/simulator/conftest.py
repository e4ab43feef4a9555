"""Fixtures for the simulator tests: real simulators on port 0, real HTTP with requests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from soraweb.simulator.server import Simulator
from soraweb.simulator.store import FakeClock


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """A shared simulator: fast jobs, short hangs. Tests use unique prompts (``tag``)."""
    with Simulator(job_seconds=1.0, hang_seconds=2.0) as s:
        yield s


@pytest.fixture(scope="module")
def clocked() -> Iterator[Simulator]:
    """The same simulator on a ``FakeClock``: its jobs move only when a test calls
    ``clocked.clock.advance(seconds)``. For tests about what a job says at each stage, not
    about real timing. The HTTP server is real."""
    with Simulator(job_seconds=1.0, hang_seconds=2.0, clock=FakeClock()) as s:
        yield s


@pytest.fixture
def tag() -> str:
    """A unique word to put in prompts, so per-prompt counters start at zero."""
    return f"t{uuid.uuid4().hex[:10]}"
