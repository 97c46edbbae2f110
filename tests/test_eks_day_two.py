"""EKS in any account: subnets by the zones EKS supports, admins by access entries, logs and volumes
that go with the stack, and prod's data kept."""

from __future__ import annotations

import json

import pytest

from components.eks_cluster import Subnet, plan_subnets
from stack.config import ConfigError
from tests.harness import run_program

EKS = {"clusterBackend": "eks", "gpuNodes": 2}
CLUSTER = "eks:index:Cluster"
NODE_GROUP = "eks:index:ManagedNodeGroup"


@pytest.fixture(scope="module")
def eks_program():
    return run_program("dev", EKS)


def test_default_vpc_subnets_in_a_zone_eks_refuses_are_left_out(eks_program):
    """The mock default VPC is us-east-1's: a subnet in use1-az3 would fail UnsupportedAvailabilityZone."""
    cluster = eks_program.one(CLUSTER).inputs
    assert cluster["subnetIds"] == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0dddddddddddddddd"]
    groups = {g.name.rsplit("-", 1)[-1]: g.inputs["subnetIds"] for g in eks_program.of_type(NODE_GROUP)}
    assert groups["system"] == cluster["subnetIds"]
    # use1-az4 does not offer the GPU type: the GPU nodes stay out of it.
    assert groups["gpu"] == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]


def test_given_subnets_in_a_zone_eks_refuses_are_refused_naming_the_setting():
    with pytest.raises(Exception) as raised:
        run_program("dev", {**EKS, "eksSubnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0cccccccccccccccc"]})
    assert "llm-observability:eksSubnetIds: ['subnet-0cccccccccccccccc (use1-az3)']" in str(raised.value)


def test_a_vpc_without_two_supported_zones_is_refused_naming_the_setting_to_give():
    candidates = [Subnet("subnet-a", "use1-az3"), Subnet("subnet-b", "use1-az1")]
    with pytest.raises(Exception, match=r"fewer than two zones EKS supports.*given as llm-observability:eksSubnetIds"):
        plan_subnets(candidates, {"use1-az1"}, "g6.12xlarge", given=False)


def test_a_gpu_type_offered_in_none_of_the_zones_is_refused_naming_both_settings():
    candidates = [Subnet("subnet-a", "use1-az1"), Subnet("subnet-b", "use1-az2")]
    with pytest.raises(Exception) as raised:
        plan_subnets(candidates, {"use1-az4"}, "g6.12xlarge", given=False)
    message = str(raised.value)
    assert "llm-observability:instanceType: g6.12xlarge is offered in none of the zones" in message
    assert "llm-observability:eksSubnetIds" in message


def test_admin_principals_become_cluster_admin_access_entries():
    arns = ["arn:aws:iam::123456789012:role/platform-admins", "arn:aws:iam::123456789012:role/ci/deploy"]
    entries = run_program("dev", {**EKS, "eksAdminPrincipalArns": arns}).one(CLUSTER).inputs["accessEntries"]
    assert {key: e["principalArn"] for key, e in entries.items()} == {"admin-0": arns[0], "admin-1": arns[1]}
    for entry in entries.values():
        assert entry["accessPolicies"] == {
            "cluster-admin": {
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                "accessScope": {"type": "cluster"},
            }
        }


def test_a_principal_that_is_not_an_iam_arn_is_refused():
    with pytest.raises(ConfigError, match="eksAdminPrincipalArns: .* is not a list of IAM principal ARNs"):
        run_program("dev", {**EKS, "eksAdminPrincipalArns": ["platform-admins"]})


def test_the_control_plane_log_group_is_the_stacks_with_a_retention_and_comes_first(eks_program):
    log_group = eks_program.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"] == "/aws/eks/llm-observability-dev/cluster"
    assert log_group.inputs["retentionInDays"] == 30
    assert log_group.urn in eks_program.one(CLUSTER).dependencies


def test_ebs_csi_volumes_carry_the_stack_tags(eks_program):
    addon = eks_program.one("aws:eks/addon:Addon", "ebs-csi").inputs
    tags = json.loads(addon["configurationValues"])["controller"]["extraVolumeTags"]
    assert tags["Project"] == "llm-observability" and tags["Stack"] == "dev"


def test_dev_cleans_up_and_prod_keeps_its_volumes_and_protects_its_cluster(eks_program):
    def storage_class(program):
        return program.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs["reclaimPolicy"]

    assert storage_class(eks_program) == "Delete"
    assert eks_program.one(CLUSTER).inputs["deletionProtection"] is False
    prod = run_program("prod", EKS)
    assert storage_class(prod) == "Retain"
    assert prod.one(CLUSTER).inputs["deletionProtection"] is True


def test_prods_claims_outlive_their_statefulsets_and_devs_go_with_them():
    def policies(program):
        values = {r.inputs.get("name"): r.inputs["values"] for r in program.of_type("kubernetes:helm.sh/v3:Release")}
        kps = values["kube-prometheus-stack"]
        return (
            kps["prometheus"]["prometheusSpec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"],
            kps["alertmanager"]["alertmanagerSpec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"],
            values["tempo"]["persistence"]["enableStatefulSetAutoDeletePVC"],
        )

    assert policies(run_program("dev", EKS)) == ("Delete", "Delete", True)
    assert policies(run_program("prod", EKS)) == ("Retain", "Retain", False)
