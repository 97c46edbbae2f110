"""What runs on the host is checked by the real tools: cloud-init's schema and shellcheck."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components.gpu_host import render_cloud_init
from tests.conftest import ROOT, require_tool

SHELL_SCRIPTS = sorted(
    p
    for p in [*ROOT.rglob("*.sh"), ROOT / ".ci" / "run"]
    if ".venv" not in p.parts and "build" not in p.parts
)


def test_user_data_is_valid_cloud_config(dev_program, tmp_path):
    cloud_init = require_tool("cloud-init")
    user_data = tmp_path / "user-data.yaml"
    user_data.write_text(dev_program.one("aws:ec2/instance:Instance").inputs["userData"])
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(user_data)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_user_data_installs_the_pinned_tools_and_the_gpu_sysctl():
    user_data = render_cloud_init("v1.37.0", "v1.34.0", "ubuntu", 4)
    config = yaml.safe_load(user_data)
    assert user_data.startswith("#cloud-config\n")
    assert config["runcmd"] == [["/usr/local/sbin/prepare-gpu-host", "v1.37.0", "v1.34.0", "ubuntu", "4"]]
    files = {f["path"]: f["content"] for f in config["write_files"]}
    assert files["/etc/sysctl.d/99-minikube-gpu.conf"] == "net.core.bpf_jit_harden = 0\n"
    prepare = files["/usr/local/sbin/prepare-gpu-host"]
    assert "nvidia-ctk runtime configure --runtime=docker" in prepare
    assert "sha256sum --check" in prepare


def test_shell_scripts_are_found():
    names = {p.name for p in SHELL_SCRIPTS}
    assert {"prepare-host.sh", "start-minikube.sh", "deploy.sh", "run"} <= names


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_script_passes_shellcheck(script: Path):
    shellcheck = require_tool("shellcheck")
    result = subprocess.run(
        [shellcheck, "--severity=style", "--external-sources", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
