"""The observability platform as the dev stack declares it (under mocks), and its variants."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components import dcgm_exporter, metrics_stack, otel_collector, tempo
from dashboards import catalogue as signals_catalogue
from stack import versions
from stack.config import ConfigError, parse, raw_from_files
from tests.dcgm_counters_reader import CountersError, read_counters
from tests.harness import Program, run_program
from tests.platform_support import (
    RELEASE_TYPE,
    chart_reference,
    dig,
    releases,
    values_of,
    walk,
)

ROOT = Path(__file__).resolve().parent.parent
KPS = versions.KUBE_PROMETHEUS_STACK.name
RECEIVER_URL = "https://hooks.example.com/services/T000/B000/not-a-real-token"
# Releases whose charts create ServiceMonitors, PodMonitors or PrometheusRules.
MONITORING_CHARTS = (KPS, versions.TEMPO.name, versions.OPENTELEMETRY_COLLECTOR.name, versions.DCGM_EXPORTER.name)


@pytest.fixture(scope="module")
def webhook_program() -> Program:
    return run_program(
        "dev",
        {"alertReceiver": "webhook", "alertReceiverUrl": RECEIVER_URL},
        secret_keys=("alertReceiverUrl",),
    )


# --- Releases ----------------------------------------------------------------------------------------


def test_every_chart_is_a_release_with_its_exact_version_and_repository(dev_program):
    declared = releases(dev_program)
    assert set(declared) == {chart.name for chart in versions.PLATFORM_CHARTS}
    for chart in versions.PLATFORM_CHARTS:
        inputs = declared[chart.name].inputs
        assert re.fullmatch(r"\d+\.\d+\.\d+", inputs["version"]), chart.name
        assert inputs["version"] == chart.version
        assert inputs["repositoryOpts"] == {"repo": chart.repo}
        assert inputs["repositoryOpts"]["repo"].startswith("https://")
        assert inputs["namespace"] == ("monitoring-exporters" if chart.name == "dcgm-exporter" else "monitoring")
        assert inputs["name"], f"{chart.name}: the release name is fixed, not generated"


def test_tempo_comes_from_the_grafana_community_repository(dev_program):
    assert releases(dev_program)["tempo"].inputs["repositoryOpts"]["repo"] == (
        "https://grafana-community.github.io/helm-charts"
    )


def test_releases_use_the_clusters_kubernetes_provider(dev_program):
    provider = dev_program.one("pulumi:providers:kubernetes")
    for resource in dev_program.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider.startswith(provider.urn), resource.name


def test_every_release_that_creates_monitors_waits_for_the_crds(dev_program):
    declared = releases(dev_program)
    crds = declared[versions.PROMETHEUS_OPERATOR_CRDS.name]
    for chart in MONITORING_CHARTS:
        assert crds.urn in declared[chart].dependencies, f"{chart} must depend on the CRDs release"
    namespace = dev_program.one("kubernetes:core/v1:Namespace", "monitoring")
    assert namespace.inputs["metadata"]["name"] == "monitoring"
    assert namespace.urn in crds.dependencies


def test_crds_chart_ships_the_operator_version_of_kube_prometheus_stack(dev_program):
    assert versions.PROMETHEUS_OPERATOR_CRDS.app_version == versions.KUBE_PROMETHEUS_STACK.app_version
    assert values_of(dev_program, KPS)["crds"] == {"enabled": False}


def test_the_platform_exposes_what_the_other_streams_need():
    from stack.platform import Platform

    fields = set(Platform.__dataclass_fields__)
    assert {"namespace", "crds_ready", "otlp_grpc_endpoint", "otlp_http_endpoint", "grafana_service",
            "prometheus_service"} <= fields


# --- Prometheus --------------------------------------------------------------------------------------


def test_prometheus_discovers_monitors_rules_and_probes_in_every_namespace_without_labels(dev_program):
    spec = dig(values_of(dev_program, KPS), "prometheus.prometheusSpec")
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {}
        assert spec[f"{kind}NamespaceSelector"] == {}


def test_prometheus_is_3x_with_remote_write_receiver_and_exemplars(dev_program):
    spec = dig(values_of(dev_program, KPS), "prometheus.prometheusSpec")
    assert spec["image"]["tag"].startswith("v3.")
    assert spec["enableRemoteWriteReceiver"] is True
    assert "exemplar-storage" in spec["enableFeatures"]
    assert spec["exemplars"]["maxSize"] > 0


def test_prometheus_keeps_data_on_a_volume_with_retention_from_config(dev_program):
    spec = dig(values_of(dev_program, KPS), "prometheus.prometheusSpec")
    assert spec["retention"] == "15d"
    assert spec["retentionSize"] == "40GB"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert claim["accessModes"] == ["ReadWriteOnce"]


def test_retention_settings_reach_prometheus_and_tempo():
    program = run_program(
        "dev",
        {"prometheusRetention": "7d", "prometheusRetentionSize": "20GB", "prometheusVolumeGiB": 30,
         "traceRetention": "72h", "tempoVolumeGiB": 8},
    )
    spec = dig(values_of(program, KPS), "prometheus.prometheusSpec")
    assert (spec["retention"], spec["retentionSize"]) == ("7d", "20GB")
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "30Gi"
    tempo_values = values_of(program, "tempo")
    assert tempo_values["tempo"]["retention"] == "72h"
    assert tempo_values["persistence"]["size"] == "8Gi"


def test_minikube_unreachable_monitors_and_their_rules_are_off(dev_program):
    values = values_of(dev_program, KPS)
    for monitor in ("kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy"):
        assert values[monitor] == {"enabled": False}
    rules = values["defaultRules"]["rules"]
    for rule in ("etcd", "kubeSchedulerAlerting", "kubeSchedulerRecording", "kubeControllerManager", "kubeProxy"):
        assert rules[rule] is False


# --- Grafana -----------------------------------------------------------------------------------------


def test_grafana_admin_password_is_generated_kept_in_a_secret_and_exported_as_secret(dev_program):
    grafana = values_of(dev_program, KPS)["grafana"]
    assert grafana["admin"] == {"existingSecret": "grafana-admin", "userKey": "admin-user", "passwordKey": "admin-password"}
    assert "adminPassword" not in grafana
    password = dev_program.one("random:index/randomPassword:RandomPassword", "grafana-admin")
    assert password.inputs["length"] >= 24
    secret = dev_program.one("kubernetes:core/v1:Secret", "grafana-admin")
    assert secret.inputs["metadata"] == {"name": "grafana-admin", "namespace": "monitoring"}
    assert "stringData" in secret.secret_inputs
    assert secret.inputs["stringData"]["admin-password"] == "mock-random-password-0123456789"
    assert secret.urn in releases(dev_program)[KPS].dependencies
    assert "grafanaAdminPassword" in dev_program.secret_outputs
    assert dev_program.outputs["grafanaAdminPassword"] == "mock-random-password-0123456789"
    assert dev_program.outputs["grafanaAdminPassword"] not in ("admin", "prom-operator")
    assert "mock-random-password" not in repr(values_of(dev_program, KPS))


def test_grafana_keeps_state_and_loads_dashboards_from_every_namespace_into_annotated_folders(dev_program):
    grafana = values_of(dev_program, KPS)["grafana"]
    assert grafana["persistence"]["enabled"] is True
    dashboards = grafana["sidecar"]["dashboards"]
    assert dashboards["enabled"] is True
    assert (dashboards["label"], dashboards["labelValue"]) == ("grafana_dashboard", "1")
    assert dashboards["searchNamespace"] == "ALL"
    assert dashboards["folderAnnotation"] == "grafana_folder"
    assert dashboards["provider"]["foldersFromFilesStructure"] is True


def test_grafana_datasources_are_code_with_fixed_uids_linking_metrics_and_traces(dev_program):
    grafana = values_of(dev_program, KPS)["grafana"]
    assert grafana["sidecar"]["datasources"]["defaultDatasourceEnabled"] is False
    sources = {source["uid"]: source for source in grafana["additionalDataSources"]}
    assert set(sources) == {"prometheus", "tempo"}
    prometheus, traces = sources["prometheus"], sources["tempo"]
    assert prometheus["type"] == "prometheus" and prometheus["isDefault"] is True
    assert prometheus["url"] == "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    destinations = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert {d["name"] for d in destinations} == {"trace_id", "traceID"}
    assert all(d["datasourceUid"] == "tempo" for d in destinations)
    assert traces["type"] == "tempo"
    assert traces["url"] == "http://tempo.monitoring.svc.cluster.local:3200"
    assert traces["jsonData"]["tracesToMetrics"]["datasourceUid"] == "prometheus"
    assert traces["jsonData"]["serviceMap"]["datasourceUid"] == "prometheus"
    assert traces["jsonData"]["nodeGraph"]["enabled"] is True
    for query in traces["jsonData"]["tracesToMetrics"]["queries"]:
        assert "traces_span_metrics_" in query["query"]


def test_grafana_variables_in_provisioned_datasources_are_escaped_from_env_expansion(dev_program):
    """Grafana expands $NAME and ${NAME} in provisioning files from its environment."""
    for path, value in walk(values_of(dev_program, KPS)["grafana"]["additionalDataSources"]):
        if isinstance(value, str):
            unescaped = re.findall(r"(?<!\$)\$(?!\$)\{?[A-Za-z_]", value)
            assert not unescaped, f"{'.'.join(path)}: {value}"


# --- Alertmanager ------------------------------------------------------------------------------------


def test_alertmanager_persists_and_sends_to_a_null_receiver_by_default(dev_program):
    alertmanager = values_of(dev_program, KPS)["alertmanager"]
    spec = alertmanager["alertmanagerSpec"]
    assert spec["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]
    assert alertmanager["config"]["route"]["receiver"] == "null"
    assert alertmanager["config"]["receivers"] == [{"name": "null"}]
    assert "secrets" not in spec
    assert not dev_program.of_type("kubernetes:core/v1:Secret") or all(
        "alert-receiver" not in s.name for s in dev_program.of_type("kubernetes:core/v1:Secret")
    )


def test_webhook_receiver_url_lives_in_a_secret_alertmanager_reads_from_a_file(webhook_program):
    alertmanager = values_of(webhook_program, KPS)["alertmanager"]
    config = alertmanager["config"]
    assert config["route"]["receiver"] == "webhook"
    webhook = next(r for r in config["receivers"] if r["name"] == "webhook")
    assert webhook["webhook_configs"][0]["url_file"] == "/etc/alertmanager/secrets/alertmanager-receiver/url"
    assert alertmanager["alertmanagerSpec"]["secrets"] == ["alertmanager-receiver"]
    secret = webhook_program.one("kubernetes:core/v1:Secret", "alert-receiver")
    assert "stringData" in secret.secret_inputs
    assert secret.inputs["stringData"]["url"] == RECEIVER_URL
    assert secret.urn in releases(webhook_program)[KPS].dependencies
    for release in webhook_program.of_type(RELEASE_TYPE):
        assert RECEIVER_URL not in repr(release.inputs)
    assert RECEIVER_URL not in repr(webhook_program.outputs)


def test_slack_receiver_reads_its_api_url_from_the_secret_file():
    program = run_program("dev", {"alertReceiver": "slack", "alertReceiverUrl": RECEIVER_URL},
                          secret_keys=("alertReceiverUrl",))
    config = values_of(program, KPS)["alertmanager"]["config"]
    slack = next(r for r in config["receivers"] if r["name"] == "slack")
    assert slack["slack_configs"][0]["api_url_file"].endswith("/alertmanager-receiver/url")


def test_a_receiver_url_set_in_plaintext_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as error:
        run_program("dev", {"alertReceiver": "webhook", "alertReceiverUrl": RECEIVER_URL})
    assert "alertReceiverUrl must be stored encrypted" in str(error.value)
    assert RECEIVER_URL not in str(error.value)
    assert not error.value.program.of_type(RELEASE_TYPE)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prometheusRetention": "15 days"}, "prometheusRetention: '15 days' is not valid"),
        ({"prometheusRetention": "0d"}, "prometheusRetention: '0d' is not valid"),
        ({"prometheusRetentionSize": "40G"}, "prometheusRetentionSize: '40G' is not valid"),
        ({"prometheusRetentionSize": "60GB"}, "does not fit the 50 GiB volume"),
        ({"prometheusVolumeGiB": 5}, "prometheusVolumeGiB: 5 is out of range"),
        ({"traceRetention": "7d"}, "traceRetention: '7d' is not valid"),
        ({"tempoVolumeGiB": 0}, "tempoVolumeGiB: 0 is out of range"),
        ({"alertReceiver": "pagerduty"}, "alertReceiver: 'pagerduty' is not a receiver; allowed: none, webhook, slack"),
        ({"alertReceiver": "webhook"}, "alertReceiverUrl is required when llm-observability:alertReceiver is webhook"),
        ({"alertReceiver": "slack", "alertReceiverUrl": "http://hooks.example.com/x"}, "is not an https:// URL"),
        ({"alertReceiverUrl": "https://hooks.example.com/x"}, "is set but llm-observability:alertReceiver is none"),
    ],
)
def test_bad_platform_settings_are_refused_naming_the_key(overrides, message):
    with pytest.raises(ConfigError) as error:
        parse("dev", {**raw_from_files("dev"), **overrides})
    assert message in str(error.value)
    assert "hooks.example.com" not in str(error.value)


def test_platform_config_repr_hides_the_receiver_url():
    config = parse("dev", {**raw_from_files("dev"), "alertReceiver": "webhook", "alertReceiverUrl": RECEIVER_URL})
    assert config.platform.alert_receiver_url.value == RECEIVER_URL
    assert RECEIVER_URL not in repr(config)


# --- Tempo -------------------------------------------------------------------------------------------


def test_tempo_receives_otlp_keeps_traces_and_generates_metrics_into_prometheus(dev_program):
    values = values_of(dev_program, "tempo")
    assert values["fullnameOverride"] == "tempo"
    settings = values["tempo"]
    assert settings["tag"] == f"{versions.TEMPO_IMAGE.tag}@{versions.TEMPO_IMAGE.digest}"
    assert versions.TEMPO_IMAGE.tag == versions.TEMPO.app_version
    protocols = settings["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert settings["retention"] == "168h"
    assert values["persistence"]["enabled"] is True
    generator = settings["metricsGenerator"]
    assert generator["enabled"] is True
    write_url = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090/api/v1/write"
    assert generator["remoteWriteUrl"] == write_url
    assert generator["storage"]["remote_write"] == [{"url": write_url, "send_exemplars": True}]
    assert generator["storage"]["path"].startswith(tempo.DATA_DIR)
    processors = settings["overrides"]["defaults"]["metrics_generator"]["processors"]
    assert {"service-graphs", "span-metrics"} <= set(processors)
    assert values["serviceMonitor"]["enabled"] is True


# --- DCGM-Exporter -----------------------------------------------------------------------------------



def test_dcgm_exporter_is_scraped_as_its_own_job_with_pod_attribution(dev_program):
    values = values_of(dev_program, "dcgm-exporter")
    monitor = values["serviceMonitor"]
    assert monitor["enabled"] is True and monitor["honorLabels"] is False
    assert {"action": "replace", "targetLabel": "job", "replacement": "dcgm-exporter"} in monitor["relabelings"]
    assert values["image"]["tag"] == f"{versions.DCGM_EXPORTER_IMAGE.tag}@{versions.DCGM_EXPORTER_IMAGE.digest}"


def _counters_file_as_mounted(values: dict) -> str:
    """/etc/dcgm-exporter/default-counters.csv in the pod: the chart (4.8.2) renders customMetrics into its
    ConfigMap as `metrics: |{{- .Values.customMetrics | nindent 4 }}`, and its default volume mounts that key there."""
    rendered = "data:\n  metrics: |" + ("\n" + values["customMetrics"]).replace("\n", "\n    ")
    return yaml.safe_load(rendered)["data"]["metrics"]


def test_dcgm_exporter_reads_its_counters_file_without_error(dev_program):
    """The exporter's own reader rules (tests/dcgm_counters_reader.py: dcgm-exporter 4.5.3-4.8.2
    internal/pkg/counters/counter_config.go) accept every row: 3 fields, a known type, a known DCGM field."""
    counters = read_counters(_counters_file_as_mounted(values_of(dev_program, "dcgm-exporter")))
    assert [name for name, _, _ in counters] == list(signals_catalogue.DCGM_COUNTERS)
    assert all(help_text for _, _, help_text in counters)


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("DCGM_FI_DEV_FB_USED, gauge, GPU memory in use, MiB.", "expected 3 fields"),
        ('DCGM_FI_DEV_FB_USED, gauge, "GPU memory in use, MiB."', "bare"),
        ("DCGM_FI_DEV_FB_USED, gauges, GPU memory in use", "Prometheus metric type"),
        ("DCGM_FI_DEV_FB_USE, gauge, GPU memory in use", "DCGM field"),
    ],
)
def test_the_counters_reader_rejects_what_the_exporter_rejects(row, error):
    with pytest.raises(CountersError, match=error):
        read_counters(f"# a comment, with commas\n\n{row}\n")


def test_exactly_one_device_plugin_the_minikube_addon(dev_program):
    charts = set(releases(dev_program))
    assert not charts & {"nvidia-device-plugin", "gpu-operator"}
    assert not [r for r in dev_program.resources if r.type == "kubernetes:apps/v1:DaemonSet"]
    start = (ROOT / "components" / "scripts" / "start-minikube.sh").read_text()
    assert "--gpus=all" in start


# --- OpenTelemetry Collector -------------------------------------------------------------------------


def test_collector_runs_contrib_as_a_deployment_named_otel_collector(dev_program):
    values = values_of(dev_program, "opentelemetry-collector")
    assert values["mode"] == "deployment"
    assert values["fullnameOverride"] == "otel-collector"
    assert values["image"]["repository"].endswith("otel/opentelemetry-collector-contrib")
    assert values["image"]["tag"] == versions.OPENTELEMETRY_COLLECTOR.app_version


def test_collector_metrics_are_scraped_own_telemetry_as_its_job_app_metrics_with_honor_labels(dev_program):
    values = values_of(dev_program, "opentelemetry-collector")
    endpoints = {e["port"]: e for e in values["serviceMonitor"]["metricsEndpoints"]}
    assert values["serviceMonitor"]["enabled"] is True
    assert "honorLabels" not in endpoints["metrics"]
    assert endpoints[otel_collector.EXPORTER_PORT_NAME]["honorLabels"] is True
    assert values["ports"]["metrics"]["containerPort"] == otel_collector.TELEMETRY_PORT
    assert values["ports"][otel_collector.EXPORTER_PORT_NAME]["containerPort"] == otel_collector.EXPORTER_PORT
    config = values["alternateConfig"]
    assert config["exporters"]["prometheus"]["endpoint"].endswith(f":{otel_collector.EXPORTER_PORT}")
    reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    assert reader["port"] == otel_collector.TELEMETRY_PORT


def test_collector_k8s_attributes_has_the_rbac_it_needs(dev_program):
    values = values_of(dev_program, "opentelemetry-collector")
    assert values["clusterRole"]["create"] is True
    granted = {(group, resource) for rule in values["clusterRole"]["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] if {"get", "list", "watch"} <= set(rule["verbs"])}
    assert {("", "pods"), ("", "namespaces"), ("apps", "replicasets")} <= granted


def test_collector_span_metrics_have_the_contract_names_and_exemplars(dev_program):
    connector = values_of(dev_program, "opentelemetry-collector")["alternateConfig"]["connectors"]["span_metrics"]
    assert connector["namespace"] == "traces.span.metrics"
    assert connector["histogram"]["unit"] == "s"
    assert connector["exemplars"]["enabled"] is True
    # The shield-violation panel reads this span attribute as a label.
    assert connector["dimensions"] == [{"name": name} for name in signals_catalogue.SPANMETRICS_DIMENSIONS]


def test_collector_sends_traces_to_tempo(dev_program):
    exporters = values_of(dev_program, "opentelemetry-collector")["alternateConfig"]["exporters"]
    assert exporters["otlp_grpc/tempo"]["endpoint"] == "tempo.monitoring.svc.cluster.local:4317"


# --- Access ------------------------------------------------------------------------------------------


def test_nothing_is_exposed_beyond_cluster_ip(dev_program, webhook_program):
    for program in (dev_program, webhook_program):
        for resource in program.resources:
            if not resource.type.startswith("kubernetes:"):
                continue
            for path, value in walk(resource.inputs):
                where = f"{resource.name}: {'.'.join(path)}"
                assert value not in ("LoadBalancer", "NodePort"), where
                assert not (path and path[-1] in {"nodePort", "hostPort", "hostNetwork"} and value), where
                if path and path[-1] == "type" and len(path) >= 2 and path[-2] == "service":
                    assert value == "ClusterIP", where


def test_main_services_are_declared_cluster_ip_explicitly(dev_program):
    kps = values_of(dev_program, KPS)
    for dotted in ("prometheus.service.type", "alertmanager.service.type", "grafana.service.type",
                   "prometheusOperator.service.type"):
        assert dig(kps, dotted) == "ClusterIP"
    for chart in ("tempo", "opentelemetry-collector", "dcgm-exporter"):
        assert values_of(dev_program, chart)["service"]["type"] == "ClusterIP"


def test_outputs_give_the_tunnel_the_port_forwards_and_the_otlp_endpoints(dev_program):
    outputs = dev_program.outputs
    assert outputs["tunnelCommand"] == "scripts/tunnel.sh dev"
    assert outputs["otlpGrpcEndpoint"] == "otel-collector.monitoring.svc.cluster.local:4317"
    assert outputs["otlpHttpEndpoint"] == "http://otel-collector.monitoring.svc.cluster.local:4318"
    assert outputs["monitoringNamespace"] == "monitoring"
    forwards = outputs["portForwardCommands"]
    assert set(forwards) == {"grafana", "prometheus", "alertmanager", "tempo"}
    assert "svc/grafana 3000:80" in forwards["grafana"]
    assert "svc/kube-prometheus-stack-prometheus 9090:9090" in forwards["prometheus"]
    assert "svc/kube-prometheus-stack-alertmanager 9093:9093" in forwards["alertmanager"]
    assert "svc/tempo 3200:3200" in forwards["tempo"]
    assert all("--address 127.0.0.1" in command for command in forwards.values())
    assert "umask 077" in outputs["kubeconfigCommand"]
    assert outputs["grafanaUrl"] == "http://localhost:3000"


def test_component_service_names_match_the_releases():
    assert metrics_stack.PROMETHEUS_SERVICE == f"{metrics_stack.RELEASE_NAME}-prometheus"
    assert metrics_stack.ALERTMANAGER_SERVICE == f"{metrics_stack.RELEASE_NAME}-alertmanager"
    # kube-prometheus-stack shortens its full name to 26 characters.
    assert len(metrics_stack.RELEASE_NAME) <= 26


def test_reference_charts_are_the_pinned_versions_defaults():
    """The reference values are the charts' newest release; the pins must be those releases."""
    kps = chart_reference(KPS)
    assert kps["prometheus"]["prometheusSpec"]["image"]["tag"] == versions.PROMETHEUS_IMAGE.tag
    assert kps["alertmanager"]["alertmanagerSpec"]["image"]["tag"] == versions.ALERTMANAGER_IMAGE.tag
    assert chart_reference("dcgm-exporter")["image"]["tag"] == versions.DCGM_EXPORTER_IMAGE.tag


