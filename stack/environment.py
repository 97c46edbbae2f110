"""The wiring of one environment: which components exist, what each receives, what the stack exports."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

import dashboards
from components.gpu_host import GpuHost, GpuHostArgs
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from components.signals import Signals, SignalsArgs
from dashboards.config import from_stack as signals_spec
from stack import versions
from stack.config import PROJECT, StackConfig

MONITORING_NAMESPACE = "monitoring"


@dataclass(frozen=True)
class Environment:
    host: GpuHost
    cluster: MinikubeCluster
    signals: Signals
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
    spec = signals_spec(config)
    bundle = dashboards.build(spec)
    signals = Signals(
        name,
        SignalsArgs(
            namespace=MONITORING_NAMESPACE,
            folder=spec.folder,
            dashboards=bundle.dashboards,
            rules=bundle.rules,
            provider=cluster.provider,
            # The lead connects the platform's prometheus-operator CRDs here at merge.
            depends_on=[],
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
        "grafanaDashboardUids": signals.dashboard_uids,
    }
    return Environment(host=host, cluster=cluster, signals=signals, outputs=outputs)
