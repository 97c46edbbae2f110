"""MiniKube on the host: remote steps in order, GPUs proven, a provider fed by the fetched kubeconfig."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from components.minikube_cluster import node_size
from components.pod_security import VLLM_USER
from tests.conftest import ROOT
from tests.harness import MOCK_PUBLIC_IP

COMMAND = "command:remote:Command"
STEPS = ["wait-for-host", "mount-data", "own-claims", "tools", "gpu-metrics", "start", "verify-gpus", "kubeconfig"]


def _steps(program):
    return {step: program.one(COMMAND, f"-{step}") for step in STEPS}


def test_remote_steps_run_in_order(dev_program):
    steps = _steps(dev_program)
    for earlier, later in zip(STEPS, STEPS[1:], strict=False):
        assert steps[earlier].urn in steps[later].dependencies, f"{later} must wait for {earlier}"


def test_remote_steps_start_once_the_data_volume_is_attached(dev_program):
    attachment = dev_program.one("aws:ec2/volumeAttachment:VolumeAttachment")
    assert attachment.urn in _steps(dev_program)["wait-for-host"].dependencies


def test_steps_have_no_delete_command_so_destroy_never_needs_the_host(dev_program):
    for step in _steps(dev_program).values():
        assert "delete" not in step.inputs and "update" not in step.inputs


def test_minikube_starts_with_every_gpu_and_the_hosts_cpus_less_a_reserve(dev_program):
    start = _steps(dev_program)["start"]
    cpus, _ = node_size(48, 192)
    assert start.inputs["create"] == f"bash -s -- {cpus} 8192 v1.34.0 {MOCK_PUBLIC_IP} 8443 192.168.49.2 4"
    assert "--gpus=all" in start.inputs["stdin"]
    assert "--apiserver-ips=${public_ip}" in start.inputs["stdin"]


def test_minikube_memory_is_what_the_host_has_available_less_the_reserve(dev_program):
    """Not the type's nominal 192 GiB, which the OS never sees: MemAvailable, measured at start."""
    script = _steps(dev_program)["start"].inputs["stdin"]
    assert "/^MemAvailable:/" in script and "/proc/meminfo" in script
    assert "memory_mib=$((available_mib - reserved_mib))" in script
    assert "--memory=${memory_mib}mb" in script


def test_minikube_runs_as_a_systemd_unit_that_brings_it_back_after_a_reboot(dev_program):
    script = _steps(dev_program)["start"].inputs["stdin"]
    assert "WantedBy=multi-user.target" in script and 'systemctl enable "$unit"' in script
    # Not before the data volume is mounted, and as the login user in the docker group (no `sg`).
    assert "RequiresMountsFor=${data_dir}" in script and "SupplementaryGroups=docker" in script
    assert "sg docker" not in script


def test_the_weight_cache_claim_is_handed_to_the_user_vllm_runs_as(dev_program):
    own = _steps(dev_program)["own-claims"]
    assert own.inputs["create"] == f"bash -s -- llm/model-cache={VLLM_USER.uid}:{VLLM_USER.gid}"


def _own_claims(claims_dir, *claims: str) -> subprocess.CompletedProcess:
    """own-claims.sh as the remote step runs it, with sudo a pass-through (the tests run as root in CI)."""
    bin_dir = claims_dir.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    (bin_dir / "sudo").chmod(0o755)
    return subprocess.run(
        ["bash", str(ROOT / "components" / "scripts" / "own-claims.sh"), *claims],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "CLAIMS_DIR": str(claims_dir)},
        capture_output=True,
        text=True,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another user takes root, as on the host")
def test_a_cache_filled_as_root_becomes_the_model_servers_and_a_rerun_changes_nothing(tmp_path):
    """A stack deployed before vLLM ran as uid 2000 left root-owned weights; the prefetch (uid 2000)
    then could not take its locks in them. Other claims and other namespaces are left alone."""
    claims = tmp_path / "hostpath-provisioner"
    cache = claims / "llm" / "model-cache"
    (cache / "hub" / ".locks").mkdir(parents=True)
    (cache / "hub" / "weights.safetensors").write_text("w")
    os.symlink("weights.safetensors", cache / "hub" / "latest")
    grafana = claims / "monitoring" / "grafana"
    grafana.mkdir(parents=True)
    owner = f"llm/model-cache={VLLM_USER.uid}:{VLLM_USER.gid}"

    first = _own_claims(claims, owner, "llm/not-yet-provisioned=1:1")
    assert first.returncode == 0, first.stderr
    for path in [cache, *cache.rglob("*")]:
        stat = os.lstat(path)
        assert (stat.st_uid, stat.st_gid) == (VLLM_USER.uid, VLLM_USER.gid), path
    assert os.stat(grafana).st_uid == 0
    assert "llm/not-yet-provisioned: not provisioned yet" in first.stdout

    again = _own_claims(claims, owner)
    assert "llm/model-cache: 0 entries handed" in again.stdout


