#!/usr/bin/env bash
# `make test-gateways`: soraweb's real pipeline through a stock LiteLLM proxy in front of the
# simulator (tests marked `gateways`, tests/gateways/test_litellm.py).
#
# LiteLLM lives in its own venv (.venv-gateways, pinned below) so its many dependencies never
# touch soraweb's. If it cannot be installed or will not start, that is not a failure of
# soraweb: the script says "gateway tests NOT RUN: <reason>" loudly and exits 0. A test that
# runs and fails exits non-zero.
set -uo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3.11}
PY=${PY:-.venv/bin/python}
GW_VENV=${GW_VENV:-.venv-gateways}
# 1.106.12: newer releases need a litellm-proxy package that PyPI's mirror here does not carry.
LITELLM_VERSION=${LITELLM_VERSION:-1.106.12}

not_run() {
  echo
  echo "=============================================================================="
  echo "gateway tests NOT RUN: $1"
  echo "=============================================================================="
  exit 0
}

installed=$("$GW_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('litellm'))" 2>/dev/null || true)
if [ "$installed" != "$LITELLM_VERSION" ] || [ ! -x "$GW_VENV/bin/litellm" ]; then
  echo "Installing litellm[proxy]==$LITELLM_VERSION into $GW_VENV ..."
  [ -x "$GW_VENV/bin/python" ] || "$PYTHON" -m venv "$GW_VENV" || not_run "could not create the venv $GW_VENV"
  "$GW_VENV/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" \
    || not_run "could not install litellm[proxy]==$LITELLM_VERSION from PyPI"
fi

reason_file=$(mktemp)
SORAWEB_LITELLM_BIN="$GW_VENV/bin/litellm" SORAWEB_GATEWAYS_NOT_RUN_FILE="$reason_file" \
  "$PY" -m pytest -m gateways tests/gateways -p no:cacheprovider
rc=$?
reason=$(cat "$reason_file" 2>/dev/null || true)
rm -f "$reason_file"
if [ "$rc" -eq 75 ]; then
  not_run "${reason:-the LiteLLM proxy could not be started}"
fi
exit "$rc"
