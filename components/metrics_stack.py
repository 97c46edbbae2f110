"""kube-prometheus-stack: Prometheus 3, Alertmanager and Grafana, wired for the LLM signals.

Prometheus discovers every ServiceMonitor, PodMonitor, PrometheusRule, Probe and ScrapeConfig in every
namespace with no label needed, accepts remote write (Tempo's metrics generator) and stores exemplars.
Grafana's admin password is generated, kept in a Kubernetes Secret and never in Helm values; its
datasources (Prometheus and Tempo, with fixed uids) and dashboards (any namespace, by label) are code.
Alertmanager's receiver URL lives in a Secret that Alertmanager reads from a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.helm import placement, release, resources
from stack.versions import HelmChart, Image

RELEASE_NAME = "kube-prometheus-stack"
# Service names follow from the release name (the chart prefixes them with its full name).
PROMETHEUS_SERVICE = f"{RELEASE_NAME}-prometheus"
ALERTMANAGER_SERVICE = f"{RELEASE_NAME}-alertmanager"
GRAFANA_SERVICE = "grafana"
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 80
GRAFANA_ADMIN_USER = "admin"
GRAFANA_ADMIN_SECRET = "grafana-admin"
ALERT_RECEIVER_SECRET = "alertmanager-receiver"
WATCHDOG_SECRET = "alertmanager-watchdog"
WATCHDOG_RECEIVER = "deadmansswitch"
# How often the dead man's switch hears from the Watchdog; set its period to a few times this.
WATCHDOG_EVERY = "1m"
# Alertmanager mounts each Secret listed in alertmanagerSpec.secrets under this folder.
ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"
PROMETHEUS_DATASOURCE_UID = "prometheus"
TEMPO_DATASOURCE_UID = "tempo"
GRAFANA_VOLUME = "5Gi"
ALERTMANAGER_VOLUME = "2Gi"
ALERTMANAGER_RETENTION = "120h"
# The operator's StatefulSets leave their volume claims behind when they are deleted (Kubernetes' default):
# on EKS or an existing cluster that is a cloud volume still billed after `pulumi destroy`. The claims go
# with their StatefulSet; scaling keeps them.
CLAIMS_DIE_WITH_STATEFULSET = {"whenDeleted": "Delete", "whenScaled": "Retain"}
# prod (keepData): the claims, and the metrics and silences on them, outlive their StatefulSets.
CLAIMS_OUTLIVE_STATEFULSET = {"whenDeleted": "Retain", "whenScaled": "Retain"}
# Monitors of control-plane parts that MiniKube binds to localhost (or runs without metrics): their
# targets would be down from day one and their alerts would fire forever.
MINIKUBE_UNREACHABLE_MONITORS = ("kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy")
MINIKUBE_UNREACHABLE_RULES = (
    "etcd",
    "kubeSchedulerAlerting",
    "kubeSchedulerRecording",
    "kubeControllerManager",
    "kubeProxy",
)
# Discovery of these operator objects: every namespace, no label selector.
DISCOVERED_KINDS = ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")


@dataclass(frozen=True)
class MetricsStackImages:
    """Every image the chart and its subcharts run, each set with its digest."""

    prometheus: Image
    alertmanager: Image
    grafana: Image
    operator: Image
    config_reloader: Image
    webhook_certgen: Image
    kube_state_metrics: Image
    node_exporter: Image
    grafana_sidecar: Image
    grafana_init: Image


@dataclass(frozen=True)
class MetricsStackArgs:
    namespace: str
    chart: HelmChart
    images: MetricsStackImages
    retention: str
    retention_size: str
    prometheus_volume_gib: int
    # none, webhook or slack; the URL (a secret) is required unless none.
    alert_receiver: str
    alert_receiver_url: pulumi.Input[str] | None
    tempo_query_url: str
    # The dead man's switch the Watchdog pings (a secret), if any.
    watchdog_url: pulumi.Input[str] | None = None
    # Alertmanager inhibition rules (the signals' dashboards.inhibit_rules).
    inhibit_rules: tuple[Mapping[str, Any], ...] = ()
    # Storage class of the volumes; None uses the cluster's default class.
    storage_class: str | None = None
    # prod: Prometheus's and Alertmanager's claims outlive their StatefulSets (Grafana's volume is kept
    # by the retaining storage class on EKS, by the data volume on MiniKube).
    keep_claims: bool = False
    # Where the stack's pods run (the system nodes, where the cluster has them).
    node_selector: Mapping[str, str] = field(default_factory=dict)
    # node-exporter runs on every node: these let it onto tainted (GPU) nodes.
    node_exporter_tolerations: tuple[Mapping[str, str], ...] = ()
    # node-exporter's namespace: the privileged exporters' own (stack/platform.py), not the release's.
    exporters_namespace: str | None = None
    # The prometheus-operator CRDs and the namespace.
    depends_on: Sequence[pulumi.Resource] = ()


def prometheus_remote_write_url(namespace: str) -> str:
    """Prometheus's remote-write receiver, where Tempo's metrics generator writes."""
    return f"http://{PROMETHEUS_SERVICE}.{namespace}.svc.cluster.local:{PROMETHEUS_PORT}/api/v1/write"


def _image(image: Image) -> dict[str, str]:
    """kube-prometheus-stack's and grafana's image keys: the templates write `@sha256:<sha>` themselves
    (e.g. kube-prometheus-stack 88.5.3 templates/prometheus/prometheus.yaml, grafana 12.11.1 _pod.tpl)."""
    pinned = {"registry": image.registry, "repository": image.repository, "tag": image.tag}
    return {**pinned, "sha": image.digest_hex} if image.digest else pinned


def _subchart_image(image: Image, digest_key: str) -> dict[str, Any]:
    """kube-state-metrics 8.4.0 (`sha`) and prometheus-node-exporter 4.56.1 (`digest`) write `@<value>`
    (their templates/_helpers.tpl), so the value keeps its `sha256:` prefix."""
    pinned = {"registry": image.registry, "repository": image.repository, "tag": image.tag}
    return {**pinned, digest_key: image.digest} if image.digest else pinned


def _claim_policy(args: MetricsStackArgs) -> dict[str, str]:
    return CLAIMS_OUTLIVE_STATEFULSET if args.keep_claims else CLAIMS_DIE_WITH_STATEFULSET


def _volume_claim(size: str, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def _secret_file(secret: str) -> str:
    return f"{ALERTMANAGER_SECRETS_DIR}/{secret}/url"


def alertmanager_config(receiver: str, watchdog: bool, inhibit_rules: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Routes everything to the configured receiver (or the null one). The always-firing Watchdog goes,
    every minute, to the dead man's switch when there is one (it pages when the pings stop), else to
    null. ``inhibit_rules`` mute alerts another alert explains (dashboards.inhibit_rules)."""
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    if receiver == "webhook":
        receivers.append({"name": "webhook", "webhook_configs": [{"url_file": _secret_file(ALERT_RECEIVER_SECRET), "send_resolved": True}]})
    elif receiver == "slack":
        receivers.append({"name": "slack", "slack_configs": [{"api_url_file": _secret_file(ALERT_RECEIVER_SECRET), "send_resolved": True}]})
    watchdog_route: dict[str, Any] = {"receiver": "null", "matchers": ['alertname = "Watchdog"']}
    if watchdog:
        receivers.append({"name": WATCHDOG_RECEIVER,
                          "webhook_configs": [{"url_file": _secret_file(WATCHDOG_SECRET), "send_resolved": False}]})
        watchdog_route = {**watchdog_route, "receiver": WATCHDOG_RECEIVER, "group_wait": "0s",
                          "group_interval": WATCHDOG_EVERY, "repeat_interval": WATCHDOG_EVERY}
    config: dict[str, Any] = {
        "route": {
            "receiver": receiver if receiver != "none" else "null",
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [watchdog_route],
        },
        "receivers": receivers,
    }
    if inhibit_rules:
        config["inhibit_rules"] = [dict(rule) for rule in inhibit_rules]
    return config


def grafana_datasources(prometheus_url: str, tempo_url: str) -> list[dict[str, Any]]:
    """Prometheus (exemplars link to Tempo) and Tempo (traces to metrics, service map, node graph).

    Grafana expands $NAME in provisioning files from its environment, so Grafana's own query
    variables are written $$__name.
    """
    span_selector = 'service_name="$${__span.tags["service.name"]}",span_name="$${__span.name}"'
    return [
        {
            "name": "Prometheus",
            "type": "prometheus",
            "uid": PROMETHEUS_DATASOURCE_UID,
            "access": "proxy",
            "url": prometheus_url,
            "isDefault": True,
            "editable": False,
            "jsonData": {
                "httpMethod": "POST",
                "timeInterval": "30s",
                # The collector's span metrics carry trace_id, Tempo's generated metrics traceID.
                "exemplarTraceIdDestinations": [
                    {"name": "trace_id", "datasourceUid": TEMPO_DATASOURCE_UID, "urlDisplayLabel": "Trace"},
                    {"name": "traceID", "datasourceUid": TEMPO_DATASOURCE_UID, "urlDisplayLabel": "Trace"},
                ],
            },
        },
        {
            "name": "Tempo",
            "type": "tempo",
            "uid": TEMPO_DATASOURCE_UID,
            "access": "proxy",
            "url": tempo_url,
            "editable": False,
            "jsonData": {
                "tracesToMetrics": {
                    "datasourceUid": PROMETHEUS_DATASOURCE_UID,
                    "spanStartTimeShift": "-5m",
                    "spanEndTimeShift": "5m",
                    "queries": [
                        {
                            "name": "Request rate",
                            "query": f"sum(rate(traces_span_metrics_calls_total{{{span_selector}}}[5m]))",
                        },
                        {
                            "name": "Error rate",
                            "query": (
                                f"sum(rate(traces_span_metrics_calls_total{{{span_selector},"
                                'status_code="STATUS_CODE_ERROR"}[5m]))'
                            ),
                        },
                        {
                            "name": "p95 duration",
                            "query": (
                                "histogram_quantile(0.95, sum by (le) (rate("
                                f"traces_span_metrics_duration_seconds_bucket{{{span_selector}}}[5m])))"
                            ),
                        },
                    ],
                },
                "serviceMap": {"datasourceUid": PROMETHEUS_DATASOURCE_UID},
                "nodeGraph": {"enabled": True},
                "search": {"hide": False},
                "traceQuery": {"timeShiftEnabled": True, "spanStartTimeShift": "-30m", "spanEndTimeShift": "30m"},
                "streamingEnabled": {"search": True, "metrics": True},
            },
        },
    ]


def metrics_stack_values(args: MetricsStackArgs) -> dict[str, Any]:
    """The chart values: plain data, so tests and the footprint check read exactly what is installed."""
    svc = f"{args.namespace}.svc.cluster.local"
    prometheus_spec: dict[str, Any] = {
        "image": _image(args.images.prometheus),
        "retention": args.retention,
        "retentionSize": args.retention_size,
        "storageSpec": _volume_claim(f"{args.prometheus_volume_gib}Gi", args.storage_class),
        "persistentVolumeClaimRetentionPolicy": _claim_policy(args),
        "enableRemoteWriteReceiver": True,
        "enableFeatures": ["exemplar-storage"],
        "exemplars": {"maxSize": 100000},
        "resources": resources("500m", "2Gi", "2", "4Gi"),
        **placement(args.node_selector),
    }
    for kind in DISCOVERED_KINDS:
        prometheus_spec[f"{kind}SelectorNilUsesHelmValues"] = False
        prometheus_spec[f"{kind}Selector"] = {}
        prometheus_spec[f"{kind}NamespaceSelector"] = {}
    alertmanager_spec: dict[str, Any] = {
        "image": _image(args.images.alertmanager),
        "retention": ALERTMANAGER_RETENTION,
        "storage": _volume_claim(ALERTMANAGER_VOLUME, args.storage_class),
        "persistentVolumeClaimRetentionPolicy": _claim_policy(args),
        "resources": resources("20m", "64Mi", "200m", "256Mi"),
        **placement(args.node_selector),
    }
    secrets = [ALERT_RECEIVER_SECRET] if args.alert_receiver != "none" else []
    secrets += [WATCHDOG_SECRET] if args.watchdog_url is not None else []
    if secrets:
        alertmanager_spec["secrets"] = secrets
    values: dict[str, Any] = {
        # The CRDs come from the prometheus-operator-crds release (components/prometheus_crds.py).
        "crds": {"enabled": False},
        "defaultRules": {"rules": {rule: False for rule in MINIKUBE_UNREACHABLE_RULES}},
        **{monitor: {"enabled": False} for monitor in MINIKUBE_UNREACHABLE_MONITORS},
        "prometheusOperator": {
            "image": _image(args.images.operator),
            "resources": resources("50m", "128Mi", "500m", "256Mi"),
            "prometheusConfigReloader": {
                "image": _image(args.images.config_reloader),
                "resources": resources("10m", "32Mi", "100m", "64Mi"),
            },
            "admissionWebhooks": {
                "patch": {
                    "image": _image(args.images.webhook_certgen),
                    "resources": resources("10m", "32Mi", "100m", "64Mi"),
                    **placement(args.node_selector),
                }
            },
            "service": {"type": "ClusterIP"},
            **placement(args.node_selector),
        },
        "prometheus": {"service": {"type": "ClusterIP"}, "prometheusSpec": prometheus_spec},
        "alertmanager": {
            "service": {"type": "ClusterIP"},
            "config": alertmanager_config(args.alert_receiver, args.watchdog_url is not None, args.inhibit_rules),
            "alertmanagerSpec": alertmanager_spec,
        },
        "kube-state-metrics": {
            "image": _subchart_image(args.images.kube_state_metrics, "sha"),
            "resources": resources("20m", "64Mi", "200m", "256Mi"),
            **placement(args.node_selector),
        },
        "prometheus-node-exporter": {
            **({"namespaceOverride": args.exporters_namespace} if args.exporters_namespace else {}),
            # The whole tag is ours (the chart would otherwise append -distroless to it).
            "image": {**_subchart_image(args.images.node_exporter, "digest"), "distroless": False},
            "resources": resources("20m", "32Mi", "200m", "64Mi"),
            **placement({}, args.node_exporter_tolerations),
        },
        "grafana": {
            "fullnameOverride": GRAFANA_SERVICE,
            "image": _image(args.images.grafana),
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "persistence": {
                "enabled": True,
                "type": "pvc",
                "size": GRAFANA_VOLUME,
                **({"storageClassName": args.storage_class} if args.storage_class else {}),
            },
            "resources": resources("100m", "256Mi", "1", "1Gi"),
            "initChownData": {"image": _image(args.images.grafana_init), "resources": resources("10m", "16Mi", "100m", "64Mi")},
            "testFramework": {"enabled": False},
            "service": {"type": "ClusterIP"},
            **placement(args.node_selector),
            "sidecar": {
                "image": _image(args.images.grafana_sidecar),
                # One block for both sidecars (dashboards and datasources).
                "resources": resources("20m", "64Mi", "200m", "256Mi"),
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "labelValue": DASHBOARD_LABEL_VALUE,
                    "searchNamespace": "ALL",
                    "folderAnnotation": DASHBOARD_FOLDER_ANNOTATION,
                    "provider": {"foldersFromFilesStructure": True},
                },
                # The chart's own Prometheus datasource is replaced by ours, which links to Tempo.
                "datasources": {"enabled": True, "defaultDatasourceEnabled": False},
            },
            "additionalDataSources": grafana_datasources(
                f"http://{PROMETHEUS_SERVICE}.{svc}:{PROMETHEUS_PORT}", args.tempo_query_url
            ),
        },
    }
    return values


def _url_secret(name: str, secret: str, url: pulumi.Input[str], namespace: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """A URL Alertmanager reads from a file (alertmanagerSpec.secrets mounts it), never from its config."""
    return k8s.core.v1.Secret(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=secret, namespace=namespace),
        type="Opaque",
        string_data={"url": pulumi.Output.secret(url)},
        opts=opts,
    )


class MetricsStack(pulumi.ComponentResource):
    """The kube-prometheus-stack release, its Grafana admin Secret and its alert receiver Secret."""

    grafana_admin_password: pulumi.Output[str]
    grafana_admin_user: str
    prometheus_service: str
    alertmanager_service: str
    grafana_service: str
    prometheus_remote_write_url: str
    release: pulumi.Resource

    def __init__(self, name: str, args: MetricsStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:monitoring:MetricsStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_ADMIN_SECRET, namespace=args.namespace),
            type="Opaque",
            string_data={"admin-user": GRAFANA_ADMIN_USER, "admin-password": password.result},
            opts=child,
        )
        prerequisites: list[pulumi.Resource] = [*args.depends_on, admin_secret]
        if args.alert_receiver != "none":
            if args.alert_receiver_url is None:
                raise ValueError("alert_receiver_url is required unless alert_receiver is none")
            prerequisites.append(_url_secret(f"{name}-alert-receiver", ALERT_RECEIVER_SECRET, args.alert_receiver_url,
                                             args.namespace, child))
        if args.watchdog_url is not None:
            prerequisites.append(_url_secret(f"{name}-watchdog", WATCHDOG_SECRET, args.watchdog_url, args.namespace, child))
        self.release = release(
            f"{name}-release",
            args.chart,
            RELEASE_NAME,
            args.namespace,
            metrics_stack_values(args),
            parent=self,
            depends_on=prerequisites,
        )
        self.grafana_admin_user = GRAFANA_ADMIN_USER
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        self.prometheus_service = PROMETHEUS_SERVICE
        self.alertmanager_service = ALERTMANAGER_SERVICE
        self.grafana_service = GRAFANA_SERVICE
        self.prometheus_remote_write_url = prometheus_remote_write_url(args.namespace)
        self.register_outputs({"status": self.release.status})  # type: ignore[attr-defined]
