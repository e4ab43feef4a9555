"""`make lint`'s type check in the suite: mypy with the Django plugin is clean on soraweb/
([tool.mypy] in pyproject.toml), and the pre-commit hooks run the same tools from the project's
venv, so a commit needs no network."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from tests.clusters import ROOT, clean_env


def test_mypy_is_clean_on_soraweb(tmp_path):
    # The plugin loads soraweb.settings, which makes its data folders: keep them out of the tree.
    env = clean_env(SORAWEB_DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout, result.stdout


def _lint_commands() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "Makefile has no lint target"
    return [line.strip().removeprefix("$(PY) -m ") for line in recipe.group(1).splitlines()]


def test_pre_commit_runs_what_make_lint_runs_from_the_venv():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"])
    assert all(hook["language"] == "system" for hook in hooks)
    assert all(hook["entry"].startswith(".venv/bin/python -m ") for hook in hooks)
    tools = {" ".join(hook["entry"].split()[2:4]) for hook in hooks}  # python -m TOOL [SUB]
    assert tools == {"ruff check", "ruff format", "mypy"}
    assert {" ".join(command.split()[:2]) for command in _lint_commands()} == {
        "ruff check",
        "ruff format",
        "mypy",
    }
