"""Safe teardown, as far as mocks show it: everything that costs money is a resource Pulumi deletes,
nothing but prod's data volume is protected or retained, and nothing in the deletion path needs the
host or the cluster."""

from __future__ import annotations

import asyncio
import contextvars

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi.runtime.stack import run_pulumi_func

from stack.config import PROJECT
from stack.teardown import cluster_objects_die_with
from tests import harness
from tests.conftest import ROOT
from tests.harness import Program, run_program


def test_root_volume_is_deleted_with_the_instance(dev_program):
    root = dev_program.one("aws:ec2/instance:Instance").inputs["rootBlockDevice"]
    assert root["deleteOnTermination"] is True and root["encrypted"] is True


def test_the_data_volume_is_a_resource_of_its_own_that_dev_destroys():
    """Not a block device of the instance: terminating a host leaves it; only deleting it removes it."""
    program = run_program("dev")
    volume = program.one("aws:ebs/volume:Volume", "-data")
    assert not volume.options["protect"] and not volume.options["retain_on_delete"]
    assert volume.options["deleted_with"] == ""
    assert "ebsBlockDevices" not in program.one("aws:ec2/instance:Instance").inputs


def test_address_and_key_pair_are_resources_that_destroy_releases(dev_program):
    assert dev_program.one("aws:ec2/eip:Eip").inputs["domain"] == "vpc"
    assert dev_program.one("aws:ec2/keyPair:KeyPair")


def test_only_prods_data_volume_is_protected_and_outlives_a_destroy():
    kept = {}
    for stack in ("dev", "prod"):
        program = run_program(
            stack, {"spotInstances": True, "monthlyBudgetUsd": "10", "budgetAlertEmails": ["a@b.org"]}
        )
        kept[stack] = [
            (r.type, r.options["protect"], r.options["retain_on_delete"])
            for r in program.resources
            if r.options["protect"] or r.options["retain_on_delete"]
        ]
    assert kept == {"dev": [], "prod": [("aws:ebs/volume:Volume", True, True)]}


def test_the_address_leaves_the_old_host_before_it_joins_a_replacement(dev_program):
    association = dev_program.one("aws:ec2/eipAssociation:EipAssociation")
    assert association.options["delete_before_replace"] is True


def test_remote_commands_need_no_host_to_be_deleted(dev_program):
    commands = dev_program.of_type("command:remote:Command")
    assert commands
    assert all(not c.inputs.get("delete") for c in commands)


