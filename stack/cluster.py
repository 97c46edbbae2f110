"""The cluster backend of one environment: MiniKube on a GPU host, a new EKS cluster, or an existing one."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cluster import KubernetesCluster
from components.cost_guards import gpu_metrics_agent_config
from components.eks_cluster import EksCluster, EksClusterArgs
from components.existing_cluster import ExistingCluster, ExistingClusterArgs
from components.gpu_host import GpuHost, GpuHostArgs
from components.minikube_cluster import ClaimOwner, GpuMetricsAgent, MinikubeCluster, MinikubeClusterArgs
from components.model_serving import CACHE_CLAIM
from components.pod_security import VLLM_USER
from stack import versions
from stack.config import StackConfig
from stack.teardown import cluster_objects_die_with
from stack.workloads import LLM_NAMESPACE


@dataclass(frozen=True)
class Host:
    """What the cost guards watch: the one GPU instance of the minikube backend (none for the others)."""

    instance_id: pulumi.Input[str] | None = None
    spot_request_id: pulumi.Input[str | None] = None


def _minikube(name: str, config: StackConfig) -> tuple[KubernetesCluster, dict[str, pulumi.Input], Host]:
    # The idle guard of a GPU host watches the GPUs, through the CloudWatch agent on the host.
    gpu_idle_guard = bool(config.cost_guards.idle_stop_minutes and config.host.instance.gpu_count)
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
            gpu_count=config.host.instance.gpu_count,
            data_volume_gib=config.host.data_volume_gib,
            keep_data=config.host.keep_data,
            snapshot_days=config.host.snapshot_days,
            publish_gpu_metrics=gpu_idle_guard,
            tags=config.tags,
            spot_instances=config.cost_guards.spot_instances,
        ),
    )
    # MiniKube's objects live and die with the instance, the resource a replacement really replaces:
    # destroy and a host replacement skip their deletes (stack/teardown.py).
    cluster_objects_die_with(host.instance)
    cluster = MinikubeCluster(
        name,
        MinikubeClusterArgs(
            host_ip=host.public_ip,
            ssh_user=host.ssh_user,
            private_key=host.private_key_openssh,
            host_id=host.instance_id,
            data_volume_id=host.data_volume_id,
            data_attachment=host.data_attachment,
            vcpu=config.host.instance.vcpu,
            memory_gib=config.host.instance.memory_gib,
            gpu_count=config.host.instance.gpu_count,
            kubernetes_version=config.cluster.kubernetes_version,
            minikube_version=config.cluster.minikube_version,
            kubectl_version=config.cluster.kubernetes_version,
            api_port=config.cluster.api_port,
            storage_class=config.cluster.storage_class or "standard",
            gpu_metrics_agent=GpuMetricsAgent(
                versions.CLOUDWATCH_AGENT_URL, versions.CLOUDWATCH_AGENT_SHA256, gpu_metrics_agent_config()
            )
            if gpu_idle_guard
            else None,
            # The weight cache, filled as root by versions of the stack before vLLM ran as its own user.
            claim_owners=(ClaimOwner(LLM_NAMESPACE, CACHE_CLAIM, VLLM_USER.uid, VLLM_USER.gid),),
        ),
    )
    key_file = f"~/.ssh/{name}.pem"
    outputs: dict[str, pulumi.Input] = {
        "instanceId": host.instance_id,
        "dataVolumeId": host.data_volume_id,
        "publicIp": host.public_ip,
        "sshPrivateKey": host.private_key_openssh,
        # umask first: the key file is never readable by others, not even between writing and chmod.
        "sshCommand": pulumi.Output.format(
            "(umask 077 && pulumi stack output sshPrivateKey --show-secrets --stack {3} > {0}) && chmod 600 {0} "
            "&& ssh -i {0} {1}@{2}",
            key_file,
            host.ssh_user,
            host.public_ip,
            config.stack,
        ),
    }
    return cluster, outputs, Host(host.instance_id, host.spot_request_id)


def _eks(name: str, config: StackConfig) -> tuple[KubernetesCluster, dict[str, pulumi.Input], Host]:
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
            device_plugin_chart=versions.NVIDIA_DEVICE_PLUGIN,
            device_plugin_image=versions.DEVICE_PLUGIN_IMAGE,
            tags=config.tags,
            admin_principal_arns=config.cluster.eks_admin_principal_arns,
            keep_data=config.host.keep_data,
        ),
    )
    return cluster, {"eksClusterName": cluster.cluster_name}, Host()


def _existing(name: str, config: StackConfig) -> tuple[KubernetesCluster, dict[str, pulumi.Input], Host]:
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
    return cluster, {}, Host()


_BACKENDS = {"minikube": _minikube, "eks": _eks, "kubeconfig": _existing}


def build_cluster(name: str, config: StackConfig) -> tuple[KubernetesCluster, dict[str, pulumi.Input], Host]:
    """The chosen backend's cluster, its own stack outputs, and the host the cost guards watch."""
    return _BACKENDS[config.cluster.backend](name, config)
