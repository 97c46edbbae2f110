"""Every script that reads a stack finds the state `make deploy` wrote (the local file backend by default)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LOCAL_STATE = f"file://{ROOT}/.pulumi-state"
# Scripts a person runs after `make deploy`; ci-ingress.sh runs only in CI, which always sets the backend.
USER_SCRIPTS = ("deploy.sh", "preview.sh", "destroy.sh", "start-host.sh", "tunnel.sh", "run-workload.sh",
                "measure-time-to-first-dashboard.sh")


@pytest.mark.parametrize("script", USER_SCRIPTS)
def test_every_user_script_defaults_to_the_local_state_backend(script):
    text = (ROOT / "scripts" / script).read_text()
    assert "PULUMI_BACKEND_URL" in text and "file://$PWD/.pulumi-state" in text
    assert 'cd "$(dirname "$0")/.."' in text, "$PWD must be the repository root"


def _stand_in(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


@pytest.mark.parametrize("script", ["tunnel.sh", "run-workload.sh"])
def test_reading_scripts_use_the_local_state_without_pulumi_backend_url(tmp_path, script):
    # The stand-in pulumi records the backend it was pointed at, then fails: nothing else runs.
    _stand_in(tmp_path, "pulumi", f'echo "$PULUMI_BACKEND_URL" > "{tmp_path}/backend"\nexit 1\n')
    _stand_in(tmp_path, "kubectl", "exit 1\n")
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
    env.update(PATH=f"{tmp_path}:{env['PATH']}", WORKLOAD_PYTHON=sys.executable, TMPDIR=str(tmp_path))
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), "dev"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert (tmp_path / "backend").read_text().strip() == LOCAL_STATE


def test_a_given_backend_is_kept(tmp_path):
    _stand_in(tmp_path, "pulumi", f'echo "$PULUMI_BACKEND_URL" > "{tmp_path}/backend"\nexit 1\n')
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "PULUMI_BACKEND_URL": "s3://team-state",
           "TMPDIR": str(tmp_path)}
    subprocess.run(["bash", str(ROOT / "scripts" / "tunnel.sh"), "dev"], env=env, capture_output=True, timeout=30)
    assert (tmp_path / "backend").read_text().strip() == "s3://team-state"
