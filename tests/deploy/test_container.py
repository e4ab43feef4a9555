"""The container files, checked without a Docker engine (these machines have none).

hadolint (the Dockerfile linter, a static binary from PyPI), shellcheck for the entry point, the
Compose specification's JSON schema for docker-compose.yml, and the structure soraweb relies
on: a multi-stage build, a non-root user, collectstatic at build time, a HEALTHCHECK, an entry
point that migrates, and the four services wired to each other.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_hadolint_finds_nothing():
    result = _run(str(BIN / "hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_finds_nothing():
    result = _run(str(BIN / "shellcheck"), "docker/entrypoint.sh", ".ci/run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification():
    result = _run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        "docker-compose.yml",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_in_stages_and_runs_unprivileged():
    steps = _instructions()
    stages = [args for op, args in steps if op == "FROM"]
    assert len(stages) >= 2 and any(" AS build" in s for s in stages)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    ops = {op: args for op, args in final}
    user = ops["USER"].split(":")[0]
    assert user.isdigit() and int(user) != 0
    assert "collectstatic" in " ".join(args for op, args in final if op == "RUN")
    assert "healthcheck.py" in ops["HEALTHCHECK"]
    assert "SORAWEB_PRODUCTION=1" in " ".join(args for op, args in final if op == "ENV")
    entrypoint = ROOT / ops["ENTRYPOINT"].strip('[]"').replace("/app/", "")
    assert entrypoint.exists() and os.access(entrypoint, os.X_OK)
    # The USER line comes after the last step that writes into the image.
    last_run = max(i for i, (op, _) in enumerate(final) if op == "RUN")
    assert [op for op, _ in final].index("USER") > last_run


def test_everything_the_image_copies_exists_and_is_not_docker_ignored():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for op, args in _instructions():
        if op != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    for heavy in (".venv", "var", ".git", "tests"):
        assert heavy in ignored


def test_entrypoint_migrates_before_serving_and_working():
    script = (ROOT / "docker/entrypoint.sh").read_text()
    for role, command in (("web", "exec gunicorn"), ("worker", "exec python manage.py qcluster")):
        block = script.split(f"    {role})", 1)[1].split(";;", 1)[0]
        assert block.index("migrate") < block.index(command), role
    assert "python manage.py soraweb_migrate" in script


def test_compose_wires_web_worker_postgres_and_redis():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
    for name in ("web", "worker"):
        service = services[name]
        env = service["environment"]
        assert (
            env["DATABASE_URL"].startswith("postgres://")
            and "@postgres:5432/" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SORAWEB_SECRET_KEY"].startswith("${SORAWEB_SECRET_KEY:?")
        assert service["command"] == [name]
        assert service["build"] == "."
        for dependency, condition in service["depends_on"].items():
            assert condition["condition"] == "service_healthy"
            assert "healthcheck" in services[dependency], dependency
        for volume in service["volumes"]:
            assert volume.split(":")[0] in compose["volumes"]
    assert services["web"]["image"] == services["worker"]["image"]
    # Every variable the compose file reads is documented in the example environment file.
    example = (ROOT / "docker/env.example").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    undocumented = {v for v in used if not re.search(rf"^{v}=", example, re.MULTILINE)}
    assert undocumented <= {"SORAWEB_IMAGE"}, undocumented
    # No secret is written into the compose file itself.
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "API_KEY")):
                assert str(value).startswith("${"), key
