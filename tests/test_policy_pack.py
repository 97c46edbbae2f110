"""The policy pack: each policy passes a compliant resource and catches a planted violation, and the
real program (every stack, under mocks) breaks none of them."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import PolicyResource, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from tests.harness import SAMPLE_KUBECONFIG, Declared, run_program

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "policy"))

import guardrails  # noqa: E402

STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def violations(policy: str, resource_type: str, props: dict[str, Any], stack: str = "test") -> list[str]:
    found: list[str] = []
    # The analyzer hands policies the inputs wrapped like this (Mapping/Sequence proxies, not dicts/lists).
    proxied = unknown_checking_proxy(copy.deepcopy(props))
    urn = f"urn:pulumi:{stack}::llm-observability::{resource_type}::r"
    args = ResourceValidationArgs(resource_type, proxied, urn, "r", None, None)
    _, validate = guardrails.VALIDATIONS[policy]
    validate(args, lambda message, urn=None: found.append(message))
    return found


DIGEST = "sha256:" + "0123456789abcdef" * 4


def pod_template(image: str) -> dict:
    return {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}


def egress_policy(*blocks: dict, annotations: dict | None = None) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "llm", **({"annotations": annotations} if annotations else {})},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": b} for b in blocks]}]},
    }


PUBLIC = {"cidr": "0.0.0.0/0", "except": ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                          "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"]}
WHY = {"llm-observability/private-egress": "the API server, address unknown"}

# (policy, resource type, compliant props, violating props)
CASES = [
    (
        "no-world-ingress",
        guardrails.SECURITY_GROUP,
        {"ingress": [{"fromPort": 22, "cidrBlocks": ["198.51.100.7/32"], "ipv6CidrBlocks": []}]},
        {"ingress": [{"fromPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]},
    ),
    (
        "no-world-ingress",
        guardrails.SECURITY_GROUP,
        {"ingress": [{"fromPort": 8443, "ipv6CidrBlocks": ["2001:db8::/64"]}]},
        {"ingress": [{"fromPort": 8443, "ipv6CidrBlocks": ["::/0"]}]},
    ),
    (
        "no-world-ingress",
        guardrails.SECURITY_GROUP_RULE,
        {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]},
        {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"]},
    ),
    ("no-world-ingress", guardrails.VPC_INGRESS_RULE, {"cidrIpv4": "10.0.0.0/8"}, {"cidrIpv4": "0.0.0.0/0"}),
    (
        "pod-security-namespaces",
        guardrails.NAMESPACE,
        {"metadata": {"name": "llm", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
        {"metadata": {"name": "llm", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
    ),
    (
        "pod-security-namespaces",
        guardrails.NAMESPACE,
        {"metadata": {"name": "monitoring-exporters", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        {"metadata": {"name": "monitoring"}},
    ),
    (
        "no-privileged-pods",
        "kubernetes:apps/v1:DaemonSet",
        {"metadata": {"namespace": "monitoring-exporters"}, "spec": {"template": {"spec": {"hostPID": True, "containers": []}}}},
        {"metadata": {"namespace": "llm"}, "spec": {"template": {"spec": {"hostNetwork": True, "containers": []}}}},
    ),
    (
        "no-privileged-pods",
        "kubernetes:batch/v1:Job",
        {"metadata": {"namespace": "llm"}, "spec": {"template": {"spec": {"containers": [{"name": "a", "securityContext": {"privileged": False}}]}}}},
        {"metadata": {"namespace": "llm"}, "spec": {"template": {"spec": {"volumes": [{"name": "root", "hostPath": {"path": "/"}}], "containers": []}}}},
    ),
    (
        "no-privileged-pods",
        guardrails.HELM_RELEASE,
        {"namespace": "monitoring-exporters", "values": {"securityContext": {"privileged": True}}},
        {"namespace": "llm", "values": {"decode": {"containers": [{"securityContext": {"privileged": True}}]}}},
    ),
    (
        "least-privilege-iam",
        guardrails.IAM_ROLE_POLICY,
        {"policy": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}]}'},
        {"policy": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]}'},
    ),
    (
        "least-privilege-iam",
        guardrails.IAM_ATTACHMENT,
        {"policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"},
        {"policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
    ),
    ("eks-deletion-protection-in-prod", guardrails.EKS_COMPONENT, {"deletionProtection": True}, {"name": "c"}),
    (
        "eks-secrets-encrypted",
        guardrails.EKS_COMPONENT,
        {"encryptionConfigKeyArn": "arn:aws:kms:us-east-1:111122223333:key/abc"},
        {"name": "cluster"},
    ),
    (
        "eks-secrets-encrypted",
        guardrails.EKS_CLUSTER,
        {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:111122223333:key/abc"}}},
        {"vpcConfig": {}},
    ),
    # The world in halves, a very broad prefix, IPv4 written as IPv6: judged by the addresses covered.
    (
        "no-world-ingress",
        guardrails.SECURITY_GROUP,
        {"ingress": [{"fromPort": 22, "cidrBlocks": ["10.0.0.0/9", "10.128.0.0/9"]}]},
        {"ingress": [{"fromPort": 22, "cidrBlocks": ["0.0.0.0/1"]}, {"fromPort": 8443, "cidrBlocks": ["128.0.0.0/1"]}]},
    ),
    ("no-world-ingress", guardrails.VPC_INGRESS_RULE, {"cidrIpv4": "100.64.0.0/10"}, {"cidrIpv4": "0.0.0.0/4"}),
    ("no-world-ingress", guardrails.VPC_INGRESS_RULE, {"cidrIpv6": "2001:db8::/48"}, {"cidrIpv6": "::ffff:0:0/96"}),
    (
        "no-world-ingress",
        guardrails.EKS_CLUSTER,
        {"vpcConfig": {"publicAccessCidrs": ["100.64.1.0/24"]}},
        {"vpcConfig": {"publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}},
    ),
    (
        "no-world-ingress",
        guardrails.EKS_CLUSTER,
        {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.7/32"]}},
        {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}},
    ),
    # Without CIDRs AWS opens the public endpoint to everyone; a private-only endpoint needs none.
    ("no-world-ingress", guardrails.EKS_CLUSTER, {"vpcConfig": {"endpointPublicAccess": False}}, {"vpcConfig": {}}),
    (
        "imdsv2-required",
        guardrails.INSTANCE,
        {"metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required"}},
        {"metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "optional"}},
    ),
    ("imdsv2-required", guardrails.LAUNCH_TEMPLATE, {"metadataOptions": {"httpTokens": "required"}}, {}),
    (
        "encrypted-volumes",
        guardrails.INSTANCE,
        {"rootBlockDevice": {"encrypted": True}, "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True}]},
        {"rootBlockDevice": {"encrypted": True}, "ebsBlockDevices": [{"deviceName": "/dev/sdf"}]},
    ),
    ("encrypted-volumes", guardrails.INSTANCE, {"rootBlockDevice": {"encrypted": True}}, {"rootBlockDevice": {}}),
    ("encrypted-volumes", guardrails.EBS_VOLUME, {"encrypted": True}, {"encrypted": False}),
    (
        "encrypted-volumes",
        guardrails.LAUNCH_TEMPLATE,
        {"blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "true"}}]},
        {"blockDeviceMappings": [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "false"}}]},
    ),
    ("exact-chart-versions", guardrails.HELM_RELEASE, {"chart": "tempo", "version": "1.24.1"}, {"chart": "tempo"}),
    (
        "exact-chart-versions",
        guardrails.HELM_RELEASE,
        {"chart": "kube-prometheus-stack", "version": "79.0.0"},
        {"chart": "kube-prometheus-stack", "version": "^79.0.0"},
    ),
    (
        "exact-chart-versions",
        guardrails.HELM_CHART_V4,
        {"chart": "oci://ghcr.io/example/chart", "version": "v0.3.0-rc.1"},
        {"chart": "oci://ghcr.io/example/chart", "version": "0.3.x"},
    ),
    (
        "exact-image-versions",
        "kubernetes:apps/v1:Deployment",
        {"spec": pod_template("vllm/vllm-openai:v0.11.0")},
        {"spec": pod_template("vllm/vllm-openai:latest")},
    ),
    (
        "exact-image-versions",
        "kubernetes:apps/v1:StatefulSet",
        {"spec": pod_template("registry.example:5000/team/app@sha256:" + "a" * 64)},
        {"spec": pod_template("registry.example:5000/team/app")},
    ),
    (
        "exact-image-versions",
        "kubernetes:batch/v1:CronJob",
        {"spec": {"jobTemplate": {"spec": pod_template("busybox:1.37.0")}}},
        {"spec": {"jobTemplate": {"spec": pod_template("busybox:stable")}}},
    ),
    (
        "exact-image-versions",
        "kubernetes:batch/v1:Job",
        {"spec": pod_template("python:3.12.8-slim")},
        {"spec": {"template": {"spec": {"initContainers": [{"name": "init", "image": "busybox"}], "containers": []}}}},
    ),
    (
        "exact-image-versions",
        "kubernetes:core/v1:Pod",
        {"spec": {"containers": [{"name": "app", "image": "nginx:1.29.1"}]}},
        {"spec": {"containers": [{"name": "app", "image": "nginx:latest"}]}},
    ),
    (
        "exact-image-versions",
        guardrails.HELM_RELEASE,
        {"chart": "x", "version": "1.0.0", "values": {"image": {"repository": "nvcr.io/dcgm", "tag": "4.4.1"}}},
        {"chart": "x", "version": "1.0.0", "values": {"image": {"repository": "nvcr.io/dcgm", "tag": "latest"}}},
    ),
    (
        "images-pinned-by-digest",
        "kubernetes:apps/v1:Deployment",
        {"spec": pod_template(f"docker.io/library/python:3.12.10-slim@{DIGEST}")},
        {"spec": pod_template("docker.io/library/python:3.12.10-slim")},
    ),
    (
        "images-pinned-by-digest",
        "kubernetes:batch/v1:Job",
        {"spec": pod_template("docker.io/llamastack/distribution-starter:0.7.3")},
        {"spec": pod_template("docker.io/llamastack/distribution-starter:0.7.4")},
    ),
    (
        "images-pinned-by-digest",
        "kubernetes:batch/v1:CronJob",
        {"spec": {"jobTemplate": {"spec": pod_template(f"python:3.12.10-slim@{DIGEST}")}}},
        {"spec": {"jobTemplate": {"spec": pod_template(f"python@{DIGEST[:-1]}")}}},
    ),
    (
        "images-pinned-by-digest",
        "kubernetes:core/v1:Pod",
        {"spec": {"containers": [{"name": "app", "image": f"nginx:1.29.1@{DIGEST}"}]}},
        {"spec": {"initContainers": [{"name": "init", "image": "busybox:1.38.0"}], "containers": []}},
    ),
    (
        "images-pinned-by-digest",
        guardrails.HELM_RELEASE,
        {"chart": "tempo", "values": {"tempo": {"repository": "grafana/tempo", "tag": f"2.10.8@{DIGEST}"}}},
        {"chart": "tempo", "values": {"tempo": {"repository": "grafana/tempo", "tag": "2.10.8"}}},
    ),
    (
        "images-pinned-by-digest",
        guardrails.HELM_RELEASE,
        {"chart": "opentelemetry-collector", "values": {"image": {"repository": "otel/c", "digest": DIGEST}}},
        {"chart": "opentelemetry-collector", "values": {"image": {"repository": "otel/c", "tag": "0.158.0"}}},
    ),
    (
        "images-pinned-by-digest",
        guardrails.HELM_RELEASE,
        {"chart": "llm-d-modelservice", "values": {"decode": {"containers": [{"image": f"vllm/vllm-openai:v1@{DIGEST}"}]}}},
        {"chart": "llm-d-modelservice", "values": {"decode": {"containers": [{"image": "vllm/vllm-openai:v0.33.1"}]}}},
    ),
    (
        "no-external-services",
        guardrails.SERVICE,
        {"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}},
        {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
    ),
    ("no-external-services", guardrails.SERVICE, {"spec": {"ports": [{"port": 80}]}}, {"spec": {"type": "NodePort"}}),
    (
        "no-external-services",
        guardrails.HELM_RELEASE,
        {"chart": "x", "values": {"grafana": {"service": {"type": "ClusterIP"}}}},
        {"chart": "x", "values": {"grafana": {"service": {"type": "NodePort", "nodePort": 30080}}}},
    ),
    (
        "no-external-services",
        guardrails.HELM_RELEASE,
        {"chart": "x", "values": {"prometheus": {"type": "LoadBalancer"}}},  # not a Service's type
        {"chart": "x", "values": {"queryFrontend": {"serviceQuery": {"type": "LoadBalancer"}}}},
    ),
    (
        "no-plain-secrets-in-helm-values",
        guardrails.HELM_RELEASE,
        {"chart": "x", "values": {"grafana": {"admin": {"existingSecret": "grafana-admin", "passwordKey": "pw"}}}},
        {"chart": "x", "values": {"grafana": {"adminPassword": "hunter2-but-longer"}}},
    ),
    (
        "no-plain-secrets-in-helm-values",
        guardrails.HELM_CHART_V4,
        {"chart": "x", "values": {"storage": {"s3": {"secret_key": "${S3_SECRET_KEY}", "passwordFile": "/run/pw"}}}},
        {"chart": "x", "values": {"storage": {"s3": {"secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"}}}},
    ),
    (
        "no-plain-secrets-in-helm-values",
        guardrails.HELM_RELEASE,
        {"chart": "x", "values": {"env": [{"name": "MODEL", "value": "Qwen/Qwen3-0.6B"}]}},
        {"chart": "x", "values": {"env": [{"name": "HF_TOKEN", "value": "hf_" + "x" * 34}]}},
    ),
    # The internet but not the metadata service, the nodes or the pods.
    (
        "egress-avoids-metadata-and-cluster-networks",
        guardrails.NETWORK_POLICY,
        egress_policy(PUBLIC),
        egress_policy({"cidr": "0.0.0.0/0"}),
    ),
    (
        "egress-avoids-metadata-and-cluster-networks",
        guardrails.NETWORK_POLICY,
        egress_policy(PUBLIC),
        egress_policy({**PUBLIC, "except": [c for c in PUBLIC["except"] if c != "169.254.0.0/16"]}),
    ),
    # One address (the API server's) is named; a private block is a reason away; IMDS is never.
    (
        "egress-avoids-metadata-and-cluster-networks",
        guardrails.NETWORK_POLICY,
        egress_policy({"cidr": "192.168.49.2/32"}, {"cidr": "10.100.0.1/32"}),
        egress_policy({"cidr": "10.0.0.0/8"}),
    ),
    (
        "egress-avoids-metadata-and-cluster-networks",
        guardrails.NETWORK_POLICY,
        egress_policy({"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}, annotations=WHY),
        egress_policy({"cidr": "0.0.0.0/0", "except": ["169.254.0.0/17"]}, annotations=WHY),
    ),
    (
        "egress-avoids-metadata-and-cluster-networks",
        guardrails.NETWORK_POLICY,
        egress_policy({"cidr": "172.31.0.0/20"}, annotations=WHY),
        egress_policy({"cidr": "169.254.169.254/32"}, annotations=WHY),
    ),
]


@pytest.mark.parametrize(
    "policy,resource_type,good,bad",
    CASES,
    ids=[f"{c[0]}-{c[1].rsplit(':', 1)[-1]}-{i}" for i, c in enumerate(CASES)],
)
def test_policy_passes_the_compliant_resource_and_catches_the_violation(policy, resource_type, good, bad):
    stack = "prod" if policy == "eks-deletion-protection-in-prod" else "dev"
    assert violations(policy, resource_type, good, stack) == []
    assert violations(policy, resource_type, bad, stack), f"{policy} missed the violation in {bad}"


def test_every_policy_has_a_planted_violation():
    assert {case[0] for case in CASES} == set(guardrails.VALIDATIONS)


def test_the_pack_declares_every_policy_as_mandatory():
    policies = guardrails.policies()
    assert [p.name for p in policies] == [*guardrails.VALIDATIONS, *guardrails.STACK_VALIDATIONS]
    assert {p.enforcement_level.value for p in policies} == {"mandatory"}


def test_the_pack_runs_in_the_project_virtualenv_with_pinned_requirements():
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    assert pack["runtime"]["options"]["virtualenv"] == "../.venv"

    def pins(path: Path) -> set[str]:
        return {line.strip() for line in path.read_text().splitlines() if "==" in line}

    pack = pins(ROOT / "policy" / "requirements.txt")
    project = pins(ROOT / "requirements.txt") | pins(ROOT / "requirements-dev.txt")
    assert {p.split("==")[0] for p in pack} == {"pulumi", "pulumi-policy"}
    assert pack <= project, "the pack's pins are the project's pins"


def _unwrap_secrets(value: Any) -> Any:
    """What the policy sees: Pulumi secrets unwrapped to their plain values."""
    if isinstance(value, dict):
        if "4dabf18193072939515e22adb298388d" in value:
            return _unwrap_secrets(value.get("value"))
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


def _check(resource: Declared) -> list[str]:
    found: list[str] = []
    props = unknown_checking_proxy(_unwrap_secrets(resource.inputs))
    args = ResourceValidationArgs(resource.type, props, resource.urn, resource.name, None, None)
    for name, (_, validate) in guardrails.VALIDATIONS.items():
        validate(args, lambda message, urn=None, name=name: found.append(f"{resource.name}: {name}: {message}"))
    return found


def _check_stack(resources: list[Declared]) -> list[str]:
    found: list[str] = []
    args = StackValidationArgs([
        PolicyResource(r.type, unknown_checking_proxy(_unwrap_secrets(r.inputs)), r.urn, r.name, None, None, None, [], {})
        for r in resources
    ])
    for name, (_, validate) in guardrails.STACK_VALIDATIONS.items():
        validate(args, lambda message, urn=None, name=name: found.append(f"{name}: {message}"))
    return found


EXISTING_CLUSTER = {"clusterBackend": "kubeconfig", "kubeconfig": SAMPLE_KUBECONFIG, "allowedCidrs": None}
VARIANTS = [(stack, {}) for stack in STACKS] + [
    ("dev", {"clusterBackend": "eks", "gpuNodes": 2}),
    ("dev", EXISTING_CLUSTER),
    # The router (its EPP and Envoy images), the workload Job and CronJob, and the simulator.
    ("dev", {"router": True, "workloadJob": True, "workloadSchedule": "0 */6 * * *"}),
    ("dev", {"servingMode": "simulator", "instanceType": "m7i.2xlarge", "workloadJob": True}),
]


@pytest.mark.parametrize(
    "stack,overrides", VARIANTS, ids=[f"{s}-{o.get('clusterBackend', 'stack-file')}" for s, o in VARIANTS]
)
def test_the_real_program_breaks_no_policy(stack, overrides, dev_program):
    if (stack, overrides) == ("dev", {}):
        program = dev_program
    else:
        program = run_program(stack, overrides, secret_keys=("kubeconfig",) if "kubeconfig" in overrides else ())
    found = [message for resource in program.resources for message in _check(resource)]
    assert found == [] and _check_stack(program.resources) == []
    assert any(r.type == guardrails.HELM_RELEASE for r in program.resources)


def test_the_pack_starts_as_the_cli_would_start_it():
    """`__main__.py` assembles the pack and serves it (on a loopback port) the way the Pulumi CLI runs it."""
    import subprocess

    process = subprocess.Popen(
        [sys.executable, "__main__.py"], cwd=ROOT / "policy", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        port = process.stdout.readline().decode().strip()
        assert port.isdigit(), process.stderr.read().decode() if process.poll() is not None else port
    finally:
        process.kill()
        process.wait(timeout=10)


def test_values_unknown_during_a_preview_do_not_hide_the_rest():
    from pulumi.runtime.rpc import UNKNOWN

    values = {"tempo": {"endpoint": UNKNOWN}, "env": [UNKNOWN, {"name": "HF_TOKEN", "value": "hf_" + "y" * 34}]}
    found = violations("no-plain-secrets-in-helm-values", guardrails.HELM_RELEASE, {"chart": "x", "values": values})
    assert len(found) == 1 and "env.1.value" in found[0]


def test_the_pack_stops_a_world_open_host_even_when_the_config_opts_in():
    """allowWorldIngress is the program's opt-in; the pack still refuses it unless relaxed on purpose."""
    program = run_program("dev", {"allowWorldIngress": True, "allowedCidrs": ["0.0.0.0/0"]})
    found = [message for resource in program.resources for message in _check(resource)]
    assert found and all(": no-world-ingress: " in message for message in found)
    assert {message.split(":")[0] for message in found} == {program.one(guardrails.SECURITY_GROUP).name}


