"""The GPU host as declared for the dev stack: one locked-down g6.12xlarge."""

from __future__ import annotations

import json
import re

from stack import catalogue, versions
from tests.harness import MOCK_AMI, MOCK_PUBLIC_IP, MOCK_SUBNET_ZONE, run_program

INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
SNAPSHOTS = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


def test_dev_declares_one_g6_12xlarge_from_the_gpu_ami(dev_program):
    instance = dev_program.one(INSTANCE)
    assert instance.inputs["instanceType"] == "g6.12xlarge"
    assert instance.inputs["ami"] == MOCK_AMI
    assert "ami" in instance.options["ignore_changes"], "a new AMI release must not replace the host"


def test_ami_is_resolved_through_the_public_ssm_parameter_unless_given():
    program = run_program("dev", {"amiId": "ami-0abcdef1234567890"})
    assert program.one(INSTANCE).inputs["ami"] == "ami-0abcdef1234567890"
    # A given AMI is followed: setting it later moves the host to it (a new host, the same data).
    assert program.one(INSTANCE).options["ignore_changes"] == []
    assert versions.GPU_AMI_SSM_PARAMETER.startswith("/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu")


def test_instance_requires_imdsv2_and_keeps_pods_away_from_its_credentials(dev_program):
    metadata = dev_program.one(INSTANCE).inputs["metadataOptions"]
    assert metadata["httpTokens"] == "required"
    assert metadata["httpPutResponseHopLimit"] == 1


def test_root_volume_is_encrypted_gp3_sized_from_config_and_deleted_with_the_host(dev_program):
    volume = dev_program.one(INSTANCE).inputs["rootBlockDevice"]
    assert volume == {**volume, "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True, "volumeSize": 300}


def test_only_ssh_and_the_kubernetes_api_are_open_and_only_to_allowed_cidrs(dev_program):
    rules = dev_program.one(SECURITY_GROUP).inputs["ingress"]
    assert sorted((r["fromPort"], r["toPort"]) for r in rules) == [(22, 22), (8443, 8443)]
    for rule in rules:
        assert rule["cidrBlocks"] == ["198.51.100.7/32"]
        assert rule["ipv6CidrBlocks"] == []


def test_no_security_group_admits_the_world(dev_program):
    for group in dev_program.of_type(SECURITY_GROUP):
        for rule in group.inputs.get("ingress", []):
            assert "0.0.0.0/0" not in rule.get("cidrBlocks", [])
            assert "::/0" not in rule.get("ipv6CidrBlocks", [])


def test_ipv6_cidrs_go_to_the_ipv6_rule_list():
    program = run_program("dev", {"allowedCidrs": ["198.51.100.7/32", "2001:db8::/64"]})
    for rule in program.one(SECURITY_GROUP).inputs["ingress"]:
        assert rule["cidrBlocks"] == ["198.51.100.7/32"]
        assert rule["ipv6CidrBlocks"] == ["2001:db8::/64"]


def test_given_subnet_places_the_host_and_its_group_in_that_subnets_vpc():
    program = run_program("dev", {"subnetId": "subnet-0123456789abcdef0"})
    assert program.one(INSTANCE).inputs["subnetId"] == "subnet-0123456789abcdef0"
    assert program.one(SECURITY_GROUP).inputs["vpcId"] == "vpc-0fedcba987654321"


def test_host_role_may_only_publish_gpu_metrics(dev_program):
    """Nothing on the host uses SSM: AmazonSSMManagedInstanceCore could read every Parameter Store value."""
    host_role = dev_program.one("aws:iam/role:Role", "-role")
    attachments = [
        a for a in dev_program.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == host_role.name
    ]
    assert attachments == []
    [statement] = json.loads(dev_program.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CWAgent"}}


def test_data_volume_is_encrypted_gp3_in_the_hosts_zone(dev_program):
    volume = dev_program.one(VOLUME, "-data").inputs
    instance = dev_program.one(INSTANCE).inputs
    assert volume["encrypted"] is True and volume["type"] == "gp3" and volume["size"] == 200
    # Without a subnet: the first zone (by name) that offers the instance type; the host is pinned there.
    assert volume["availabilityZone"] == instance["availabilityZone"] == "us-east-1a"
    assert volume["tags"]["llm-observability/data-volume"] == "llm-observability-dev"


def test_given_subnet_decides_the_zone_of_the_host_and_its_data():
    program = run_program("dev", {"subnetId": "subnet-0123456789abcdef0"})
    assert program.one(VOLUME).inputs["availabilityZone"] == MOCK_SUBNET_ZONE
    assert program.one(INSTANCE).inputs["availabilityZone"] == MOCK_SUBNET_ZONE


def test_dev_takes_no_snapshots_and_prod_keeps_a_week_of_daily_ones(dev_program):
    assert dev_program.of_type(SNAPSHOTS) == []
    prod = run_program("prod")
    policy = prod.one(SNAPSHOTS).inputs
    details = policy["policyDetails"]
    assert details["targetTags"] == {"llm-observability/data-volume": "llm-observability-prod"}
    assert prod.one(VOLUME).inputs["tags"]["llm-observability/data-volume"] == "llm-observability-prod"
    [schedule] = details["schedules"]
    assert schedule["createRule"] == {"interval": 24, "intervalUnit": "HOURS", "times": "03:00"}
    assert schedule["retainRule"] == {"count": 7}
    role = prod.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "-snapshots").inputs
    assert role["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole"
    assert re.fullmatch(r"[0-9A-Za-z _-]+", policy["description"]), "DLM's allowed characters"


def test_elastic_ip_is_attached_so_the_address_survives_stop_and_start(dev_program):
    association = dev_program.one("aws:ec2/eipAssociation:EipAssociation")
    assert dev_program.one(INSTANCE).urn in association.dependencies
    assert dev_program.outputs["publicIp"] == MOCK_PUBLIC_IP


def test_ssh_key_is_generated_and_its_private_half_is_only_a_secret_output(dev_program):
    assert dev_program.one("tls:index/privateKey:PrivateKey").inputs["algorithm"] == "ED25519"
    assert "sshPrivateKey" in dev_program.secret_outputs
    command = dev_program.outputs["sshCommand"]
    assert command.startswith("(umask 077 && pulumi stack output sshPrivateKey --show-secrets --stack dev > ")
    assert command.endswith(f"ubuntu@{MOCK_PUBLIC_IP}")


def test_every_taggable_aws_resource_carries_the_stack_tags(dev_program):
    for resource in dev_program.aws_resources():
        if "tags" in resource.inputs or resource.type in (INSTANCE, SECURITY_GROUP):
            tags = resource.inputs["tags"]
            assert tags["Project"] == "llm-observability" and tags["Stack"] == "dev", resource.name
            assert tags["environment"] == "dev", resource.name


def test_every_child_is_parented_to_its_component(dev_program):
    for resource in dev_program.resources:
        if resource.custom and not resource.type.startswith("pulumi:providers:"):
            assert dev_program.by_urn(resource.parent).type.startswith("llmobs:"), resource.name


def test_catalogue_knows_the_reference_machine():
    reference = catalogue.lookup("g6.12xlarge")
    assert reference is not None
    assert (reference.gpu_model, reference.gpu_count, reference.vcpu, reference.memory_gib) == ("NVIDIA L4", 4, 48, 192)