def test_own_claims_refuses_an_argument_that_is_not_namespace_claim_uid_gid(tmp_path):
    for escape in ("../../etc=0:0", "llm/..=0:0", "llm/model-cache=root:root"):
        result = _own_claims(tmp_path / "claims", escape)
        assert result.returncode == 2 and "is not NAMESPACE/CLAIM=UID:GID" in result.stderr, escape


def test_node_keeps_headroom_for_the_host():
    assert node_size(48, 192) == (46, 184 * 1024)
    assert node_size(4, 16) == (2, 8 * 1024)


def test_gpu_check_expects_the_catalogue_gpu_count(dev_program):
    verify = _steps(dev_program)["verify-gpus"]
    assert verify.inputs["create"] == "bash -s -- 4"
    assert "nvidia\\.com/gpu" in verify.inputs["stdin"]


def test_tools_are_installed_by_a_remote_step_at_the_pinned_versions(dev_program):
    tools = _steps(dev_program)["tools"]
    assert tools.inputs["create"] == "bash -s -- v1.37.0 v1.34.0"
    assert "sha256sum --check" in tools.inputs["stdin"]


def test_every_step_reruns_on_a_new_host(dev_program):
    for step in _steps(dev_program).values():
        assert step.inputs["triggers"] == ["llm-observability-dev-instance-id"]
        assert "connection" in step.secret_inputs, "the SSH private key must stay secret"


def test_provider_uses_the_fetched_kubeconfig_on_the_public_address(dev_program):
    provider = dev_program.one("pulumi:providers:kubernetes")
    assert "kubeconfig" in provider.secret_inputs
    kubeconfig = yaml.safe_load(provider.inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{MOCK_PUBLIC_IP}:8443"
    assert _steps(dev_program)["kubeconfig"].urn in provider.dependencies


def test_provider_keeps_objects_in_the_state_while_the_host_is_stopped(dev_program):
    # deleteUnreachable on the provider would let `pulumi refresh` of a stopped host forget them all.
    provider = dev_program.one("pulumi:providers:kubernetes")
    assert provider.inputs.get("deleteUnreachable") in (None, False, "false")


def test_kubeconfig_is_fetched_and_exported_only_as_a_secret(dev_program):
    assert "stdout" in _steps(dev_program)["kubeconfig"].options["additional_secret_outputs"]
    # pulumi-command logs stdout by default: the client key would be printed by `pulumi up`.
    assert _steps(dev_program)["kubeconfig"].inputs["logging"] == "stderr"
    assert "kubeconfig" in dev_program.secret_outputs


def test_stack_exports_what_users_need(dev_program):
    assert set(dev_program.outputs) >= {
        "instanceId",
        "publicIp",
        "sshCommand",
        "sshPrivateKey",
        "kubeconfig",
        "tunnelCommand",
    }


def test_program_declares_the_same_inputs_on_every_run(dev_program):
    """What makes a second `pulumi up` a no-op: nothing random or time-dependent in any input."""
    from tests.harness import run_program

    def declared(program):
        return sorted((r.type, r.name, repr(r.inputs)) for r in program.resources)

    assert declared(run_program("dev")) == declared(dev_program)


def test_only_the_api_port_is_published_beyond_the_hosts_loopback(dev_program):
    """MiniKube v1.37 (pkg/drivers/kic/kic.go) publishes the node's API, SSH, dockerd, registry and
    auto-pause ports on --listen-address (default 127.0.0.1); --ports values go to `docker run -p` as
    written (pkg/minikube/registry/drvs/docker/docker.go), which binds every interface. So without
    --listen-address only the API port is reachable from outside, and only from allowedCidrs."""
    script = _steps(dev_program)["start"].inputs["stdin"]
    [command] = [line for line in script.splitlines() if line.startswith("ExecStart=")]
    assert "--listen-address" not in command
    assert "--ports=${api_port}:8443" in command.split()
