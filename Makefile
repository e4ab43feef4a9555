# soraweb: the front door. `make run` and `make test` work on a machine with Python 3.11 and make.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint format bench test-scale install clean messages lock test-gateways

$(PY):
	$(PYTHON) -m venv $(VENV)

# Exactly the versions in the lock file, each checked against its hash: a fresh machine next month
# installs what was tested today. `make lock` refreshes the pins after pyproject.toml changes.
$(STAMP): requirements-dev.lock | $(PY)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	@touch $(STAMP)

# The resolver itself is pinned too; it runs in its own small venv.
UV_VERSION := 0.13.9
TOOLS := .venv-tools
lock:
	test -x $(TOOLS)/bin/uv || { $(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"; }
	$(TOOLS)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet -o requirements.lock
	$(TOOLS)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet --extra dev -o requirements-dev.lock

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

# soraweb through a real LiteLLM proxy (tests marked `gateways`): installs litellm[proxy] into
# its own .venv-gateways and says "gateway tests NOT RUN: <reason>" when LiteLLM cannot be
# installed or started (not a failure of soraweb); failing tests exit non-zero.
test-gateways: $(STAMP)
	PYTHON=$(PYTHON) PY=$(PY) bash tests/gateways/run.sh

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

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
	rm -rf $(VENV) $(TOOLS) staticfiles test-artifacts .pytest_cache
