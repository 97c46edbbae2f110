"""What runs on the host first is checked by the real tool for it: cloud-init's schema."""

from __future__ import annotations

import subprocess

import yaml

from components.gpu_host import render_cloud_init
from tests.conftest import require_tool


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
