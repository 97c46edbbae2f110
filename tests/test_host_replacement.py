"""The second day, under mocks: which settings replace the host, which upgrade it in place, and what a
replacement does to the cluster's objects and to the data.

A replacement is simulated the way the engine decides it: the program runs with the old and the new
settings, and a resource is replaced when an input the provider cannot update in place changed (the
``ForceNew`` properties of the AWS provider's resources, listed below) and is not ignored. Every
Kubernetes object marked ``deleted_with`` a replaced resource is not deleted through its old provider:
it goes with the old resource (and is created again on the new host).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from tests.harness import Program, run_program

INSTANCE = "aws:ec2/instance:Instance"
DATA_VOLUME = "aws:ebs/volume:Volume"
ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
COMMAND = "command:remote:Command"

# Inputs the AWS provider (Terraform's aws_instance, aws_ebs_volume, aws_volume_attachment) cannot
# change on an existing resource: a new value means a new resource. instanceType and the root volume's
# size are absent on purpose: EC2 changes them on the same instance (stop, modify, start).
FORCE_NEW = {
    INSTANCE: ("ami", "availabilityZone", "subnetId", "instanceMarketOptions", "keyName"),
    DATA_VOLUME: ("availabilityZone", "encrypted", "snapshotId", "kmsKeyId"),
    ATTACHMENT: ("instanceId", "volumeId", "deviceName"),
}


def replaced(before: Program, after: Program) -> set[str]:
    """Names of the resources the engine would replace going from ``before`` to ``after``."""
    old = {(r.type, r.name): r for r in before.resources}
    names = set()
    for resource in after.resources:
        previous = old.get((resource.type, resource.name))
        if previous is None or resource.type not in FORCE_NEW:
            continue
        force_new = list(FORCE_NEW[resource.type])
        if resource.inputs.get("userDataReplaceOnChange"):
            force_new.append("userData")
        ignored = set(resource.options["ignore_changes"])
        if any(
            previous.inputs.get(key) != resource.inputs.get(key) for key in force_new if key not in ignored
        ):
            names.add(resource.name)
    return names


def _changed_commands(before: Program, after: Program) -> set[str]:
    old = {r.name: r.inputs for r in before.of_type(COMMAND)}
    return {r.name.removeprefix("llm-observability-dev-") for r in after.of_type(COMMAND) if old[r.name] != r.inputs}


@pytest.fixture(scope="module")
def before() -> Program:
    return run_program("dev")


# Each setting the README names as replacing the host, with a new value for it.
REPLACING = {
    "amiId": "ami-0fedcba9876543210",
    "spotInstances": False,
    "sshUser": "admin",
}
# Each setting the README names as applied in place, on the same host and the same data.
IN_PLACE = {
    "kubernetesVersion": "v1.34.1",
    "minikubeVersion": "v1.37.1",
    "instanceType": "g6.24xlarge",
    "rootVolumeGiB": 400,
    "dataVolumeGiB": 300,
}


@pytest.mark.parametrize("setting", sorted(REPLACING))
def test_setting_replaces_the_instance_and_keeps_the_data_volume(before, setting):
    after = run_program("dev", {setting: REPLACING[setting]})
    assert "llm-observability-dev-instance" in replaced(before, after)
    assert "llm-observability-dev-data" not in replaced(before, after)
    assert after.one(DATA_VOLUME).inputs == before.one(DATA_VOLUME).inputs


def test_a_subnet_in_another_zone_needs_a_new_data_volume_which_prod_refuses():
    """An EBS volume cannot change zones: the README says to restore a snapshot there instead."""
    before, after = run_program("prod"), run_program("prod", {"subnetId": "subnet-0123456789abcdef0"})
    assert after.one(DATA_VOLUME).inputs["availabilityZone"] == after.one(INSTANCE).inputs["availabilityZone"]
    assert "llm-observability-prod-data" in replaced(before, after)
    assert after.one(DATA_VOLUME).options["protect"] is True


def test_a_replaced_instance_takes_every_kubernetes_object_with_it_not_the_old_provider(before):
    """With the objects deleted_with the instance, none is deleted through the provider of the old
    host (which would reach the new host behind the same address, with the old CA, and fail)."""
    after = run_program("dev", {"amiId": "ami-0fedcba9876543210"})
    replaced_urns = {r.urn for r in after.resources if r.name in replaced(before, after)}
    objects = [r for r in after.resources if r.type.startswith("kubernetes:")]
    assert objects
    deleted_through_old_provider = [r.name for r in objects if r.options["deleted_with"] not in replaced_urns]
    assert deleted_through_old_provider == []


def test_the_new_host_mounts_the_same_data_volume_before_minikube_starts(before):
    after = run_program("dev", {"amiId": "ami-0fedcba9876543210"})
    mount = after.one(COMMAND, "-mount-data")
    assert mount.inputs["create"] == f"bash -s -- {after.one(DATA_VOLUME).name}-id"
    assert mount.inputs["triggers"] == [f"{after.one(INSTANCE).name}-id"], "runs again on every new host"
    start = after.one(COMMAND, "-start")
    assert "--mount-string=${data_dir}/hostpath-provisioner:/tmp/hostpath-provisioner" in start.inputs["stdin"]
    # MiniKube's start flags (cmd/minikube/cmd/start_flags.go) turn the mount string into a bind mount of
    # the docker driver's node container only together with --mount; minikube's hostpath provisioner
    # keeps each claim in /tmp/hostpath-provisioner/<namespace>/<claim> (pkg/storage/storage_provisioner.go).
    assert " --mount --mount-string=" in start.inputs["stdin"]
    # The attachment moves with the host: off the old one (stopped first) before onto the new one.
    attachment = after.one(ATTACHMENT)
    assert attachment.options["delete_before_replace"] is True
    assert attachment.inputs["stopInstanceBeforeDetaching"] is True


@pytest.mark.parametrize("setting", sorted(IN_PLACE))
def test_setting_is_applied_in_place_without_a_new_host(before, setting):
    after = run_program("dev", {setting: IN_PLACE[setting]})
    assert replaced(before, after) == set()


def test_a_kubernetes_upgrade_reruns_the_tool_and_start_steps_on_the_same_host(before):
    after = run_program("dev", {"kubernetesVersion": "v1.34.1"})
    assert replaced(before, after) == set()
    assert _changed_commands(before, after) == {"tools", "start"}
    assert after.one(COMMAND, "-start").inputs["create"].split()[5] == "v1.34.1"
    assert "v1.34.1" not in after.one(INSTANCE).inputs["userData"]


def test_a_minikube_upgrade_reinstalls_minikube_only(before):
    after = run_program("dev", {"minikubeVersion": "v1.37.1"})
    assert replaced(before, after) == set()
    assert _changed_commands(before, after) == {"tools"}


def test_readme_names_the_settings_that_replace_the_host_and_those_applied_in_place():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Changing a deployed stack", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| (new host|in place)", section, flags=re.M))
    assert {k for k, v in rows.items() if v == "new host"} == {*REPLACING, "subnetId"}
    assert {k for k, v in rows.items() if v == "in place"} == set(IN_PLACE)
