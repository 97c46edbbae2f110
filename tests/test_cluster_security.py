"""The cluster's own defences, on the objects the real program declares: Pod Security Admission on every
namespace it creates (the privileged exporters alone in theirs), NetworkPolicies, the pods' own
restrictions; and the README's Security section, whose every claim names one of these tests."""

from __future__ import annotations

import re

import pytest

from tests.harness import run_program
from tests.platform_support import values_of

NAMESPACE = "kubernetes:core/v1:Namespace"
RELEASE = "kubernetes:helm.sh/v3:Release"
PSA = "pod-security.kubernetes.io"
EXPORTERS = "monitoring-exporters"


@pytest.fixture(scope="module")
def eks_program():
    return run_program("dev", {"clusterBackend": "eks", "gpuNodes": 1})


def _namespaces(program) -> dict[str, dict[str, str]]:
    return {r.inputs["metadata"]["name"]: r.inputs["metadata"].get("labels") or {} for r in program.of_type(NAMESPACE)}


@pytest.mark.parametrize("backend", ["minikube", "eks"])
def test_every_namespace_enforces_baseline_except_the_exporters_own(backend, dev_program, eks_program):
    program = dev_program if backend == "minikube" else eks_program
    namespaces = _namespaces(program)
    assert {"monitoring", "llm", EXPORTERS} <= set(namespaces)
    for name, labels in namespaces.items():
        expected = "privileged" if name == EXPORTERS else "baseline"
        assert labels.get(f"{PSA}/enforce") == expected, name
        assert labels.get(f"{PSA}/enforce-version"), f"{name}: the standard is pinned to a version"


def test_the_model_servers_namespace_warns_what_restricted_would_refuse(dev_program):
    labels = _namespaces(dev_program)["llm"]
    assert labels[f"{PSA}/warn"] == "restricted" and labels[f"{PSA}/audit"] == "restricted"


def test_only_the_host_reading_exporters_run_in_the_privileged_namespace(dev_program):
    in_exporters = {r.inputs["chart"] for r in dev_program.of_type(RELEASE) if r.inputs["namespace"] == EXPORTERS}
    assert in_exporters == {"dcgm-exporter"}
    assert values_of(dev_program, "kube-prometheus-stack")["prometheus-node-exporter"]["namespaceOverride"] == EXPORTERS


NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _policies(program) -> dict[tuple[str, str], dict]:
    return {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs["spec"]
            for r in program.of_type(NETWORK_POLICY)}


def _admits(policies, namespace: str, pod: dict[str, str], source_ns: str, source: dict[str, str], port: int) -> bool:
    """NetworkPolicy semantics (ingress): a pod selected by any policy takes only what some rule allows."""
    def selects(selector: dict, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())

    selecting = [spec for (ns, _), spec in policies.items() if ns == namespace and selects(spec["podSelector"], pod)]
    if not selecting:
        return True
    for spec in selecting:
        for rule in spec.get("ingress") or []:
            ports = [p["port"] for p in rule.get("ports") or []]
            peers = rule.get("from")
            peer_ok = peers is None or any(
                selects(peer.get("podSelector") or {}, source)
                and selects(peer.get("namespaceSelector") or {}, {"kubernetes.io/metadata.name": source_ns})
                and ("namespaceSelector" in peer or source_ns == namespace)
                for peer in peers
            )
            if peer_ok and (not ports or port in ports):
                return True
    return False


NAME = "app.kubernetes.io/name"
PROM, GRAFANA, TEMPO = {NAME: "prometheus"}, {NAME: "grafana"}, {NAME: "tempo"}
ALERTMANAGER, COLLECTOR = {NAME: "alertmanager"}, {NAME: "opentelemetry-collector"}
VLLM, LLAMA_STACK, WORKLOAD = {"app": "vllm"}, {"app": "llama-stack"}, {"job-name": "workload"}
SAMPLER = {NAME: "judge-sampler"}


