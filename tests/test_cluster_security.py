"""The cluster's own defences, on the objects the real program declares: Pod Security Admission on every
namespace it creates (the privileged exporters alone in theirs), NetworkPolicies, the pods' own
restrictions; and the README's Security section, whose every claim names one of these tests."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import shlex

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


def _selects(selector: dict, labels: dict[str, str]) -> bool:
    """A label selector: every matchLabels pair and every In/NotIn/Exists/DoesNotExist expression holds."""
    expressions = {
        "In": lambda key, values: labels.get(key) in values,
        "NotIn": lambda key, values: labels.get(key) not in values,
        "Exists": lambda key, values: key in labels,
        "DoesNotExist": lambda key, values: key not in labels,
    }
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and all(
        expressions[e["operator"]](e["key"], e.get("values") or []) for e in selector.get("matchExpressions") or []
    )


def _admits(policies, namespace: str, pod: dict[str, str], source_ns: str, source: dict[str, str], port: int) -> bool:
    """NetworkPolicy semantics (ingress): a pod selected by any Ingress policy takes only what some rule allows."""
    selects = _selects
    selecting = [
        spec for (ns, _), spec in policies.items()
        if ns == namespace and "Ingress" in spec["policyTypes"] and selects(spec["podSelector"], pod)
    ]
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
OPERATOR_POD = {"app": "kube-prometheus-stack-operator"}


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


@dataclasses.dataclass(frozen=True)
class Destination:
    """Where a packet is headed when the policy engine judges it: an address, and the pod there if any."""

    ip: str
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


def _pod(namespace: str, labels: dict[str, str], ip: str = "10.244.0.20") -> Destination:
    return Destination(ip, namespace, tuple(labels.items()))


def _egress(policies, namespace: str, pod: dict[str, str], to: Destination, port: int, protocol: str = "TCP"):
    """NetworkPolicy semantics (egress): a pod no Egress policy selects may go anywhere ("open"); a selected
    pod may send only what some rule of some selecting policy allows (the union). A rule without `to`
    allows every destination, without `ports` every port; a peer is an ipBlock (the address within `cidr`
    and outside every `except`) or selectors (podSelector alone: the policy's namespace;
    namespaceSelector with podSelector: both must hold)."""
    selecting = [
        spec for (ns, _), spec in policies.items()
        if ns == namespace and "Egress" in spec["policyTypes"] and _selects(spec["podSelector"], pod)
    ]
    if not selecting:
        return "open"
    address = ipaddress.ip_address(to.ip)

    def peer_allows(peer: dict) -> bool:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            return address in ipaddress.ip_network(block["cidr"]) and not any(
                address in ipaddress.ip_network(excepted) for excepted in block.get("except") or []
            )
        if to.namespace is None:
            return False
        namespace_ok = (
            _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": to.namespace})
            if "namespaceSelector" in peer
            else to.namespace == namespace
        )
        return namespace_ok and _selects(peer.get("podSelector") or {}, dict(to.labels))

    for spec in selecting:
        for rule in spec.get("egress") or []:
            ports = rule.get("ports")
            port_ok = not ports or any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports)
            peers = rule.get("to")
            if port_ok and (peers is None or any(peer_allows(peer) for peer in peers)):
                return True
    return False


# The EPP pod's labels as llm-d-router v0.10.0 renders them in standalone mode (routerlib's
# templates/_deployment.yaml: selectorLabels and modeLabels from templates/_helpers.tpl; release "router").
EPP = {"llm-d-router-standalone": "router-epp", "llm-d.ai/igw-mode": "llm-d-router-standalone"}
MODEL_SERVER = {NAME: "vllm", "llm-d.ai/inference-serving": "true", "llm-d.ai/role": "decode"}
PREFETCH, STACK, JOB = {NAME: "model-prefetch"}, {NAME: "llama-stack"}, {NAME: "workload"}
LLM_PODS = {"model-server": MODEL_SERVER, "prefetch": PREFETCH, "llama-stack": STACK, "workload": JOB, "epp": EPP,
            "judge-sampler": SAMPLER}
KUBE_DNS = _pod("kube-system", {"k8s-app": "kube-dns"}, "10.244.0.2")
COLLECTOR_POD = _pod("monitoring", {NAME: "opentelemetry-collector", "app.kubernetes.io/instance": "otel-collector"})
HUGGING_FACE = Destination("18.239.50.80")  # huggingface.co (and PyPI's CDN is public too)
IMDS = Destination("169.254.169.254")
POD_IDENTITY_AGENT = Destination("169.254.170.23")


@pytest.fixture(scope="module")
def apps_programs():
    """Every pod of namespace llm present (the router and the workload on), on each backend that knows
    its addresses."""
    on = {"router": True, "workloadJob": True}
    return {
        "minikube": run_program("dev", on),
        "eks": run_program("dev", {**on, "clusterBackend": "eks", "gpuNodes": 1}),
    }


@pytest.mark.parametrize("backend", ["minikube", "eks"])
@pytest.mark.parametrize(
    "source, to, port, protocol",
    [
        ("workload", _pod("llm", STACK), 8321, "TCP"),
        ("workload", _pod("llm", MODEL_SERVER), 8000, "TCP"),
        ("workload", _pod("llm", EPP), 8081, "TCP"),
        ("llama-stack", _pod("llm", MODEL_SERVER), 8000, "TCP"),
        ("llama-stack", _pod("llm", EPP), 8081, "TCP"),
        ("epp", _pod("llm", MODEL_SERVER), 8000, "TCP"),
        ("judge-sampler", _pod("llm", MODEL_SERVER), 8000, "TCP"),
        *((name, COLLECTOR_POD, port, "TCP") for name in LLM_PODS for port in (4317, 4318)),
        *((name, KUBE_DNS, 53, protocol) for name in LLM_PODS for protocol in ("UDP", "TCP")),
        # Weights and the embedding model from Hugging Face, the workload's and the sampler's packages from PyPI.
        *((name, HUGGING_FACE, 443, "TCP")
          for name in ("model-server", "prefetch", "llama-stack", "workload", "judge-sampler")),
    ],
)
def test_apps_reach_each_other_the_collector_dns_and_their_downloads(apps_programs, backend, source, to, port, protocol):
    policies = _policies(apps_programs[backend])
    assert _egress(policies, "llm", LLM_PODS[source], to, port, protocol) is True


@pytest.mark.parametrize("backend", ["minikube", "eks"])
@pytest.mark.parametrize("source", list(LLM_PODS))
@pytest.mark.parametrize(
    "to, port",
    [
        (IMDS, 80),
        (POD_IDENTITY_AGENT, 80),
        (Destination("10.0.3.17"), 10250),  # a node's kubelet (VPC)
        (Destination("172.31.20.9"), 10250),  # a node's kubelet (the default VPC)
        (Destination("192.168.49.2"), 10250),  # MiniKube's node: its kubelet
        (Destination("192.168.49.2"), 22),
        (Destination("10.0.3.17"), 443),  # a private address on the downloads' port
        (_pod("monitoring", PROM), 9090),
        (_pod("monitoring", GRAFANA), 3000),
        (_pod("monitoring", ALERTMANAGER), 9093),
        (_pod("monitoring", TEMPO), 3200),
        (_pod("kube-system", {"k8s-app": "kube-dns"}), 9153),  # CoreDNS's metrics, not DNS
        (_pod("kube-system", {"component": "etcd"}), 2379),
        (_pod("monitoring-exporters", {NAME: "dcgm-exporter"}), 9400),
        (Destination("198.51.100.20"), 80),  # the internet, off 443
        (Destination("198.51.100.20"), 22),
    ],
)
def test_no_pod_of_the_apps_reaches_metadata_nodes_the_platform_or_kube_system(apps_programs, backend, source, to, port):
    assert _egress(_policies(apps_programs[backend]), "llm", LLM_PODS[source], to, port) is False


# Service kubernetes.default as each engine judges it: Calico after kube-proxy's DNAT (the MiniKube node at
# 8443), the VPC CNI's agent before it (the ClusterIP on 443, from either of EKS's default service ranges).
API_SERVER = {
    "minikube": [Destination("192.168.49.2"), 8443],
    "eks": [Destination("10.100.0.1"), 443],
    "eks-other-range": [Destination("172.20.0.1"), 443],
}


@pytest.mark.parametrize("where", list(API_SERVER))
def test_only_the_routers_epp_reaches_the_api_server(apps_programs, where):
    policies = _policies(apps_programs[where.split("-")[0]])
    to, port = API_SERVER[where]
    reaching = {name for name, labels in LLM_PODS.items() if _egress(policies, "llm", labels, to, port)}
    assert reaching == {"epp"}


def test_the_minikube_node_has_the_address_the_policies_name(apps_programs):
    program = apps_programs["minikube"]
    script = next(r for r in program.of_type("command:remote:Command") if r.name.endswith("-start"))
    [command] = [line for line in script.inputs["stdin"].splitlines() if line.startswith("ExecStart=")]
    assert "--static-ip=${node_ip}" in command.split()
    node_ip = shlex.split(script.inputs["create"])[-2]  # start-minikube.sh's NODE_IP
    [rule] = _policies(program)[("llm", "allow-api-server")]["egress"]
    assert rule["to"] == [{"ipBlock": {"cidr": f"{node_ip}/32"}}]
    assert node_ip == API_SERVER["minikube"][0].ip


def test_the_exporters_reach_nothing(dev_program):
    policies = _policies(dev_program)
    dcgm = {NAME: "dcgm-exporter"}
    for to, port in [(KUBE_DNS, 53), (COLLECTOR_POD, 4317), (HUGGING_FACE, 443), (IMDS, 80), (_pod("llm", STACK), 8321)]:
        assert _egress(policies, EXPORTERS, dcgm, to, port, "UDP" if port == 53 else "TCP") is False


@pytest.mark.parametrize("backend", ["minikube", "eks"])
@pytest.mark.parametrize(
    "source, to, port, allowed",
    [
        ("grafana", _pod("monitoring", PROM), 9090, True),
        ("grafana", _pod("monitoring", TEMPO), 3200, True),
        ("tempo", _pod("monitoring", PROM), 9090, True),
        ("collector", _pod("monitoring", TEMPO), 4317, True),
        ("collector", _pod("llm", SAMPLER), 4318, True),
        ("collector", _pod("llm", STACK), 8321, False),
        ("prometheus", _pod("monitoring", ALERTMANAGER), 9093, True),
        ("prometheus", _pod("llm", MODEL_SERVER), 8000, True),
        ("prometheus", _pod("monitoring-exporters", {NAME: "dcgm-exporter"}), 9400, True),
        ("prometheus", _pod("kube-system", {"k8s-app": "kube-dns"}), 9153, True),
        ("alertmanager", Destination("52.1.2.3"), 443, True),  # Slack, a webhook, the dead man's switch
        ("grafana", KUBE_DNS, 53, True),
        # Nothing in the platform goes to the metadata service, and only Alertmanager to the internet.
        *((pod, IMDS, 80, False) for pod in ("prometheus", "grafana", "alertmanager", "tempo", "collector")),
        *((pod, POD_IDENTITY_AGENT, 80, False) for pod in ("prometheus", "grafana", "alertmanager", "collector")),
        *((pod, Destination("52.1.2.3"), 443, False) for pod in ("prometheus", "grafana", "tempo", "collector")),
        ("grafana", _pod("llm", STACK), 8321, False),
        ("alertmanager", Destination("10.0.3.17"), 443, False),
        ("prometheus", Destination("52.1.2.3"), 9100, False),
    ],
)
def test_the_platform_reaches_its_targets_and_receivers_and_not_the_metadata_service(
    apps_programs, backend, source, to, port, allowed
):
    pods = {"grafana": GRAFANA, "tempo": TEMPO, "collector": COLLECTOR, "prometheus": PROM, "alertmanager": ALERTMANAGER}
    protocol = "UDP" if port == 53 else "TCP"
    assert _egress(_policies(apps_programs[backend]), "monitoring", pods[source], to, port, protocol) is allowed


@pytest.mark.parametrize(
    "backend, node, api_server",
    [
        ("minikube", Destination("192.168.49.2"), (Destination("192.168.49.2"), 8443)),
        # A node and the control plane's interfaces in the mock default VPC's subnets; the ClusterIP.
        ("eks", Destination("172.31.0.10"), (Destination("10.100.0.1"), 443)),
    ],
)
def test_prometheus_scrapes_the_nodes_and_the_platform_calls_the_api_server(apps_programs, backend, node, api_server):
    policies = _policies(apps_programs[backend])
    for port in (10250, 9100):
        assert _egress(policies, "monitoring", PROM, node, port) is True
        assert _egress(policies, "monitoring", GRAFANA, node, port) is False
    for pod in (PROM, GRAFANA, COLLECTOR, OPERATOR_POD, {NAME: "kube-state-metrics"}):
        assert _egress(policies, "monitoring", pod, *api_server) is True


def test_on_an_existing_cluster_the_unknown_addresses_are_reached_only_on_their_ports_and_say_why():
    from tests.test_policy_pack import EXISTING_CLUSTER

    program = run_program("dev", {**EXISTING_CLUSTER, "router": True}, secret_keys=("kubeconfig",))
    policies = _policies(program)
    assert _egress(policies, "llm", EPP, Destination("10.0.0.1"), 6443) is True
    assert _egress(policies, "llm", EPP, Destination("10.0.0.1"), 10250) is False
    assert _egress(policies, "llm", EPP, IMDS, 443) is False
    assert _egress(policies, "monitoring", PROM, Destination("10.1.2.3"), 10250) is True
    annotated = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
        for r in program.of_type(NETWORK_POLICY)
        if "llm-observability/private-egress" in (r.inputs["metadata"].get("annotations") or {})
    }
    assert annotated == {("llm", "allow-api-server"), ("monitoring", "allow-api-server"),
                         ("monitoring", "allow-prometheus-to-the-nodes")}


def test_a_judge_outside_the_stack_is_reached_on_its_port_only_by_the_workload_and_the_sampler():
    program = run_program("dev", {"workloadJob": True, "judgeEndpoint": "http://judge.models.svc:8080/v1",
                                  "judgeModel": "judge", "judgeSampleShare": 0.1})
    policies = _policies(program)
    judge = _pod("models", {NAME: "judge"})
    assert _egress(policies, "llm", JOB, judge, 8080) is True
    assert _egress(policies, "llm", SAMPLER, judge, 8080) is True
    assert _egress(policies, "llm", STACK, judge, 8080) is False
    assert _egress(policies, "llm", JOB, Destination("10.0.3.17"), 8080) is False


def test_every_namespace_the_program_creates_denies_egress_by_default(dev_program):
    policies = _policies(dev_program)
    for namespace in _namespaces(dev_program):
        assert policies[(namespace, "default-deny-egress")] == {"podSelector": {}, "policyTypes": ["Egress"]}


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
# Subcharts of kube-prometheus-stack 88.5.3 (tests/reference/charts): their pod's securityContext.
SUBCHARTS = ("kube-state-metrics", "prometheus-node-exporter")


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
    for subchart in SUBCHARTS:
        context = {**chart_reference(subchart)["securityContext"], **(kps[subchart].get("securityContext") or {})}
        assert context["runAsNonRoot"] is True and context["runAsUser"] > 0, subchart
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
