"""What runs on the host first is checked by the real tool for it: cloud-init's schema."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from components.gpu_host import render_cloud_init
from tests.conftest import ROOT, require_tool


def test_user_data_is_valid_cloud_config(dev_program, tmp_path):
    cloud_init = require_tool("cloud-init")
    user_data = tmp_path / "user-data.yaml"
    user_data.write_text(dev_program.one("aws:ec2/instance:Instance").inputs["userData"])
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(user_data)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_user_data_prepares_docker_and_the_gpu_sysctl_and_carries_no_tool_version():
    """A tool version in the user data would replace the host on every upgrade."""
    user_data = render_cloud_init("ubuntu", 4)
    config = yaml.safe_load(user_data)
    assert user_data.startswith("#cloud-config\n")
    assert config["runcmd"] == [["/usr/local/sbin/prepare-gpu-host", "ubuntu", "4"]]
    files = {f["path"]: f["content"] for f in config["write_files"]}
    assert files["/etc/sysctl.d/99-minikube-gpu.conf"] == "net.core.bpf_jit_harden = 0\n"
    prepare = files["/usr/local/sbin/prepare-gpu-host"]
    assert "nvidia-ctk runtime configure --runtime=docker" in prepare
    assert "minikube" not in yaml.safe_dump(config["runcmd"]) and "curl" not in prepare


def _wait_for_host(tmp_path: Path, cloud_init_body: str) -> subprocess.CompletedProcess:
    """wait-for-host.sh with stand-ins for cloud-init and sudo (sudo runs the command as is)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {"cloud-init": cloud_init_body, "sudo": 'exec "$@"\n'}.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    return subprocess.run(
        ["bash", str(ROOT / "components" / "scripts" / "wait-for-host.sh")],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "READY_MARKER": str(tmp_path / "host-ready")},
        capture_output=True,
        text=True,
    )


FAILED_CLOUD_INIT = """\
if [ "$1" = status ]; then
  echo 'status: error'
  echo 'errors:'
  echo "	- (scripts_user) Failed to run module scripts_user"
  exit 1
fi
if [ "$1" = single ]; then {RETRY}; fi
"""


def test_wait_step_reports_cloud_inits_own_error_and_retries_the_bootstrap(tmp_path):
    marker = tmp_path / "host-ready"
    result = _wait_for_host(tmp_path, FAILED_CLOUD_INIT.replace("{RETRY}", f"date > {marker}"))
    assert result.returncode == 0, result.stderr
    assert "Failed to run module scripts_user" in result.stderr
    assert "bootstrap retried" in result.stdout


def test_wait_step_fails_with_cloud_inits_error_when_the_retry_fails_too(tmp_path):
    result = _wait_for_host(tmp_path, FAILED_CLOUD_INIT.replace("{RETRY}", "exit 1"))
    assert result.returncode == 1
    assert "status: error" in result.stderr and "Failed to run module scripts_user" in result.stderr
    assert "the bootstrap failed again" in result.stderr
