"""A real LiteLLM proxy between soraweb and the simulator, for the tests marked ``gateways``.

``make test-gateways`` installs ``litellm[proxy]`` into its own venv (.venv-gateways) and runs
these tests; the proxy starts with its default settings plus the smallest config that points
an OpenAI-style deployment at the simulator (the README's "Behind LiteLLM" section shows the
same config). When LiteLLM cannot be started at all, the session ends with exit code
``NOT_RUN_EXIT`` and the reason in ``NOT_RUN_FILE``, so the make target can say "NOT RUN" loudly
without calling that a failure of soraweb.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

NOT_RUN_EXIT = 75
NOT_RUN_FILE = os.environ.get("SORAWEB_GATEWAYS_NOT_RUN_FILE", "")
UPSTREAM_KEY = "sk-upstream-relay-key"
START_SECONDS = float(os.environ.get("SORAWEB_LITELLM_START_SECONDS", "240"))

CONFIG = """\
model_list:
  - model_name: sora-2
    litellm_params:
      model: openai/sora-2
      api_base: {api_base}
      api_key: {api_key}
"""


def _not_run(reason: str) -> None:
    if NOT_RUN_FILE:
        Path(NOT_RUN_FILE).write_text(reason + "\n")
    pytest.exit(f"gateway tests NOT RUN: {reason}", returncode=NOT_RUN_EXIT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiteLLM:
    def __init__(self, url: str, master_key: str, log: Path) -> None:
        self.url = url
        self.master_key = master_key
        self.log = log


@pytest.fixture(scope="session")
def gateway_simulator():
    """The upstream relay LiteLLM forwards to (its own instance: it needs an API key)."""
    from soraweb.simulator.server import Simulator

    sim = Simulator(host="127.0.0.1", port=0, job_seconds=2.0, api_key=UPSTREAM_KEY)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def litellm(gateway_simulator, tmp_path_factory):
    binary = os.environ.get("SORAWEB_LITELLM_BIN") or str(
        Path(__file__).resolve().parents[2] / ".venv-gateways" / "bin" / "litellm"
    )
    binary = str(Path(binary).resolve())  # LiteLLM runs in its own working directory
    if not Path(binary).is_file():
        _not_run(f"no LiteLLM at {binary} (run `make test-gateways`, which installs it)")
    work = tmp_path_factory.mktemp("litellm")
    config = work / "config.yaml"
    config.write_text(CONFIG.format(api_base=gateway_simulator.base_url, api_key=UPSTREAM_KEY))
    port = _free_port()
    master_key = "sk-" + secrets.token_hex(32)  # LiteLLM refuses to start without one
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": master_key,
        # The model price list is fetched from the internet by default; use the bundled copy.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    log = work / "litellm.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own venv's binary, fixed arguments
            [binary, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            _not_run(f"the LiteLLM proxy exited at start (code {proc.returncode}):\n{tail}")
        try:
            if requests.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            _not_run(f"the LiteLLM proxy did not answer within {START_SECONDS:.0f} s")
        time.sleep(1)
    yield LiteLLM(url, master_key, log)
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
