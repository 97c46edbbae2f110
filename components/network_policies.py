"""Default-deny NetworkPolicies per namespace, with one explicit allow per flow the stack needs.

Only ingress is restricted: every flow is allowed where it arrives, so a pod that is taken over can
reach only what accepts it. (Egress stays open: the API server's address differs per backend, and
Alertmanager and the model download need the internet.) Pods are selected by the labels their charts
and operators set: `app.kubernetes.io/name` from the prometheus-operator (Prometheus, Alertmanager), the
grafana, tempo and opentelemetry-collector charts (their selectorLabels helpers), and
kube-prometheus-stack's `app: kube-prometheus-stack-operator`. Traffic through `kubectl port-forward`
(the tunnel) enters the pod from inside and is not subject to these policies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

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

Spec = dict[str, Any]


def _pods(labels: Mapping[str, str], namespace: str | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"podSelector": {"matchLabels": dict(labels)}}
    if namespace is not None:
        peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_LABEL: namespace}}
    return peer


def _ports(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _allow(to: Mapping[str, str], sources: Sequence[dict[str, Any]], ports: Sequence[int] = ()) -> Spec:
    rule: dict[str, Any] = {"from": list(sources)}
    if ports:
        rule["ports"] = _ports(*ports)
    return {"podSelector": {"matchLabels": dict(to)}, "policyTypes": ["Ingress"], "ingress": [rule]}


DEFAULT_DENY: Spec = {"podSelector": {}, "policyTypes": ["Ingress"]}


def scraped_by_prometheus(monitoring: str) -> Spec:
    """Prometheus reaches every pod of the namespace (its targets)."""
    return {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [_pods(PROMETHEUS, monitoring)]}]}


def monitoring_policies(monitoring: str, apps: str) -> dict[str, Spec]:
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
    }


def exporters_policies(monitoring: str) -> dict[str, Spec]:
    return {"default-deny-ingress": DEFAULT_DENY, "allow-prometheus-scrapes": scraped_by_prometheus(monitoring)}


def apps_policies(apps: str, monitoring: str) -> dict[str, Spec]:
    """Llama Stack to the model servers, the workload to both, the router in between: pods of the
    namespace reach each other; from outside only Prometheus."""
    return {
        "default-deny-ingress": DEFAULT_DENY,
        "allow-prometheus-scrapes": scraped_by_prometheus(monitoring),
        "allow-within-the-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_pods({}, apps)]}],
        },
    }


def judge_sampler_policies(monitoring: str, sampler: Mapping[str, str], port: int) -> dict[str, Spec]:
    """The collector sends the judge sampler the spans its filter passes (components/otel_collector.py)."""
    return {"allow-judge-sampler-from-the-collector": _allow(sampler, [_pods(COLLECTOR, monitoring)], [port])}


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
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy, namespace=args.namespace),
                spec=spec,
                opts=child,
            )
        self.register_outputs({"namespace": args.namespace})