def test_ci_destroy_drops_unreachable_objects_only_of_minikube_and_reaches_other_clusters():
    """A destroy-time setting, and only where objects die with the host: on EKS or an existing cluster a
    destroy that cannot reach the API must fail, so the runner is let in as for `up`."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "stack.yml").read_text())
    job = workflow["jobs"]["pulumi"]
    assert "PULUMI_K8S_DELETE_UNREACHABLE" not in job["env"]
    steps = job["steps"]
    index = {s.get("name"): i for i, s in enumerate(steps)}
    learn = steps[index["Learn how this stack's cluster is reached"]]["run"]
    assert '[ "$OPERATION" = destroy ] && [ "${backend:-minikube}" = minikube ]' in learn
    assert 'echo "PULUMI_K8S_DELETE_UNREACHABLE=true" >> "$GITHUB_ENV"' in learn
    opened = index["Let this runner reach the host or the cluster's API for this run only"]
    destroyed = next(i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "destroy")
    closed = index["Take this runner's access away again"]
    checked = index["Check that no volume of the stack is left behind"]
    assert steps[opened]["if"] == "inputs.operation == 'up' || env.CLUSTER_BACKEND != 'minikube'"
    assert opened < destroyed < closed < checked
    assert steps[checked]["if"] == "always() && inputs.operation == 'destroy'"
    assert steps[checked]["run"] == 'scripts/check-leftover-volumes.sh "$STACK"'


def test_every_kubernetes_object_of_the_program_is_deleted_with_the_instance(dev_program):
    """The instance, not the GpuHost component: a replacement deletes the instance, never the component."""
    instance = dev_program.one("aws:ec2/instance:Instance")
    objects = [r for r in dev_program.resources if r.type.startswith("kubernetes:")]
    assert objects
    for resource in objects:
        assert resource.options["deleted_with"] == instance.urn, resource.name


def _run(declare) -> Program:
    """A few resources declared under the same mocks and recorder as the real program."""
    program = Program()

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        pulumi.runtime.set_all_config({}, [])
        monitor = harness._RecordingMonitor(program)
        pulumi.runtime.set_mocks(harness._Mocks(), project=PROJECT, stack="dev", preview=False, monitor=monitor)
        try:
            loop.run_until_complete(run_pulumi_func(declare))
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    contextvars.Context().run(run)
    return program


def test_kubernetes_objects_declared_after_the_host_are_deleted_with_it():
    def declare() -> None:
        host = pulumi.ComponentResource("llmobs:aws:GpuHost", "host")
        before = k8s.core.v1.Namespace("declared-before")
        cluster_objects_die_with(host)
        component = pulumi.ComponentResource("llmobs:test:Component", "component")
        k8s.core.v1.Namespace("monitoring", opts=pulumi.ResourceOptions(parent=component))
        k8s.helm.v3.Release("tempo", chart="tempo", version="1.0.0", opts=pulumi.ResourceOptions(parent=component))
        k8s.core.v1.ConfigMap("own-choice", opts=pulumi.ResourceOptions(deleted_with=before))
        pulumi.export("ok", True)

    program = _run(declare)
    host = program.one("llmobs:aws:GpuHost")
    assert program.one("kubernetes:core/v1:Namespace", "monitoring").options["deleted_with"] == host.urn
    assert program.one("kubernetes:helm.sh/v3:Release").options["deleted_with"] == host.urn
    assert program.one("kubernetes:core/v1:Namespace", "declared-before").options["deleted_with"] == ""
    own = program.one("kubernetes:core/v1:ConfigMap").options["deleted_with"]
    assert own == program.one("kubernetes:core/v1:Namespace", "declared-before").urn
    assert program.one("llmobs:test:Component").options["deleted_with"] == ""


def test_on_eks_cluster_objects_are_deleted_one_by_one_before_the_cluster():
    """There a PersistentVolumeClaim is an EBS volume: skipping its delete would leave the volume behind."""
    program = run_program("dev", {"clusterBackend": "eks", "gpuNodes": 2})
    objects = [r for r in program.resources if r.type.startswith("kubernetes:")]
    assert objects
    assert all(r.options["deleted_with"] == "" for r in objects)


def test_on_eks_cluster_objects_go_while_the_nodes_and_the_volume_driver_still_exist():
    """Every object uses the provider: a provider that depends on the driver and the nodes is deleted
    before them, and so is every volume claim, whose EBS volume the driver then still deletes."""
    program = run_program("dev", {"clusterBackend": "eks", "gpuNodes": 2})
    provider = program.one("pulumi:providers:kubernetes")
    must_outlive = [program.one("aws:eks/addon:Addon", "ebs-csi"), *program.of_type("eks:index:ManagedNodeGroup")]
    assert len(must_outlive) == 3
    assert all(r.urn in provider.dependencies for r in must_outlive)


def test_statefulset_volume_claims_are_deleted_with_their_statefulsets(dev_program):
    """The operator's and Tempo's StatefulSets would leave their claims (cloud volumes) behind."""
    values = {
        r.inputs["name"]: r.inputs["values"]
        for r in dev_program.of_type("kubernetes:helm.sh/v3:Release")
    }
    policy = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    kps = values["kube-prometheus-stack"]
    assert kps["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"] == policy
    assert kps["alertmanager"]["alertmanagerSpec"]["persistentVolumeClaimRetentionPolicy"] == policy
    assert values["tempo"]["persistence"]["enableStatefulSetAutoDeletePVC"] is True
