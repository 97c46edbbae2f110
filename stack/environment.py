"""The wiring of one environment: which components exist, what each receives, what the stack exports."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cost_guards import CostGuards, CostGuardsArgs
from components.gpu_host import GpuHost, GpuHostArgs
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from stack import versions
from stack.config import PROJECT, StackConfig
from stack.teardown import cluster_objects_die_with


@dataclass(frozen=True)
class Environment:
    host: GpuHost
    cluster: MinikubeCluster
    cost_guards: CostGuards
    outputs: dict[str, pulumi.Input]


def build(config: StackConfig) -> Environment:
    name = f"{PROJECT}-{config.stack}"
    host = GpuHost(
        name,
        GpuHostArgs(
            instance_type=config.host.instance.name,
            root_volume_gib=config.host.root_volume_gib,
            allowed_cidrs=config.host.allowed_cidrs,
            kube_api_port=config.cluster.api_port,
            ami_id=config.host.ami_id,
            ami_ssm_parameter=versions.GPU_AMI_SSM_PARAMETER,
            subnet_id=config.host.subnet_id,
            ssh_user=config.host.ssh_user,
            minikube_version=config.cluster.minikube_version,
            kubectl_version=config.cluster.kubernetes_version,
            tags=config.tags,
            spot_instances=config.cost_guards.spot_instances,
        ),
    )
    cluster_objects_die_with(host)
    cost_guards = CostGuards(
        name,
        CostGuardsArgs(
            instance_id=host.instance_id,
            spot_request_id=host.spot_request_id,
            spot_instances=config.cost_guards.spot_instances,
            idle_stop_minutes=config.cost_guards.idle_stop_minutes,
            idle_cpu_percent=config.cost_guards.idle_cpu_percent,
            monthly_budget_usd=config.cost.monthly_budget_usd,
            budget_alert_emails=config.cost_guards.budget_alert_emails,
            tags=config.tags,
        ),
    )
    cluster = MinikubeCluster(
        name,
        MinikubeClusterArgs(
            host_ip=host.public_ip,
            ssh_user=host.ssh_user,
            private_key=host.private_key_openssh,
            host_id=host.instance_id,
            vcpu=config.host.instance.vcpu,
            memory_gib=config.host.instance.memory_gib,
            gpu_count=config.host.instance.gpu_count,
            kubernetes_version=config.cluster.kubernetes_version,
            api_port=config.cluster.api_port,
        ),
    )
    key_file = f"~/.ssh/{name}.pem"
    outputs: dict[str, pulumi.Input] = {
        "instanceId": host.instance_id,
        "publicIp": host.public_ip,
        "sshPrivateKey": host.private_key_openssh,
        "sshCommand": pulumi.Output.format(
            "pulumi stack output sshPrivateKey --show-secrets > {0} && chmod 600 {0} && ssh -i {0} {1}@{2}",
            key_file,
            host.ssh_user,
            host.public_ip,
        ),
        "kubeconfig": cluster.kubeconfig,
        "tunnelCommand": f"scripts/tunnel.sh {config.stack}",
    }
    if cost_guards.idle_alarm_name is not None:
        outputs["idleStopAlarm"] = cost_guards.idle_alarm_name
    if cost_guards.budget_name is not None:
        outputs["budgetName"] = cost_guards.budget_name
    return Environment(host=host, cluster=cluster, cost_guards=cost_guards, outputs=outputs)
