"""The lock files pin every dependency with hashes, and the suite runs on exactly those pins."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def read_lock(name: str) -> dict[str, tuple[str, str | None, int]]:
    """name -> (version, marker, number of hashes), parsed from a `uv pip compile` lock file."""
    pins: dict[str, tuple[str, str | None, int]] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(re.sub(r"\[.*\]", "", match.group(1)))
            pins[current] = (match.group(2), match.group(3), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, marker, hashes = pins[current]
            pins[current] = (version, marker, hashes + 1)
    return pins


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime, dev


def test_every_declared_dependency_is_pinned_with_hashes_within_its_range():
    runtime, dev = declared()
    for lock_name, wanted in (
        ("requirements.lock", runtime),
        ("requirements-dev.lock", runtime + dev),
    ):
        pins = read_lock(lock_name)
        for requirement in wanted:
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirement.name} is not in {lock_name}: run `make lock`"
            version, _marker, hashes = pins[name]
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock_name} pins {name}=={version}, outside {requirement}: run `make lock`"
            )
        for name, (version, _marker, hashes) in pins.items():
            assert hashes >= 1, f"{name}=={version} in {lock_name} has no hash"


def test_the_running_environment_is_the_locked_one():
    mismatched = []
    for name, (version, marker, _hashes) in read_lock("requirements-dev.lock").items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            mismatched.append(f"{name}: not installed (lock: {version})")
            continue
        if Version(installed) != Version(version):
            mismatched.append(f"{name}: {installed} installed, {version} locked")
    assert not mismatched, "not installed from the lock (`make install`): " + "; ".join(mismatched)
