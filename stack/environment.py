"""The wiring of one environment: which components exist, what each receives, what the stack exports."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import metrics_stack, tempo
from components.cluster import KubernetesCluster
from components.cost_guards import CostGuards, CostGuardsArgs
from components.dcgm_exporter import DcgmExporter, DcgmExporterArgs
from components.eks_cluster import EksCluster, EksClusterArgs
from components.existing_cluster import ExistingCluster, ExistingClusterArgs
from components.gpu_host import GpuHost, GpuHostArgs
from components.metrics_stack import MetricsStack, MetricsStackArgs
from components.minikube_cluster import MinikubeCluster, MinikubeClusterArgs
from components.namespace import Namespace, NamespaceArgs
from components.otel_collector import OtelCollector, OtelCollectorArgs
from components.prometheus_crds import PrometheusCrds, PrometheusCrdsArgs
from components.tempo import Tempo, TempoArgs
from stack import versions
from stack.config import PROJECT, StackConfig
from stack.teardown import cluster_objects_die_with

MONITORING_NAMESPACE = "monitoring"
# The localhost port of each UI, for scripts/tunnel.sh and the port-forward outputs.
LOCAL_PORTS = {"grafana": 3000, "prometheus": 9090, "alertmanager": 9093, "tempo": 3200}


@dataclass(frozen=True)
class Platform:
    """What the other streams build on: names, the CRD dependency, the OTLP endpoints."""

    namespace: str
    # Depend on these before creating any ServiceMonitor, PodMonitor, PrometheusRule or Probe.
    crds_ready: list[pulumi.Resource]
    otlp_grpc_endpoint: str
    otlp_http_endpoint: str
    grafana_service: str
    prometheus_service: str
    alertmanager_service: str
    tempo_service: str
    metrics: MetricsStack


@dataclass(frozen=True)
class Environment:
    cluster: KubernetesCluster
    platform: Platform
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


def build_platform(name: str, config: StackConfig, cluster: KubernetesCluster) -> Platform:
    """The observability platform in namespace monitoring, on the cluster's provider and system nodes."""
    on_cluster = pulumi.ResourceOptions(provider=cluster.provider)
    settings = config.platform
    facts = cluster.facts
    namespace = Namespace(
        f"{name}-monitoring", NamespaceArgs(name=MONITORING_NAMESPACE), opts=on_cluster
    )
    crds = PrometheusCrds(
        f"{name}-prometheus-crds",
        PrometheusCrdsArgs(
            chart=versions.PROMETHEUS_OPERATOR_CRDS, namespace=namespace.name, depends_on=[namespace.resource]
        ),
        opts=on_cluster,
    )
    prerequisites = [namespace.resource, *crds.ready]
    traces = Tempo(
        f"{name}-tempo",
        TempoArgs(
            namespace=namespace.name,
            chart=versions.TEMPO,
            image=versions.TEMPO_IMAGE,
            retention=settings.trace_retention,
            volume_gib=settings.tempo_volume_gib,
            prometheus_remote_write_url=metrics_stack.prometheus_remote_write_url(namespace.name),
            storage_class=facts.storage_class,
            node_selector=facts.system_node_selector,
            depends_on=prerequisites,
        ),
        opts=on_cluster,
    )
    metrics = MetricsStack(
        f"{name}-metrics",
        MetricsStackArgs(
            namespace=namespace.name,
            chart=versions.KUBE_PROMETHEUS_STACK,
            prometheus_image=versions.PROMETHEUS_IMAGE,
            alertmanager_image=versions.ALERTMANAGER_IMAGE,
            grafana_image=versions.GRAFANA_IMAGE,
            retention=settings.prometheus_retention,
            retention_size=settings.prometheus_retention_size,
            prometheus_volume_gib=settings.prometheus_volume_gib,
            alert_receiver=settings.alert_receiver,
            alert_receiver_url=settings.alert_receiver_url.output() if settings.alert_receiver_url else None,
            tempo_query_url=tempo.query_url(namespace.name),
            storage_class=facts.storage_class,
            node_selector=facts.system_node_selector,
            node_exporter_tolerations=facts.gpu_tolerations,
            depends_on=prerequisites,
        ),
        opts=on_cluster,
    )
    collector = OtelCollector(
        f"{name}-otel-collector",
        OtelCollectorArgs(
            namespace=namespace.name,
            chart=versions.OPENTELEMETRY_COLLECTOR,
            image=versions.OTEL_COLLECTOR_IMAGE,
            tempo_otlp_grpc_endpoint=traces.otlp_grpc_endpoint,
            node_selector=facts.system_node_selector,
            depends_on=prerequisites,
        ),
        opts=on_cluster,
    )
    DcgmExporter(
        f"{name}-dcgm-exporter",
        DcgmExporterArgs(
            namespace=namespace.name,
            chart=versions.DCGM_EXPORTER,
            image=versions.DCGM_EXPORTER_IMAGE,
            gpu_node_selector=facts.gpu_node_selector,
            gpu_tolerations=facts.gpu_tolerations,
            depends_on=prerequisites,
        ),
        opts=on_cluster,
    )
    return Platform(
        namespace=namespace.name,
        crds_ready=crds.ready,
        otlp_grpc_endpoint=collector.otlp_grpc_endpoint,
        otlp_http_endpoint=collector.otlp_http_endpoint,
        grafana_service=metrics.grafana_service,
        prometheus_service=metrics.prometheus_service,
        alertmanager_service=metrics.alertmanager_service,
        tempo_service=traces.service,
        metrics=metrics,
    )