def _set(path: tuple, value: Any) -> Any:
    def mutate(inputs: dict) -> None:
        target = inputs
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


# Each rule against a resource the real program declares, changed the way a mistake would change it:
# the rules read the program's real property shapes, not only the hand-written ones above.
PLANTED = [
    ("no-world-ingress", {}, guardrails.SECURITY_GROUP, "",
     _set(("ingress", 0, "cidrBlocks"), ["0.0.0.0/1", "128.0.0.0/1"])),
    ("imdsv2-required", {}, guardrails.INSTANCE, "", _set(("metadataOptions", "httpTokens"), "optional")),
    ("encrypted-volumes", {}, guardrails.EBS_VOLUME, "-data", _set(("encrypted",), False)),
    ("exact-chart-versions", {}, guardrails.HELM_RELEASE, "tempo", _set(("version",), "^1.0.0")),
    ("exact-image-versions", {}, "kubernetes:apps/v1:Deployment", "llama-stack",
     _set(("spec", "template", "spec", "containers", 0, "image"), "llamastack/distribution-starter:latest")),
    ("images-pinned-by-digest", {"workloadJob": True}, "kubernetes:batch/v1:Job", "workload",
     _set(("spec", "template", "spec", "containers", 0, "image"), "docker.io/library/python:3.12.10-slim")),
    ("images-pinned-by-digest", {}, guardrails.HELM_RELEASE, "-metrics-release",
     _set(("values", "grafana", "image", "sha"), "")),
    ("images-pinned-by-digest", {}, guardrails.HELM_RELEASE, "tempo", _set(("values", "tempo", "tag"), "2.10.8")),
    ("images-pinned-by-digest", {"router": True}, guardrails.HELM_RELEASE, "router",
     _set(("values", "router", "epp", "image", "tag"), "v0.10.0")),
    ("no-external-services", {}, guardrails.SERVICE, "llama-stack", _set(("spec", "type"), "LoadBalancer")),
    ("no-plain-secrets-in-helm-values", {}, guardrails.HELM_RELEASE, "-metrics-release",
     _set(("values", "grafana", "adminPassword"), "hunter2hunter2")),
    ("pod-security-namespaces", {}, guardrails.NAMESPACE, "-llm",
     _set(("metadata", "labels", "pod-security.kubernetes.io/enforce"), "privileged")),
    ("no-privileged-pods", {"workloadJob": True}, "kubernetes:batch/v1:Job", "workload",
     _set(("spec", "template", "spec", "hostNetwork"), True)),
    ("least-privilege-iam", {}, guardrails.IAM_ROLE_POLICY, "", _set(("policy",), json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudwatch:*", "Resource": "*"}]}))),
    ("eks-secrets-encrypted", {"clusterBackend": "eks", "gpuNodes": 1}, guardrails.EKS_COMPONENT, "",
     _set(("encryptionConfigKeyArn",), "")),
    ("eks-deletion-protection-in-prod", {"clusterBackend": "eks", "gpuNodes": 1}, guardrails.EKS_COMPONENT, "",
     _set(("deletionProtection",), False)),
    # The downloads' block with its except lost; the existing cluster's API-server rule without its reason.
    ("egress-avoids-metadata-and-cluster-networks", {}, guardrails.NETWORK_POLICY, "llm-policies-allow-https-downloads",
     _set(("spec", "egress", 0, "to", 0, "ipBlock", "except"), [])),
    ("egress-avoids-metadata-and-cluster-networks", {**EXISTING_CLUSTER, "router": True}, guardrails.NETWORK_POLICY,
     "llm-policies-allow-api-server", _set(("metadata", "annotations"), {})),
]


@pytest.mark.parametrize("policy, overrides, resource_type, name, mutate", PLANTED, ids=[p[0] for p in PLANTED])
def test_each_rule_fires_on_a_resource_the_program_really_declares(policy, overrides, resource_type, name, mutate):
    stack = "prod" if policy == "eks-deletion-protection-in-prod" else "dev"
    secret_keys = ("kubeconfig",) if "kubeconfig" in overrides else ()
    resource = run_program(stack, overrides, secret_keys=secret_keys).one(resource_type, name)
    assert not [m for m in _check(resource) if f": {policy}: " in m], "the real resource passes"
    planted = dataclasses.replace(resource, inputs=copy.deepcopy(_unwrap_secrets(resource.inputs)))
    mutate(planted.inputs)
    assert [m for m in _check(planted) if f": {policy}: " in m], f"{policy} missed the planted mistake"


def test_every_rule_is_planted_in_a_real_resource():
    assert {p[0] for p in PLANTED} == set(guardrails.VALIDATIONS)


def test_the_pack_allows_without_a_digest_exactly_the_images_the_stack_pins_by_tag_only():
    from stack import versions

    assert guardrails.DIGEST_EXCEPTIONS == {image.tagged for image in versions.DIGEST_EXCEPTIONS}


def test_the_pack_knows_the_image_keys_of_every_chart_the_stack_installs():
    from stack import versions

    charts = {chart.name for chart in versions.HELM_CHARTS} - {versions.PROMETHEUS_OPERATOR_CRDS.name}
    # llm-d-modelservice takes whole image strings, checked wherever they are.
    assert set(guardrails.CHART_IMAGE_KEYS) == charts - {versions.LLM_D_MODELSERVICE.name}


def test_a_chart_default_image_left_out_of_the_values_is_refused():
    found = violations("images-pinned-by-digest", guardrails.HELM_RELEASE, {"chart": "dcgm-exporter", "values": {}})
    assert found == ["Helm value image of chart dcgm-exporter is not set: the chart's default image has no digest; "
                     "pin it in stack/versions.py"]


@pytest.mark.parametrize(
    "mistake",
    [
        # The policy forgotten in one namespace...
        lambda spec: None,
        # ...narrowed to some pods, or turned into an allow.
        lambda spec: {**spec, "podSelector": {"matchLabels": {"app.kubernetes.io/name": "vllm"}}},
        lambda spec: {**spec, "egress": [{}]},
        lambda spec: {**spec, "policyTypes": ["Ingress"]},
    ],
    ids=["removed", "narrowed", "allows-all", "ingress-only"],
)
def test_a_namespace_without_default_deny_egress_is_refused(dev_program, mistake):
    assert _check_stack(dev_program.resources) == []
    resources = []
    for resource in dev_program.resources:
        inputs = _unwrap_secrets(resource.inputs)
        if resource.type == guardrails.NETWORK_POLICY and inputs["metadata"] == {"name": "default-deny-egress",
                                                                               "namespace": "llm"}:
            spec = mistake(inputs["spec"])
            if spec is None:
                continue
            resource = dataclasses.replace(resource, inputs={**inputs, "spec": spec})
        resources.append(resource)
    found = _check_stack(resources)
    assert len(found) == 1 and "namespace 'llm'" in found[0], found


def test_every_stack_rule_is_planted_in_the_real_program():
    assert set(guardrails.STACK_VALIDATIONS) == {"default-deny-egress-per-namespace"}
