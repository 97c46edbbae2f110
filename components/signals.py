"""Dashboards and rules delivered to the cluster: Grafana-sidecar ConfigMaps and PrometheusRules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.metrics_stack import DASHBOARD_FOLDER_ANNOTATION, DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE

PART_OF = {"app.kubernetes.io/part-of": "llm-observability", "app.kubernetes.io/component": "signals"}


@dataclass(frozen=True)
class SignalsArgs:
    namespace: str
    folder: str
    dashboards: Mapping[str, Mapping[str, Any]]  # uid -> Grafana dashboard JSON
    rules: Mapping[str, Mapping[str, Any]]  # domain -> {"groups": [...]}
    provider: pulumi.ProviderResource
    # The prometheus-operator CRDs (and the namespace) must exist before a PrometheusRule can.
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class Signals(pulumi.ComponentResource):
    """One ConfigMap per dashboard, labelled for Grafana's sidecar and filed into a folder by its
    annotation, and one PrometheusRule per domain, which the Prometheus operator loads."""

    dashboard_uids: list[str]
    rule_names: list[str]

    def __init__(self, name: str, args: SignalsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:signals:Signals", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.dashboard_uids = sorted(args.dashboards)
        for uid in self.dashboard_uids:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{uid}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"dashboard-{uid}",
                    namespace=args.namespace,
                    # What Grafana's sidecar selects (components/metrics_stack.py).
                    labels={DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE, **PART_OF},
                    annotations={DASHBOARD_FOLDER_ANNOTATION: args.folder},
                ),
                data={f"{uid}.json": json.dumps(args.dashboards[uid], sort_keys=True)},
                opts=child,
            )
        self.rule_names = [f"llmobs-{domain}" for domain in sorted(args.rules)]
        for domain in sorted(args.rules):
            k8s.apiextensions.CustomResource(
                f"{name}-rules-{domain}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"llmobs-{domain}", namespace=args.namespace, labels=dict(PART_OF)),
                spec=dict(args.rules[domain]),
                opts=child,
            )
        self.register_outputs({"dashboardUids": self.dashboard_uids, "ruleNames": self.rule_names})