def platform_outputs(stack: str, platform: Platform) -> dict[str, pulumi.Input]:
    """How users reach the UIs (all ClusterIP): the tunnel script, or one port-forward per service."""
    remote_ports = {
        "grafana": (platform.grafana_service, metrics_stack.GRAFANA_PORT),
        "prometheus": (platform.prometheus_service, metrics_stack.PROMETHEUS_PORT),
        "alertmanager": (platform.alertmanager_service, metrics_stack.ALERTMANAGER_PORT),
        "tempo": (platform.tempo_service, tempo.QUERY_PORT),
    }
    kubeconfig_file = f"$HOME/.kube/{PROJECT}-{stack}.yaml"
    port_forwards = {
        ui: (
            f"kubectl --kubeconfig {kubeconfig_file} --namespace {platform.namespace} port-forward "
            f"--address 127.0.0.1 svc/{service} {LOCAL_PORTS[ui]}:{port}"
        )
        for ui, (service, port) in remote_ports.items()
    }
    return {
        "monitoringNamespace": platform.namespace,
        "otlpGrpcEndpoint": platform.otlp_grpc_endpoint,
        "otlpHttpEndpoint": platform.otlp_http_endpoint,
        "grafanaUrl": f"http://localhost:{LOCAL_PORTS['grafana']}",
        "prometheusUrl": f"http://localhost:{LOCAL_PORTS['prometheus']}",
        "alertmanagerUrl": f"http://localhost:{LOCAL_PORTS['alertmanager']}",
        "tempoUrl": f"http://localhost:{LOCAL_PORTS['tempo']}",
        "grafanaAdminUser": platform.metrics.grafana_admin_user,
        "grafanaAdminPassword": platform.metrics.grafana_admin_password,
        "kubeconfigCommand": (
            f"(umask 077 && pulumi stack output kubeconfig --show-secrets --stack {stack} > {kubeconfig_file})"
        ),
        "portForwardCommands": port_forwards,
    }


BACKENDS = {"minikube": _minikube, "eks": _eks, "kubeconfig": _existing}


def build(config: StackConfig) -> Environment:
    name = f"{PROJECT}-{config.stack}"
    cluster, outputs, host = BACKENDS[config.cluster.backend](name, config)
    platform = build_platform(name, config, cluster)
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
        **platform_outputs(config.stack, platform),
    }
    return Environment(cluster=cluster, platform=platform, cost_guards=cost_guards, outputs=outputs)
