"""Default-deny NetworkPolicies per namespace, both directions, with one explicit allow per flow the stack needs.

Ingress: every flow is allowed where it arrives, so a pod that is taken over reaches only what accepts it.
Egress: every pod reaches the cluster's DNS and its own namespace; beyond that only what its job needs
(the collector, the API server, the nodes for Prometheus, Hugging Face and PyPI on 443 for the pods that
download, Alertmanager's receivers). No rule reaches link-local addresses (the instance metadata service,
the EKS Pod Identity agent), and the internet is every address but the private, CGNAT, loopback and
link-local ranges, so "the internet" never includes the nodes, the pods or the VPC.

Pods are selected by the labels their charts and operators set: `app.kubernetes.io/name` from the
prometheus-operator (Prometheus, Alertmanager), the grafana, tempo and opentelemetry-collector charts (their
selectorLabels helpers), and kube-prometheus-stack's `app: kube-prometheus-stack-operator`; the labels of
the stack's own pods come from their components. Traffic through `kubectl port-forward` (the tunnel)
enters the pod from inside and is not subject to these policies.

The API server and the nodes are addresses, not pods: where a pod's packets to them are headed when the
network-policy engine judges them is a fact of the cluster backend (ClusterFacts.api_server_cidrs,
node_cidrs). Where the backend does not know them (an existing cluster), the rule allows the API server's
usual ports, and Prometheus's node ports, to any address but link-local, and says why in an annotation
(PRIVATE_EGRESS_ANNOTATION), which the policy pack requires of any rule reaching private networks wholesale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components import inference_router, judge_sampler, llama_stack, model_serving, workload_job
from components.cluster import ClusterFacts
from components.metrics_stack import ALERTMANAGER_PORT, PROMETHEUS_PORT
from components.otel_collector import OTLP_GRPC_PORT, OTLP_HTTP_PORT
from components.tempo import OTLP_GRPC_PORT as TEMPO_OTLP_GRPC_PORT
from components.tempo import QUERY_PORT as TEMPO_QUERY_PORT

NAME_LABEL = "app.kubernetes.io/name"
PROMETHEUS = {NAME_LABEL: "prometheus"}
ALERTMANAGER = {NAME_LABEL: "alertmanager"}
GRAFANA = {NAME_LABEL: "grafana"}
TEMPO = {NAME_LABEL: "tempo"}
COLLECTOR = {NAME_LABEL: "opentelemetry-collector"}
OPERATOR = {"app": "kube-prometheus-stack-operator"}
# The operator's admission webhook (TLS on 10250), called by the API server from outside any pod.
OPERATOR_WEBHOOK_PORT = 10250
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
# The cluster DNS: CoreDNS's pods keep kube-dns's label on MiniKube, EKS and kubeadm clusters alike.
KUBE_SYSTEM = "kube-system"
KUBE_DNS = {"k8s-app": "kube-dns"}
DNS_PORT = 53
HTTPS_PORT = 443
# What Prometheus scrapes at the nodes' addresses: the kubelets (metrics, cAdvisor, probes) and
# node-exporter, which runs on the host network (kube-prometheus-stack's defaults).
KUBELET_PORT = 10250
NODE_EXPORTER_PORT = 9100
# The ports a Kubernetes API server usually listens on, where the cluster does not say which.
USUAL_API_SERVER_PORTS = (443, 6443, 8443)
# Link-local: 169.254.169.254 is the instance metadata service (the node's IAM role), 169.254.170.23
# the EKS Pod Identity agent. No rule reaches it.
LINK_LOCAL = "169.254.0.0/16"
# Everything that is not the internet: "this network", RFC 1918 (nodes, pods, services, the VPC),
# RFC 6598 shared space (EKS custom pod networking uses it), loopback and link-local.
NON_PUBLIC_RANGES = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", LINK_LOCAL, "172.16.0.0/12", "192.168.0.0/16",
)
# Pods whose work is downloading on 443: the model servers and the prefetch Job (weights from Hugging
# Face), Llama Stack (its embedding model from Hugging Face), the workload and the judge sampler (their
# packages from PyPI).
DOWNLOADERS = (
    model_serving.POD_LABELS[NAME_LABEL],
    model_serving.PREFETCH_LABELS[NAME_LABEL],
    llama_stack.POD_LABELS[NAME_LABEL],
    workload_job.POD_LABELS[NAME_LABEL],
    judge_sampler.LABELS[NAME_LABEL],
)
# The pods that call the LLM judge.
JUDGE_CALLERS = (workload_job.POD_LABELS[NAME_LABEL], judge_sampler.LABELS[NAME_LABEL])
# A NetworkPolicy whose rules reach private networks beyond single addresses says why here.
PRIVATE_EGRESS_ANNOTATION = "llm-observability/private-egress"

Spec = dict[str, Any]


def _pods(labels: Mapping[str, str], namespace: str | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"podSelector": {"matchLabels": dict(labels)}}
    if namespace is not None:
        peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_LABEL: namespace}}
    return peer


def _ports(*ports: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": port} for port in ports]


def _ip_blocks(*cidrs: str, excepted: Sequence[str] = ()) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": cidr, **({"except": list(excepted)} if excepted else {})}} for cidr in cidrs]


PUBLIC_INTERNET = _ip_blocks("0.0.0.0/0", excepted=NON_PUBLIC_RANGES)
# Any address but link-local: for addresses the program cannot know (see the module docstring).
ANYWHERE_BUT_LINK_LOCAL = _ip_blocks("0.0.0.0/0", excepted=(LINK_LOCAL,))


def _allow(to: Mapping[str, str], sources: Sequence[dict[str, Any]], ports: Sequence[int] = ()) -> Spec:
    rule: dict[str, Any] = {"from": list(sources)}
    if ports:
        rule["ports"] = _ports(*ports)
    return {"podSelector": {"matchLabels": dict(to)}, "policyTypes": ["Ingress"], "ingress": [rule]}


def _egress(selector: Mapping[str, Any], to: Sequence[dict[str, Any]] | None, ports: Sequence[dict[str, Any]] = ()) -> Spec:
    """An egress allow for the pods `selector` picks; `to` None: any destination (on `ports`)."""
    rule: dict[str, Any] = {}
    if to is not None:
        rule["to"] = list(to)
    if ports:
        rule["ports"] = list(ports)
    return {"podSelector": dict(selector), "policyTypes": ["Egress"], "egress": [rule]}


def _labels(labels: Mapping[str, str]) -> dict[str, Any]:
    return {"matchLabels": dict(labels)}


EVERY_POD: dict[str, Any] = {}
DEFAULT_DENY: Spec = {"podSelector": {}, "policyTypes": ["Ingress"]}
DEFAULT_DENY_EGRESS: Spec = {"podSelector": {}, "policyTypes": ["Egress"]}


def scraped_by_prometheus(monitoring: str) -> Spec:
    """Prometheus reaches every pod of the namespace (its targets)."""
    return {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [_pods(PROMETHEUS, monitoring)]}]}


def namespace_egress(namespace: str) -> dict[str, Spec]:
    """What every pod of a namespace with egress denied keeps: names resolve, neighbours answer."""
    return {
        "default-deny-egress": DEFAULT_DENY_EGRESS,
        "allow-dns": _egress(
            EVERY_POD,
            [_pods(KUBE_DNS, KUBE_SYSTEM)],
            [*_ports(DNS_PORT, protocol="UDP"), *_ports(DNS_PORT)],
        ),
        "allow-egress-within-the-namespace": _egress(EVERY_POD, [_pods({}, namespace)]),
    }


def api_server(facts: ClusterFacts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(peers, ports) of the API server as the cluster's network-policy engine sees a pod's packets."""
    if facts.api_server_cidrs:
        return _ip_blocks(*facts.api_server_cidrs), _ports(*facts.api_server_ports)
    return ANYWHERE_BUT_LINK_LOCAL, _ports(*USUAL_API_SERVER_PORTS)