# --- Other cluster backends --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eks_program() -> Program:
    return run_program("dev", {"clusterBackend": "eks", "gpuNodes": 2})


def test_on_eks_the_stack_runs_on_the_system_nodes_and_dcgm_on_the_gpu_nodes(eks_program):
    from components.cluster import GPU_NODE_LABELS, GPU_TOLERATIONS, SYSTEM_NODE_LABELS

    system = dict(SYSTEM_NODE_LABELS)
    kps = values_of(eks_program, KPS)
    for dotted in ("prometheus.prometheusSpec", "alertmanager.alertmanagerSpec", "prometheusOperator",
                   "prometheusOperator.admissionWebhooks.patch", "grafana", "kube-state-metrics"):
        assert dig(kps, dotted)["nodeSelector"] == system, dotted
    for chart in ("tempo", "opentelemetry-collector"):
        assert values_of(eks_program, chart)["nodeSelector"] == system, chart
    dcgm = values_of(eks_program, "dcgm-exporter")
    assert dcgm["nodeSelector"] == dict(GPU_NODE_LABELS)
    assert all(dict(t) in dcgm["tolerations"] for t in GPU_TOLERATIONS)
    assert dcgm_exporter.CONTROL_PLANE_TOLERATION in dcgm["tolerations"]
    assert kps["prometheus-node-exporter"]["tolerations"] == [dict(t) for t in GPU_TOLERATIONS]


def test_on_eks_volumes_use_the_backends_storage_class(eks_program):
    kps = values_of(eks_program, KPS)
    claim = kps["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3"
    assert kps["grafana"]["persistence"]["storageClassName"] == "gp3"
    assert values_of(eks_program, "tempo")["persistence"]["storageClassName"] == "gp3"


def test_on_minikube_nothing_is_pinned_to_node_pools(dev_program):
    for release in dev_program.of_type(RELEASE_TYPE):
        for path, _ in walk(release.inputs.get("values", {})):
            assert not path or path[-1] != "nodeSelector", f"{release.name}: {'.'.join(path)}"
