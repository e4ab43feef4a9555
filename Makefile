# soraweb: the front door. `make run` and `make test` work on a machine with Python 3.11 and make.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint format bench test-scale install clean messages

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py soraweb_setup
	$(PY) manage.py runstack

# The browser tests need Chromium: scripts/ensure-browser.sh finds it or brings it (apt-get as
# root, else Playwright's download), or says in one line what to run.
test: $(STAMP)
	@scripts/ensure-browser.sh $(PY)
	$(PY) -m pytest

# Every test marked `scale` (tests/scale/: several worker clusters on PostgreSQL + Redis + S3 via
# moto): needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (or
# SORAWEB_SCALE_POSTGRES_URL / SORAWEB_SCALE_REDIS_URL), and fails loudly without them.
test-scale: $(STAMP)
	$(PY) -m pytest -m scale

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)
	$(PY) -m tests.bench

# Re-extract every translatable string into soraweb/locale/*/django.po (needs GNU gettext's
# xgettext), then compile the .mo files in Python. The .mo files are committed, so a machine with
# only Python and make runs soraweb translated; a test fails when a .mo is stale.
messages: $(STAMP)
	$(PY) manage.py makemessages --locale zh_Hans --no-obsolete --ignore "tests/*" --ignore "staticfiles/*" --ignore "var/*" --ignore "test-artifacts/*"
	$(PY) manage.py compiletranslations

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache
