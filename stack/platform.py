"""The observability platform of one environment, in namespace monitoring, and how users reach it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

import dashboards
from components import judge_sampler, metrics_stack, network_policies, tempo
from components.cluster import KubernetesCluster
from components.dcgm_exporter import DcgmExporter, DcgmExporterArgs
from components.metrics_stack import MetricsStack, MetricsStackArgs, MetricsStackImages
from components.namespace import PRIVILEGED, Namespace, NamespaceArgs
from components.network_policies import NetworkPolicies, NetworkPoliciesArgs
from components.otel_collector import OtelCollector, OtelCollectorArgs
from components.prometheus_crds import PrometheusCrds, PrometheusCrdsArgs
from components.tempo import Tempo, TempoArgs
from dashboards.catalogue import SPANMETRICS_DIMENSIONS, dcgm_counters_csv
from stack import versions
from stack.config import PROJECT, StackConfig

MONITORING_NAMESPACE = "monitoring"
# The exporters that read the host (DCGM-Exporter: the GPUs through the NVIDIA runtime; node-exporter: the
# host's network, PIDs and filesystems) need what Pod Security's baseline forbids. They get a namespace of
# their own, the one exception to baseline, so nothing else can be given those rights by accident.
EXPORTERS_NAMESPACE = "monitoring-exporters"
# The localhost port of each UI, for scripts/tunnel.sh and the port-forward outputs.
LOCAL_PORTS = {"grafana": 3000, "prometheus": 9090, "alertmanager": 9093, "tempo": 3200}
METRICS_STACK_IMAGES = MetricsStackImages(
    prometheus=versions.PROMETHEUS_IMAGE,
    alertmanager=versions.ALERTMANAGER_IMAGE,
    grafana=versions.GRAFANA_IMAGE,
    operator=versions.PROMETHEUS_OPERATOR_IMAGE,
    config_reloader=versions.CONFIG_RELOADER_IMAGE,
    webhook_certgen=versions.WEBHOOK_CERTGEN_IMAGE,
    kube_state_metrics=versions.KUBE_STATE_METRICS_IMAGE,
    node_exporter=versions.NODE_EXPORTER_IMAGE,
    grafana_sidecar=versions.GRAFANA_SIDECAR_IMAGE,
)


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



def build_platform(name: str, config: StackConfig, cluster: KubernetesCluster, apps_namespace: str) -> Platform:
    """The observability platform in namespace monitoring, on the cluster's provider and system nodes;
    `apps_namespace` holds the applications that send it telemetry."""
    on_cluster = pulumi.ResourceOptions(provider=cluster.provider)
    settings = config.platform
    facts = cluster.facts
    namespace = Namespace(
        f"{name}-monitoring", NamespaceArgs(name=MONITORING_NAMESPACE), opts=on_cluster
    )
    exporters = Namespace(
        f"{name}-exporters",
        NamespaceArgs(name=EXPORTERS_NAMESPACE, enforce=PRIVILEGED, warn=PRIVILEGED),
        opts=on_cluster,
    )
    NetworkPolicies(
        f"{name}-monitoring-policies",
        NetworkPoliciesArgs(
            namespace=namespace.name,
            policies={
                **network_policies.monitoring_policies(namespace.name, apps_namespace, facts),
                **(network_policies.collector_to_judge_sampler(apps_namespace) if config.quality.judging else {}),
            },
            depends_on=[namespace.resource],
        ),
        opts=on_cluster,
    )
    NetworkPolicies(
        f"{name}-exporters-policies",
        NetworkPoliciesArgs(
            namespace=exporters.name,
            policies=network_policies.exporters_policies(namespace.name),
            depends_on=[exporters.resource],
        ),
        opts=on_cluster,
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
            keep_claims=config.host.keep_data,
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
            images=METRICS_STACK_IMAGES,
            retention=settings.prometheus_retention,
            retention_size=settings.prometheus_retention_size,
            prometheus_volume_gib=settings.prometheus_volume_gib,
            alert_receiver=settings.alert_receiver,
            alert_receiver_url=settings.alert_receiver_url.output() if settings.alert_receiver_url else None,
            watchdog_url=settings.watchdog_url.output() if settings.watchdog_url else None,
            inhibit_rules=dashboards.inhibit_rules(),
            tempo_query_url=tempo.query_url(namespace.name),
            storage_class=facts.storage_class,
            keep_claims=config.host.keep_data,
            node_selector=facts.system_node_selector,
            node_exporter_tolerations=facts.gpu_tolerations,
            exporters_namespace=exporters.name,
            depends_on=[*prerequisites, exporters.resource],
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
            span_dimensions=SPANMETRICS_DIMENSIONS,
            # The sampler runs in the apps' namespace whenever the judge runs (stack/workloads.py).
            judge_sampler_endpoint=judge_sampler.endpoint(apps_namespace) if config.quality.judging else None,
            node_selector=facts.system_node_selector,
            depends_on=prerequisites,
        ),
        opts=on_cluster,
    )
    # Without GPUs (the simulator on a CPU type) the exporter finds no NVML and never becomes ready, so
    # its release, which waits for its pods, would fail the whole `pulumi up`.
    if facts.gpu_count:
        DcgmExporter(
            f"{name}-dcgm-exporter",
            DcgmExporterArgs(
                namespace=exporters.name,
                chart=versions.DCGM_EXPORTER,
                image=versions.DCGM_EXPORTER_IMAGE,
                counters_csv=dcgm_counters_csv(),
                gpu_node_selector=facts.gpu_node_selector,
                gpu_tolerations=facts.gpu_tolerations,
                depends_on=[*prerequisites, exporters.resource],
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