def nodes(facts: ClusterFacts) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(peers, ports) of what Prometheus scrapes at the nodes' addresses, the API server's endpoints among it."""
    if facts.node_cidrs:
        return _ip_blocks(*facts.node_cidrs), _ports(KUBELET_PORT, NODE_EXPORTER_PORT, *facts.api_server_ports)
    return ANYWHERE_BUT_LINK_LOCAL, _ports(KUBELET_PORT, NODE_EXPORTER_PORT, *USUAL_API_SERVER_PORTS)


# Why each policy that may reach private networks wholesale does (PRIVATE_EGRESS_ANNOTATION).
PRIVATE_EGRESS_REASONS = {
    "allow-api-server": "the API server; on a cluster the program did not create its address is unknown, so "
    "its usual ports anywhere but link-local",
    "allow-prometheus-to-the-nodes": "Prometheus scrapes the kubelets, node-exporter and the API server's "
    "endpoints at the nodes' addresses (their subnets; unknown on a cluster the program did not create)",
}


def monitoring_policies(monitoring: str, apps: str, facts: ClusterFacts) -> dict[str, Spec]:
    api_peers, api_ports = api_server(facts)
    node_peers, node_ports = nodes(facts)
    return {
        "default-deny-ingress": DEFAULT_DENY,
        "allow-prometheus-scrapes": scraped_by_prometheus(monitoring),
        # Grafana queries; Tempo's metrics generator remote-writes.
        "allow-prometheus-from-grafana-and-tempo": _allow(
            PROMETHEUS, [_pods(GRAFANA), _pods(TEMPO)], [PROMETHEUS_PORT]
        ),
        "allow-tempo-from-grafana": _allow(TEMPO, [_pods(GRAFANA)], [TEMPO_QUERY_PORT]),
        "allow-tempo-from-the-collector": _allow(TEMPO, [_pods(COLLECTOR)], [TEMPO_OTLP_GRPC_PORT]),
        "allow-collector-from-apps": _allow(COLLECTOR, [_pods({}, apps)], [OTLP_GRPC_PORT, OTLP_HTTP_PORT]),
        # Alertmanager's API: Prometheus sends alerts, Grafana reads them; nobody else.
        "allow-alertmanager-from-prometheus-and-grafana": _allow(
            ALERTMANAGER, [_pods(PROMETHEUS), _pods(GRAFANA)], [ALERTMANAGER_PORT]
        ),
        # The API server calls the webhook from the control plane, whose address differs per backend.
        "allow-operator-webhook": {
            "podSelector": {"matchLabels": dict(OPERATOR)},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": _ports(OPERATOR_WEBHOOK_PORT)}],
        },
        # Grafana to Prometheus, Tempo and Alertmanager, Tempo to Prometheus, the collector to Tempo,
        # Prometheus to Alertmanager: within the namespace, where the ingress rules above decide.
        **namespace_egress(monitoring),
        # The operator, kube-state-metrics, Grafana's sidecars, Prometheus (discovery), the collector
        # (k8s_attributes) and the chart's admission-webhook Jobs all call it; Tempo and Alertmanager hold no
        # role there.
        "allow-api-server": _egress(EVERY_POD, api_peers, api_ports),
        # Scrape targets in every namespace (any port: their metrics ports are the charts').
        "allow-prometheus-to-every-pod": _egress(_labels(PROMETHEUS), [{"namespaceSelector": {}}]),
        "allow-prometheus-to-the-nodes": _egress(_labels(PROMETHEUS), node_peers, node_ports),
        # Slack and webhook receivers, and the dead man's switch: on the internet, at any port the URL names.
        "allow-alertmanager-to-its-receivers": _egress(_labels(ALERTMANAGER), PUBLIC_INTERNET),
    }


def exporters_policies(monitoring: str) -> dict[str, Spec]:
    """DCGM-Exporter reads the GPUs and the kubelet's socket, never the network; node-exporter runs on the
    host network, where NetworkPolicies do not apply."""
    return {
        "default-deny-ingress": DEFAULT_DENY,
        "allow-prometheus-scrapes": scraped_by_prometheus(monitoring),
        "default-deny-egress": DEFAULT_DENY_EGRESS,
    }


def apps_policies(
    apps: str, monitoring: str, facts: ClusterFacts, router: bool, judge_port: int | None = None
) -> dict[str, Spec]:
    """Llama Stack to the model servers, the workload to both, the router in between: pods of the
    namespace reach each other; from outside only Prometheus. Out: the collector, the downloads, and the
    API server for the router's EPP alone (it watches the model server pods). `judge_port`: the port of
    a judge endpoint outside the stack, which the workload and the judge sampler call."""
    policies = {
        "default-deny-ingress": DEFAULT_DENY,
        "allow-prometheus-scrapes": scraped_by_prometheus(monitoring),
        "allow-within-the-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_pods({}, apps)]}],
        },
        **namespace_egress(apps),
        "allow-egress-to-the-collector": _egress(
            EVERY_POD, [_pods(COLLECTOR, monitoring)], _ports(OTLP_GRPC_PORT, OTLP_HTTP_PORT)
        ),
        "allow-https-downloads": _egress(
            {"matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": list(DOWNLOADERS)}]},
            PUBLIC_INTERNET,
            _ports(HTTPS_PORT),
        ),
    }
    if router:
        api_peers, api_ports = api_server(facts)
        policies["allow-api-server"] = _egress(_labels(inference_router.EPP_POD_LABELS), api_peers, api_ports)
    if judge_port is not None:
        # Another model server in the cluster, or a service on the internet.
        policies["allow-the-judge"] = _egress(
            {"matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": list(JUDGE_CALLERS)}]},
            [{"namespaceSelector": {}}, *PUBLIC_INTERNET],
            _ports(judge_port),
        )
    return policies


def judge_sampler_ingress(monitoring: str) -> dict[str, Spec]:
    """In the apps' namespace, when the judge sampler runs: the collector sends it the spans its filter
    passes (components/otel_collector.py)."""
    return {"allow-judge-sampler-from-the-collector": _allow(
        judge_sampler.LABELS, [_pods(COLLECTOR, monitoring)], [judge_sampler.PORT])}


def collector_to_judge_sampler(apps: str) -> dict[str, Spec]:
    """In the monitoring namespace, when the judge sampler runs: the collector's way out to it."""
    return {"allow-collector-to-the-judge-sampler": _egress(
        _labels(COLLECTOR), [_pods(judge_sampler.LABELS, apps)], _ports(judge_sampler.PORT))}


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: str
    policies: Mapping[str, Spec]
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class NetworkPolicies(pulumi.ComponentResource):
    """The NetworkPolicies of one namespace."""

    def __init__(self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:k8s:NetworkPolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        for policy, spec in args.policies.items():
            reason = PRIVATE_EGRESS_REASONS.get(policy)
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=policy,
                    namespace=args.namespace,
                    annotations={PRIVATE_EGRESS_ANNOTATION: reason} if reason else None,
                ),
                spec=spec,
                opts=child,
            )
        self.register_outputs({"namespace": args.namespace})
