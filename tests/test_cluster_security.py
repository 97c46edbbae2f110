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
        # What nobody needs is refused.
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


@pytest.mark.parametrize(
    "overrides",
    [{"workloadJob": True}, {"workloadJob": True, "workloadSchedule": "0 * * * *"},
     {"servingMode": "simulator", "instanceType": "m7i.xlarge"}, {"clusterBackend": "eks", "gpuNodes": 2}],
    ids=str,
)
def test_every_pod_the_program_declares_runs_as_a_fixed_non_root_user(overrides):
    """runAsNonRoot with numeric ids (what Pod Security's restricted level asks), and the group owning the
    volumes; the ids are the image's own user where it has one (components/pod_security.py)."""
    program = run_program("dev", overrides)
    pods = dict(_pod_specs(program))
    assert pods
    for name, spec in pods.items():
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0 and context["runAsGroup"] > 0 and context["fsGroup"] == context["runAsGroup"], name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name


def test_each_images_user_was_read_from_its_build_file_at_the_pinned_version():
    """A version bump fails here until the image's build file is read again (components/pod_security.py)."""
    from components import pod_security
    from stack import versions

    pinned = {f"{image.repository}:{image.tag}" for image in versions.IMAGES}
    users = [value for value in vars(pod_security).values() if isinstance(value, pod_security.ImageUser)]
    assert len(users) == 5 and {user.read_at for user in users} <= pinned


# Where each chart puts a pod's securityContext (value path), read from its templates at the pinned
# version; the value is ours where we set it, else the chart's default (tests/reference/charts).
CHART_POD_CONTEXTS = {
    "kube-prometheus-stack": [
        ("prometheus", "prometheusSpec", "securityContext"),
        ("alertmanager", "alertmanagerSpec", "securityContext"),
        ("prometheusOperator", "securityContext"),
        ("prometheusOperator", "admissionWebhooks", "patch", "securityContext"),
    ],
    # templates/statefulset.yaml: .Values.securityContext is the pod's.
    "tempo": [("securityContext",)],
    # templates/_pod.tpl: podSecurityContext.
    "opentelemetry-collector": [("podSecurityContext",)],
    # templates/_helpers.tpl "llm-d-modelservice.modelPod" (v0.4.12) renders decode.extraConfig into the pod.
    "llm-d-modelservice": [("decode", "extraConfig", "securityContext")],
}
# Subcharts of kube-prometheus-stack 88.5.3 whose values are not in tests/reference: their default pod
# securityContext, from charts/<name>/values.yaml at tags kube-state-metrics-8.4.0 and
# prometheus-node-exporter-4.56.1 of prometheus-community/helm-charts (we set none).
SUBCHART_POD_CONTEXTS = {
    "kube-state-metrics": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534},
    "prometheus-node-exporter": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534},
}


def _value(tree, path):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


@pytest.mark.parametrize("overrides", [{}, {"servingMode": "simulator", "instanceType": "m7i.xlarge"}], ids=str)
def test_every_chart_pod_runs_as_non_root_except_the_gpu_exporter(overrides):
    from tests.platform_support import chart_reference

    program = run_program("dev", overrides)
    values = {r.inputs["chart"]: r.inputs.get("values") or {} for r in program.of_type(RELEASE)}
    for chart, paths in CHART_POD_CONTEXTS.items():
        ours, defaults = values[chart], chart_reference(chart)
        for path in paths:
            context = _value(ours, path) or _value(defaults, path)
            assert context and context.get("runAsNonRoot") is True and context.get("runAsUser", 1) > 0, (chart, path)
    kps = values["kube-prometheus-stack"]
    grafana = {**chart_reference("grafana")["securityContext"], **(kps["grafana"].get("securityContext") or {})}
    assert grafana["runAsNonRoot"] is True and grafana["runAsUser"] == 472
    # Its only root container, the volume chown, is off: fsGroup 472 owns the volume.
    assert kps["grafana"]["initChownData"] == {"enabled": False}
    for subchart, context in SUBCHART_POD_CONTEXTS.items():
        assert "securityContext" not in kps[subchart] and context["runAsNonRoot"] is True
    # The exception: DCGM reads the GPUs as root with SYS_ADMIN, alone in the exporters' namespace.
    dcgm = chart_reference("dcgm-exporter")["securityContext"]
    assert dcgm["runAsUser"] == 0 and "securityContext" not in values.get("dcgm-exporter", {})
    assert releases_in(program, EXPORTERS) <= {"dcgm-exporter"}


def releases_in(program, namespace: str) -> set[str]:
    return {r.inputs["chart"] for r in program.of_type(RELEASE) if r.inputs["namespace"] == namespace}


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
