"""One environment: its cluster, the observability platform, the AI workloads, the cost guards, its outputs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cluster import KubernetesCluster
from components.cost_guards import CostGuards, CostGuardsArgs
from components.signals import Signals
from stack.cluster import build_cluster
from stack.config import PROJECT, StackConfig
from stack.platform import Platform, build_platform, platform_outputs
from stack.signals import build_signals
from stack.workloads import LLM_NAMESPACE, AiWorkloads, build_ai_workloads, workload_outputs


@dataclass(frozen=True)
class Environment:
    cluster: KubernetesCluster
    platform: Platform
    workloads: AiWorkloads
    signals: Signals
    cost_guards: CostGuards
    outputs: dict[str, pulumi.Input]


def build(config: StackConfig) -> Environment:
    name = f"{PROJECT}-{config.stack}"
    cluster, outputs, host = build_cluster(name, config)
    platform = build_platform(name, config, cluster, apps_namespace=LLM_NAMESPACE)
    workloads = build_ai_workloads(name, config, cluster, platform)
    signals = build_signals(name, config, cluster, platform)
    cost_guards = CostGuards(
        name,
        CostGuardsArgs(
            instance_id=host.instance_id,
            spot_request_id=host.spot_request_id,
            spot_instances=config.cost_guards.spot_instances,
            idle_stop_minutes=config.cost_guards.idle_stop_minutes,
            idle_cpu_percent=config.cost_guards.idle_cpu_percent,
            idle_gpu_percent=config.cost_guards.idle_gpu_percent,
            gpu_count=config.host.instance.gpu_count,
            monthly_budget_usd=config.cost.monthly_budget_usd,
            budget_alert_emails=config.cost_guards.budget_alert_emails,
            tags=config.tags,
        ),
    )
    if cost_guards.idle_alarm_name is not None:
        outputs["idleStopAlarm"] = cost_guards.idle_alarm_name
    if cost_guards.budget_name is not None:
        outputs["budgetName"] = cost_guards.budget_name
    outputs = {
        **outputs,
        "clusterBackend": config.cluster.backend,
        "gpuCount": cluster.facts.gpu_count,
        "kubeconfig": cluster.kubeconfig,
        "tunnelCommand": f"scripts/tunnel.sh {config.stack}",
        **platform_outputs(config.stack, platform),
        **workload_outputs(config.stack, workloads),
        "grafanaDashboardUids": signals.dashboard_uids,
    }
    return Environment(
        cluster=cluster,
        platform=platform,
        workloads=workloads,
        signals=signals,
        cost_guards=cost_guards,
        outputs=outputs,
    )
