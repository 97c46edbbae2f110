"""docs/iam-deploy-policy.json: every AWS action `pulumi up` and `pulumi destroy` need, for the
resources the program declares, in a policy a user can attach."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from tests.conftest import ROOT
from tests.harness import run_program

POLICY = json.loads((ROOT / "docs" / "iam-deploy-policy.json").read_text())

# What creating, updating, reading and deleting each resource type calls (the AWS provider's CRUD for
# the type); the types pulumi-eks's Cluster and ManagedNodeGroup create are listed by hand (under mocks
# those components declare no children).
ACTIONS = {
    "aws:ec2/instance:Instance": ["ec2:RunInstances", "ec2:TerminateInstances", "ec2:DescribeInstances",
                                  "ec2:ModifyInstanceAttribute", "ec2:StopInstances", "ec2:StartInstances",
                                  "iam:PassRole"],
    "aws:ebs/volume:Volume": ["ec2:CreateVolume", "ec2:DeleteVolume", "ec2:ModifyVolume", "ec2:DescribeVolumes"],
    "aws:ec2/volumeAttachment:VolumeAttachment": ["ec2:AttachVolume", "ec2:DetachVolume", "ec2:StopInstances"],
    "aws:ec2/eip:Eip": ["ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DescribeAddresses"],
    "aws:ec2/eipAssociation:EipAssociation": ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
    "aws:ec2/keyPair:KeyPair": ["ec2:ImportKeyPair", "ec2:DeleteKeyPair", "ec2:DescribeKeyPairs"],
    "aws:ec2/securityGroup:SecurityGroup": ["ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
                                            "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
                                            "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"],
    "aws:ec2/launchTemplate:LaunchTemplate": ["ec2:CreateLaunchTemplate", "ec2:DeleteLaunchTemplate",
                                              "ec2:CreateLaunchTemplateVersion"],
    "aws:iam/role:Role": ["iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole"],
    "aws:iam/rolePolicy:RolePolicy": ["iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy"],
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
    "aws:iam/instanceProfile:InstanceProfile": ["iam:CreateInstanceProfile", "iam:DeleteInstanceProfile",
                                                "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile"],
    "aws:cloudwatch/metricAlarm:MetricAlarm": ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
                                               "cloudwatch:DescribeAlarms"],
    "aws:budgets/budget:Budget": ["budgets:ModifyBudget", "budgets:ViewBudget"],
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": ["dlm:CreateLifecyclePolicy", "dlm:DeleteLifecyclePolicy",
                                                "dlm:GetLifecyclePolicy", "iam:PassRole"],
    "aws:eks/addon:Addon": ["eks:CreateAddon", "eks:DeleteAddon", "eks:DescribeAddon"],
    "aws:eks/cluster:Cluster": ["eks:CreateCluster", "eks:DeleteCluster", "eks:DescribeCluster", "iam:PassRole"],
    "aws:eks/nodeGroup:NodeGroup": ["eks:CreateNodegroup", "eks:DeleteNodegroup", "eks:DescribeNodegroup"],
    "aws:eks/accessEntry:AccessEntry": ["eks:CreateAccessEntry", "eks:DeleteAccessEntry"],
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": ["eks:AssociateAccessPolicy",
                                                                "eks:DisassociateAccessPolicy"],
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ["iam:CreateOpenIDConnectProvider",
                                                            "iam:DeleteOpenIDConnectProvider"],
    "aws:cloudwatch/logGroup:LogGroup": ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy"],
    # EKS's Secrets key; EKS needs a grant on it from whoever creates the cluster.
    "aws:kms/key:Key": ["kms:CreateKey", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyRotationStatus",
                        "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:CreateGrant"],
}
PULUMI_EKS_CHILDREN = ["aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup",
                       "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:eks/accessEntry:AccessEntry",
                       "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"]


def allowed(action: str) -> bool:
    return any(
        fnmatchcase(action, pattern)
        for statement in POLICY["Statement"]
        if statement["Effect"] == "Allow"
        for pattern in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    )


def _declared_aws_types() -> set[str]:
    programs = [
        run_program("dev"),
        run_program("prod", {"spotInstances": True}),
        run_program("dev", {"clusterBackend": "eks", "gpuNodes": 2}),
    ]
    return {r.type for p in programs for r in p.resources if r.custom and r.type.startswith("aws:")}


def test_every_aws_resource_type_the_program_declares_has_its_actions_listed():
    declared = _declared_aws_types() | set(PULUMI_EKS_CHILDREN)
    assert declared - set(ACTIONS) == set(), "add the new types' actions here and to the policy"


@pytest.mark.parametrize("resource_type", sorted(ACTIONS))
def test_the_policy_allows_what_each_resource_type_needs(resource_type):
    missing = [action for action in ACTIONS[resource_type] if not allowed(action)]
    assert missing == []


def test_the_first_spot_host_and_the_first_stop_action_may_create_their_service_linked_roles():
    [statement] = [s for s in POLICY["Statement"] if s["Action"] == "iam:CreateServiceLinkedRole"]
    services = statement["Condition"]["StringEquals"]["iam:AWSServiceName"]
    assert {"spot.amazonaws.com", "events.amazonaws.com", "eks.amazonaws.com"} <= set(services)


def test_roles_are_passed_only_to_the_services_that_use_them():
    [statement] = [s for s in POLICY["Statement"] if s["Action"] == "iam:PassRole"]
    assert statement["Resource"] == "arn:aws:iam::*:role/llm-observability-*"
    assert set(statement["Condition"]["StringEquals"]["iam:PassedToService"]) == {
        "ec2.amazonaws.com", "eks.amazonaws.com", "dlm.amazonaws.com"
    }


def test_the_policy_fits_a_customer_managed_policy():
    """IAM's limit for a managed policy document: 6,144 characters without whitespace."""
    minified = json.dumps(POLICY, separators=(",", ":"))
    assert len(minified) <= 6144


def test_readme_points_to_the_policy_and_the_quotas():
    readme = (ROOT / "README.md").read_text()
    assert "docs/iam-deploy-policy.json" in readme
    assert "All G and VT Spot Instance Requests" in readme and "iam:CreateServiceLinkedRole" in readme
