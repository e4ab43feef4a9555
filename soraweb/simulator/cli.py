"""The simulator's command line: ``python -m soraweb.simulator.cli`` (or the older
``python -m soraweb.simulator.server``) and ``manage.py runsimulator`` share these options.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from . import catalogue_models
from .relay import Simulator
from .store import rules_from_catalogue


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"SORAWEB_SIMULATOR_{name}", default)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``manage.py runsimulator`` and ``python -m soraweb.simulator.server``.
    Every option also reads ``SORAWEB_SIMULATOR_<NAME>`` from the environment."""
    add = parser.add_argument
    add("--host", default=_env("HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=int(_env("PORT", "8001") or 8001), help="port (default 8001)")
    add("--api-key", default=_env("API_KEY"), help="require 'Authorization: Bearer <key>'")
    add(
        "--job-seconds",
        type=float,
        default=float(_env("JOB_SECONDS", "6") or 6),
        help="how long a job takes (default 6)",
    )
    add("--webhook-url", default=_env("WEBHOOK_URL"), help="POST video.completed/failed here")
    add("--webhook-secret", default=_env("WEBHOOK_SECRET"), help="whsec_... signing secret")
    add(
        "--hang-seconds",
        type=float,
        default=float(_env("HANG_SECONDS", "45") or 45),
        help="how long [sim:hang] / [sim:pollhang] hang (default 45)",
    )
    add(
        "--latency",
        type=float,
        default=float(_env("LATENCY", "0") or 0),
        help="extra delay before every answer, in seconds",
    )
    add(
        "--result-ttl",
        type=float,
        default=float(_env("RESULT_TTL", "3600") or 3600),
        help="seconds a result URL lives after completion (default 3600; 0 = forever)",
    )
    add(
        "--newapi-shape",
        choices=("code", "flat"),
        default=_env("NEWAPI_SHAPE", "code"),
        help="default shape of GET /v1/video/generations/{id}",
    )
    add(
        "--chat-result-style",
        choices=("both", "markdown", "html"),
        default=_env("CHAT_RESULT_STYLE", "both"),
        help="how the chat format gives the URL",
    )
    add(
        "--public-url",
        default=_env("PUBLIC_URL"),
        help="base URL put into result links, e.g. http://simulator:8001/v1 under Docker",
    )
    add(
        "--drift",
        default=_env("DRIFT", ""),
        help="comma-separated drift markers applied to every job, e.g. longid,nourl,nodelete",
    )
    add(
        "--catalogue",
        action="append",
        default=[f for f in (_env("CATALOGUE") or "").split(",") if f],
        help="a catalogue JSON file whose models the relay sells as well as the presets "
        "(repeatable; the file an admin exported or imports)",
    )
    add("--serve-seconds", type=float, default=None, help=argparse.SUPPRESS)


def simulator_from_options(
    options: Mapping[str, Any], *, log_stream: TextIO | None = None, quiet: bool = False
) -> Simulator:
    ttl = options.get("result_ttl")
    files = list(options.get("catalogue") or [])
    rules = rules_from_catalogue([catalogue_models.PRESETS_FILE, *files]) if files else None
    return Simulator(
        host=options["host"],
        port=options["port"],
        api_key=options.get("api_key"),
        job_seconds=options["job_seconds"],
        webhook_url=options.get("webhook_url"),
        webhook_secret=options.get("webhook_secret"),
        hang_seconds=options["hang_seconds"],
        latency=options["latency"],
        result_ttl=ttl if ttl else None,
        newapi_shape=options["newapi_shape"],
        chat_result_style=options["chat_result_style"],
        public_base_url=options.get("public_url"),
        drift=(options.get("drift") or "").split(","),
        model_rules=rules,
        quiet=quiet,
        log_stream=log_stream,
    )


def serve(sim: Simulator, say: Callable[[str], None], serve_seconds: float | None = None) -> None:
    """Run until Ctrl-C (or for ``serve_seconds``), saying where to point the app."""
    sim.start()
    say(f"Relay simulator listening on {sim.base_url}")
    say(
        "  formats: unified /video/create, chat /chat/completions, openai /videos, "
        "newapi /video/generations"
    )
    if sim.api_key:
        say("  API key required (Authorization: Bearer ...)")
    try:
        deadline = time.monotonic() + serve_seconds if serve_seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        say("Relay simulator stopped.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m soraweb.simulator.cli", description="soraweb relay simulator"
    )
    add_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    options = vars(parser.parse_args(argv))
    sim = simulator_from_options(options, quiet=options["quiet"])
    serve(sim, lambda line: print(line, flush=True), options.get("serve_seconds"))


if __name__ == "__main__":
    main()
