"""Repository-wide checks: every shell script passes shellcheck, the Python passes the linter, and the
task runner has the README's commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHELL_SCRIPTS = sorted(
    p
    for p in ROOT.rglob("*.sh")
    if not any(part.startswith(".") and part != ".ci" for part in p.relative_to(ROOT).parts)
)


def test_there_are_shell_scripts_to_check():
    assert SHELL_SCRIPTS


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_script_passes_shellcheck(script):
    shellcheck = Path(sys.executable).with_name("shellcheck")
    result = subprocess.run([str(shellcheck), "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_passes_the_linter():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_has_a_target_for_every_command_the_readme_names():
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    assert {"deploy", "test", "preview", "destroy", "tunnel", "workload", "render", "lint"} <= targets
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    assert {"deploy", "test", "preview", "destroy", "tunnel", "workload", "render", "lint"} <= set(phony)


@pytest.mark.parametrize(
    "target,command",
    [
        ("preview", "scripts/preview.sh prod"),
        ("destroy", "scripts/destroy.sh prod"),
        ("tunnel", "scripts/tunnel.sh prod"),
        ("workload", "scripts/run-workload.sh prod"),
        ("render", "-m dashboards.render --stack prod --out build/signals"),
        ("lint", "ruff check ."),
    ],
)
def test_make_target_runs_its_command_for_the_chosen_stack(target, command):
    result = subprocess.run(
        ["make", "-n", "-W", ".venv/.installed", target, "STACK=prod", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert command in result.stdout


def test_destroy_refuses_without_the_stack_name_typed_again(tmp_path):
    """The confirmation comes before anything touches Pulumi (a fake `pulumi` that must never run)."""
    fake = tmp_path / "pulumi"
    fake.write_text('#!/bin/sh\necho ran >> "$(dirname "$0")/calls"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CONFIRM": "dve"}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "destroy.sh"), "dev"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1 and "Not confirmed" in result.stderr
    assert not (tmp_path / "calls").exists()

    env["CONFIRM"] = "dev"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "destroy.sh"), "dev"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "calls").read_text() == "ran\n"
