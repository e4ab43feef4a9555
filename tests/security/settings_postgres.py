"""Test settings on PostgreSQL for test_fuzz_forms.test_the_fuzz_holds_on_postgresql.

The database comes from DATABASE_URL; its test copy gets the name the outer test chose
(prefixed ``secinput_``), so runs by different people on one server never meet.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from soraweb.settings_test import *  # noqa: F403
from soraweb.settings_test import DATABASES

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("tests.security.settings_postgres needs a postgres:// DATABASE_URL")
DATABASES["default"]["TEST"] = {"NAME": os.environ["SECINPUT_FUZZ_TEST_DB"]}
