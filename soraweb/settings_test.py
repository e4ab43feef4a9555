"""Settings for the test suite: the normal settings, with background tasks run inline."""

from __future__ import annotations

import tempfile
from pathlib import Path

from soraweb.settings import *  # noqa: F403
from soraweb.settings import Q_CLUSTER

# django-q2 reads Q_CLUSTER once at import, so override_settings cannot switch this per test.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="soraweb-test-media-"))
SORAWEB_POLL_LOOP_SECONDS = 0.0
# The manifest storage of every mode, on files collected once per test session (tests/conftest.py).
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="soraweb-test-static-"))
WHITENOISE_USE_FINDERS = False
# Live notices are published inline at commit (see soraweb.videos.live.Outbox.add).
SORAWEB_LIVE_OUTBOX_THREAD = False
