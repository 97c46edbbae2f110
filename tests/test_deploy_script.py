"""scripts/deploy.sh checks every prerequisite first and says what is missing, before Pulumi runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "deploy.sh"


def _tool(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """Stand-ins: a `pulumi` that logs its calls and answers `config get` from files, a working `aws`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "allowedCidrs").write_text('["100.64.1.2/32"]')
    _tool(
        bin_dir,
        "pulumi",
        f'echo "$*" >> {tmp_path}/calls\n'
        f'if [ "$1 $2" = "config get" ]; then cat {tmp_path}/"$3" 2>/dev/null; fi\n',
    )
    _tool(bin_dir, "aws", "exit 0\n")
    _tool(bin_dir, "curl", "echo 192.0.2.44\n")
    return tmp_path


def _deploy(tools: Path, *, with_pulumi: bool = True, **env: str) -> subprocess.CompletedProcess:
    if not with_pulumi:
        (tools / "bin" / "pulumi").unlink()
    environment = {
        "PATH": f"{tools / 'bin'}:/usr/bin:/bin",
        "HOME": str(tools),
        "PULUMI_BACKEND_URL": f"file://{tools}/state",
        "PULUMI_CONFIG_PASSPHRASE": "test-only",
        **env,
    }
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("scripts/deploy.sh needs the project's .venv (make creates it)")
    return subprocess.run(
        ["bash", str(SCRIPT), "dev"], env=environment, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )


def _calls(tools: Path) -> list[str]:
    calls = tools / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_ready_deploy_runs_pulumi_up_for_the_stack_with_the_policy_pack(tools):
    result = _deploy(tools)
    assert result.returncode == 0, result.stderr
    assert "up --stack dev --policy-pack policy" in _calls(tools)


def test_deploy_starts_a_stopped_host_before_pulumi_up(tools):
    """scripts/start-host.sh asks the stack for its host first (none here: a stack not deployed yet)."""
    result = _deploy(tools)
    assert result.returncode == 0, result.stderr
    calls = _calls(tools)
    assert calls.index("stack output instanceId --stack dev") < calls.index("up --stack dev --policy-pack policy")


def test_missing_pulumi_cli_is_named_with_how_to_install_it(tools):
    result = _deploy(tools, with_pulumi=False)
    assert result.returncode == 1
    assert "Pulumi CLI not found" in result.stderr and "get.pulumi.com" in result.stderr


def test_local_state_needs_a_passphrase(tools):
    result = _deploy(tools, PULUMI_CONFIG_PASSPHRASE="")
    assert result.returncode == 1
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert not any(call.startswith("up") for call in _calls(tools))


def test_documentation_address_is_refused_and_the_callers_address_offered(tools):
    (tools / "allowedCidrs").write_text('["198.51.100.7/32"]')
    result = _deploy(tools)
    assert result.returncode == 1
    assert "allowedCidrs" in result.stderr and "192.0.2.44/32" in result.stderr
    assert not any(call.startswith("up") for call in _calls(tools))


def test_broken_aws_credentials_are_named(tools):
    _tool(tools / "bin", "aws", "exit 255\n")
    result = _deploy(tools)
    assert result.returncode == 1
    assert "AWS credentials do not work" in result.stderr



def test_missing_aws_cli_is_named_because_destroy_and_start_need_it(tools):
    if shutil.which("aws", path="/usr/bin:/bin"):
        pytest.skip("a real AWS CLI in /usr/bin would stand in for the missing one")
    (tools / "bin" / "aws").unlink()
    (tools / ".aws").mkdir()
    (tools / ".aws" / "credentials").write_text("[default]\n")
    result = _deploy(tools)
    assert result.returncode == 1
    assert "AWS CLI not found" in result.stderr
    assert not any(call.startswith("up") for call in _calls(tools))
