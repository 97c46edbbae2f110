"""The wiring of one environment: which components exist, what each receives, what the stack exports."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cluster import KubernetesCluster
from components.cost_guards import CostGuards, CostGuardsArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.existing_cluster import ExistingCluster, ExistingClusterArgs
from components.gpu_host import GpuHost, GpuHostArgs
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from stack import versions
from stack.config import PROJECT, StackConfig
from stack.teardown import cluster_objects_die_with


@dataclass(frozen=True)
class Environment:
    cluster: KubernetesCluster
    cost_guards: CostGuards
    outputs: dict[str, pulumi.Input]


@dataclass(frozen=True)
class _Host:
    """What the cost guards watch: the one GPU instance of the minikube backend (none for the others)."""

    instance_id: pulumi.Input[str] | None = None
    spot_request_id: pulumi.Input[str | None] = None


def _minikube(name: str, config: StackConfig) -> tuple[KubernetesCluster, dict[str, pulumi.Input], _Host]:
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
    # MiniKube's objects live and die with the host: destroy skips them (stack/teardown.py).
    cluster_objects_die_with(host)
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
            storage_class=config.cluster.storage_class or "standard",
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
    }
    return cluster, outputs, _Host(host.instance_id, host.spot_request_id)


def _eks(name: str, config: StackConfig) -> tuple[KubernetesCluster, dict[str, pulumi.Input], _Host]:
    cluster = EksCluster(
        name,
        EksClusterArgs(
            kubernetes_version=config.cluster.eks_kubernetes_version,
            gpu_instance_type=config.host.instance.name,
            gpu_nodes=config.cluster.gpu_nodes,
            gpus_per_node=config.host.instance.gpu_count,
            gpu_root_volume_gib=config.host.root_volume_gib,
            system_instance_type=config.cluster.eks_system_instance.name,
            system_nodes=config.cluster.eks_system_nodes,
            subnet_ids=config.cluster.eks_subnet_ids,
            allowed_cidrs=config.host.allowed_cidrs,
            storage_class=config.cluster.storage_class or "gp3",
            device_plugin_chart=versions.NVIDIA_DEVICE_PLUGIN_CHART,
            device_plugin_repo=versions.NVIDIA_DEVICE_PLUGIN_REPO,
            device_plugin_version=versions.NVIDIA_DEVICE_PLUGIN_VERSION,
            tags=config.tags,
        ),
    )
    return cluster, {"eksClusterName": cluster.cluster_name}, _Host()


def _existing(name: str, config: StackConfig) -> tuple[KubernetesCluster, dict[str, pulumi.Input], _Host]:
    assert config.cluster.kubeconfig is not None
    cluster = ExistingCluster(
        name,
        ExistingClusterArgs(
            kubeconfig=config.cluster.kubeconfig.output(),
            gpu_nodes=config.cluster.gpu_nodes,
            gpus_per_node=config.host.instance.gpu_count,
            storage_class=config.cluster.storage_class,
        ),
    )
    return cluster, {}, _Host()


BACKENDS = {"minikube": _minikube, "eks": _eks, "kubeconfig": _existing}


def build(config: StackConfig) -> Environment:
    name = f"{PROJECT}-{config.stack}"
    cluster, outputs, host = BACKENDS[config.cluster.backend](name, config)
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
    }
    return Environment(cluster=cluster, cost_guards=cost_guards, outputs=outputs)