@pytest.mark.parametrize(
    "namespace, pod, source_ns, source, port, allowed",
    [
        ("monitoring", PROM, "monitoring", GRAFANA, 9090, True),
        ("monitoring", PROM, "monitoring", TEMPO, 9090, True),
        ("monitoring", TEMPO, "monitoring", GRAFANA, 3200, True),
        ("monitoring", TEMPO, "monitoring", COLLECTOR, 4317, True),
        ("monitoring", COLLECTOR, "llm", VLLM, 4317, True),
        ("monitoring", COLLECTOR, "llm", LLAMA_STACK, 4318, True),
        ("monitoring", ALERTMANAGER, "monitoring", PROM, 9093, True),
        ("monitoring", ALERTMANAGER, "monitoring", GRAFANA, 9093, True),
        ("monitoring", GRAFANA, "monitoring", PROM, 3000, True),
        ("llm", VLLM, "llm", LLAMA_STACK, 8000, True),
        ("llm", VLLM, "llm", WORKLOAD, 8000, True),
        ("llm", LLAMA_STACK, "llm", WORKLOAD, 8321, True),
        ("llm", VLLM, "monitoring", PROM, 8000, True),
        ("monitoring-exporters", {"app": "dcgm-exporter"}, "monitoring", PROM, 9400, True),
        ("llm", SAMPLER, "monitoring", COLLECTOR, 4318, True),
        ("llm", SAMPLER, "llm", WORKLOAD, 4318, True),
        # What nobody needs is refused.
        ("llm", SAMPLER, "monitoring", GRAFANA, 4318, False),
        ("llm", SAMPLER, "monitoring", COLLECTOR, 8080, False),
        ("monitoring", ALERTMANAGER, "monitoring", COLLECTOR, 9093, False),
        ("monitoring", ALERTMANAGER, "llm", VLLM, 9093, False),
        ("monitoring", PROM, "llm", VLLM, 9090, False),
        ("monitoring", TEMPO, "llm", VLLM, 4317, False),
        ("monitoring", GRAFANA, "llm", WORKLOAD, 3000, False),
        ("llm", VLLM, "monitoring", GRAFANA, 8000, False),
        ("monitoring-exporters", {"app": "dcgm-exporter"}, "llm", VLLM, 9400, False),
    ],
)
def test_network_policies_allow_each_flow_the_stack_needs_and_nothing_else(
    dev_program, namespace, pod, source_ns, source, port, allowed
):
    assert _admits(_policies(dev_program), namespace, pod, source_ns, source, port) is allowed


def test_every_namespace_the_program_creates_denies_ingress_by_default(dev_program):
    policies = _policies(dev_program)
    for namespace in _namespaces(dev_program):
        assert policies[(namespace, "default-deny-ingress")] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_the_clusters_enforce_network_policies(dev_program, eks_program):
    """MiniKube's default CNI ignores NetworkPolicies; the VPC CNI enforces them only with its agent on."""
    script = next(r for r in dev_program.of_type("command:remote:Command") if r.name.endswith("-start")).inputs["stdin"]
    [command] = [line for line in script.splitlines() if line.startswith("ExecStart=")]
    assert "--cni=calico" in command.split()
    cluster = eks_program.one("eks:index:Cluster").inputs
    assert cluster["vpcCniOptions"]["enableNetworkPolicy"] is True


POD_SPEC_PATHS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _pod_specs(program):
    for resource in program.resources:
        if resource.type in POD_SPEC_PATHS:
            spec = resource.inputs
            for key in POD_SPEC_PATHS[resource.type]:
                spec = spec[key]
            yield resource.name, spec


@pytest.mark.parametrize(
    "overrides", [{}, {"workloadJob": True}, {"workloadJob": True, "workloadSchedule": "0 * * * *"}], ids=str
)
def test_the_programs_own_pods_get_no_api_token_and_no_privileges(overrides):
    program = run_program("dev", overrides)
    pods = dict(_pod_specs(program))
    assert pods, "the program declares pods of its own"
    for name, spec in pods.items():
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name


def test_every_test_the_readmes_security_section_cites_exists():
    """The Security section backs each claim with a test by name: each name must be a test here."""
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Security"):readme.index("## Policy as code")]
    cited = set(re.findall(r"`(test_\w+)`", section))
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    assert len(cited) >= 15 and cited - defined == set()
