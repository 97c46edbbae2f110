"""Every value key the program sets exists in its chart: Helm silently ignores a key a chart never reads.

Checked against the default values.yaml (and values.schema.json where the chart has one) of the pinned
chart version in tests/reference/charts/<chart>/. Keys whose default is an empty map are free-form (a Kubernetes
object, an application's own config): each is named below with the keys it may hold.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import jsonschema
import pytest

from stack import versions
from tests.platform_support import REFERENCE_CHARTS, chart_reference, values_of

Path_ = tuple[str, ...]
Checker = Callable[[Any, Path_], list[str]]

RESOURCE_KEYS = {"requests": {"cpu", "memory", "ephemeral-storage"}, "limits": {"cpu", "memory", "ephemeral-storage"}}
PVC_SPEC_KEYS = {"accessModes", "resources", "storageClassName", "selector", "volumeMode"}


def _keys_within(allowed: set[str]) -> Checker:
    def check(value: Any, path: Path_) -> list[str]:
        if not isinstance(value, dict):
            return [f"{'.'.join(path)}: expected a map"]
        return [f"{'.'.join(path)}.{key}: not one of {sorted(allowed)}" for key in value if key not in allowed]

    return check


def _resources(value: Any, path: Path_) -> list[str]:
    problems = _keys_within(set(RESOURCE_KEYS))(value, path)
    for kind, quantities in value.items():
        if kind in RESOURCE_KEYS:
            problems += _keys_within(RESOURCE_KEYS[kind])(quantities, (*path, kind))
    return problems


def _labels(value: Any, path: Path_) -> list[str]:
    return [f"{'.'.join(path)}.{k}: a node label maps a string to a string" for k, v in value.items()
            if not isinstance(k, str) or not isinstance(v, str)]


def _storage_spec(value: Any, path: Path_) -> list[str]:
    problems = _keys_within({"volumeClaimTemplate"})(value, path)
    template = value.get("volumeClaimTemplate", {})
    problems += _keys_within({"spec", "metadata"})(template, (*path, "volumeClaimTemplate"))
    problems += _keys_within(PVC_SPEC_KEYS)(template.get("spec", {}), (*path, "volumeClaimTemplate", "spec"))
    return problems


def _any(value: Any, path: Path_) -> list[str]:
    return []


# Free-form maps per chart: path -> what may be in it. A key path ending in "resources" whose default
# is an empty map is a container's requests/limits everywhere.
FREE_FORM: dict[str, dict[Path_, Checker]] = {
    "kube-prometheus-stack": {
        ("prometheus", "prometheusSpec", "storageSpec"): _storage_spec,
        ("alertmanager", "alertmanagerSpec", "storage"): _storage_spec,
        # The StatefulSet field of Kubernetes (values.yaml documents both keys in a comment).
        ("prometheus", "prometheusSpec", "persistentVolumeClaimRetentionPolicy"): _keys_within(
            {"whenDeleted", "whenScaled"}
        ),
        ("alertmanager", "alertmanagerSpec", "persistentVolumeClaimRetentionPolicy"): _keys_within(
            {"whenDeleted", "whenScaled"}
        ),
        # The Prometheus CRD's exemplars field (values.yaml documents maxSize in a comment).
        ("prometheus", "prometheusSpec", "exemplars"): _keys_within({"maxSize"}),
        # Alertmanager's own configuration file.
        ("alertmanager", "config"): _keys_within(
            {"global", "route", "receivers", "inhibit_rules", "templates", "time_intervals"}
        ),
    },
    "tempo": {
        # Tempo's metrics_generator.registry and .processor blocks (Tempo's configuration reference).
        ("tempo", "metricsGenerator", "registry"): _keys_within(
            {"collection_interval", "external_labels", "stale_duration", "max_label_name_length",
             "max_label_value_length"}
        ),
        ("tempo", "metricsGenerator", "processor"): _keys_within(
            {"service_graphs", "span_metrics", "local_blocks", "host_info"}
        ),
        # Tempo's per-tenant overrides, default block.
        ("tempo", "overrides", "defaults"): _keys_within({"metrics_generator", "ingestion", "global", "read"}),
    },
    "opentelemetry-collector": {
        # The collector's own configuration: checked as a pipeline by test_otel_collector_config.py.
        ("alternateConfig",): _any,
        # A port of our own (the prometheus exporter's); ports is a map of name -> port in the schema.
        ("ports", "app-metrics"): _keys_within(
            {"enabled", "containerPort", "servicePort", "hostPort", "nodePort", "protocol", "appProtocol"}
        ),
    },
    "dcgm-exporter": {},
}
# Keys a chart's templates read that its values.yaml does not declare.
TEMPLATE_ONLY_KEYS: dict[str, dict[Path_, str]] = {
    "kube-prometheus-stack": {
        ("grafana", "fullnameOverride"): "grafana's templates/_helpers.tpl (grafana.fullname) reads it",
        ("grafana", "persistence", "storageClassName"): "grafana's templates/pvc.yaml reads it (commented in values)",
    },
    "tempo": {
        ("persistence", "storageClassName"): "templates/statefulset.yaml's volumeClaimTemplates read it",
    },
    "dcgm-exporter": {
        ("customMetrics",): "templates/metrics-configmap.yaml renders .Values.customMetrics as the counters CSV",
    },
}
# Subcharts of kube-prometheus-stack: their own defaults, under the parent's overrides.
KPS_SUBCHARTS = ("grafana", "kube-state-metrics", "prometheus-node-exporter")


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = _deep_merge(merged.get(key), value) if key in merged else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _same_kind(default: Any, value: Any) -> bool:
    if default is None or value is None:
        return True
    kinds = (bool, (int, float), str, list, dict)
    return any(isinstance(default, k) and isinstance(value, k) for k in kinds) and (
        isinstance(default, bool) == isinstance(value, bool)
    )


def unknown_keys(chart: str, values: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    free_form = FREE_FORM.get(chart, {})
    template_only = TEMPLATE_ONLY_KEYS.get(chart, {})
    problems: list[str] = []

    def visit(node: dict[str, Any], default: Any, path: Path_) -> None:
        for key, value in node.items():
            here = (*path, key)
            where = ".".join(here)
            if here in template_only:
                continue
            if here in free_form:
                problems.extend(free_form[here](value, here))
                continue
            if not isinstance(default, dict) or key not in default:
                problems.append(f"{where}: not a key of the chart")
                continue
            known = default[key]
            if not _same_kind(known, value):
                problems.append(f"{where}: {type(value).__name__} where the chart has {type(known).__name__}")
            elif isinstance(value, dict):
                if key == "resources" and not known:
                    problems.extend(_resources(value, here))
                elif key == "nodeSelector" and not known:
                    problems.extend(_labels(value, here))
                elif known:
                    visit(value, known, here)
                elif value:
                    problems.append(f"{where}: the chart's default is an empty map; declare it free-form")

    visit(values, defaults, ())
    return problems


def _kps_defaults() -> dict[str, Any]:
    defaults = chart_reference("kube-prometheus-stack")
    for subchart in KPS_SUBCHARTS:
        defaults[subchart] = _deep_merge(chart_reference(subchart), defaults.get(subchart) or {})
    return defaults


@pytest.fixture(scope="module")
def eks_program():
    from tests.harness import run_program

    return run_program("dev", {"clusterBackend": "eks", "gpuNodes": 2})


@pytest.mark.parametrize("backend", ["minikube", "eks"])
@pytest.mark.parametrize("chart", [chart.name for chart in versions.PLATFORM_CHARTS])
def test_every_value_key_exists_in_the_chart(request, backend, chart):
    program = request.getfixturevalue("dev_program" if backend == "minikube" else "eks_program")
    values = values_of(program, chart)
    if not values:
        return
    if chart == "kube-prometheus-stack":
        defaults = _kps_defaults()
    else:
        defaults = chart_reference(chart)
    assert unknown_keys(chart, values, defaults) == []


# The platform charts that ship a values.schema.json at the pinned version (scripts/refresh-reference.py
# keeps one wherever the chart has it).
SCHEMA_CHARTS = [c.name for c in versions.PLATFORM_CHARTS if (REFERENCE_CHARTS / c.name / "values.schema.json").exists()]


def test_the_schema_check_covers_the_charts_that_ship_a_schema():
    assert SCHEMA_CHARTS == [versions.OPENTELEMETRY_COLLECTOR.name]


@pytest.mark.parametrize("chart", SCHEMA_CHARTS)
def test_values_validate_against_the_charts_schema(dev_program, chart):
    schema = chart_reference(chart, "values.schema.json")
    merged = _deep_merge(chart_reference(chart), values_of(dev_program, chart))
    jsonschema.validate(merged, schema)


def test_the_key_check_catches_a_misspelt_key():
    defaults = {"prometheus": {"prometheusSpec": {"retention": "10d", "resources": {}}}}
    assert unknown_keys("kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"retension": "7d"}}}, defaults) == [
        "prometheus.prometheusSpec.retension: not a key of the chart"
    ]
    assert unknown_keys(
        "kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"resources": {"request": {"cpu": "1"}}}}}, defaults
    ) == ["prometheus.prometheusSpec.resources.request: not one of ['limits', 'requests']"]
    assert unknown_keys("tempo", {"a": {"b": 1}}, {"a": {}}) == [
        "a: the chart's default is an empty map; declare it free-form"
    ]


def test_a_storage_class_is_set_through_keys_the_charts_read():
    from dataclasses import replace

    from components.metrics_stack import MetricsStackArgs, metrics_stack_values
    from components.tempo import TempoArgs, tempo_values
    from stack.platform import METRICS_STACK_IMAGES

    metrics_args = MetricsStackArgs(
        namespace="monitoring", chart=versions.KUBE_PROMETHEUS_STACK, images=METRICS_STACK_IMAGES, retention="15d",
        retention_size="40GB", prometheus_volume_gib=50, alert_receiver="none", alert_receiver_url=None,
        tempo_query_url="http://tempo:3200", storage_class="gp3",
    )
    metrics = metrics_stack_values(metrics_args)
    assert metrics["grafana"]["persistence"]["storageClassName"] == "gp3"
    claim = metrics["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3"
    assert unknown_keys("kube-prometheus-stack", metrics, _kps_defaults()) == []
    assert "storageClassName" not in metrics_stack_values(replace(metrics_args, storage_class=None))["grafana"]["persistence"]
    traces = tempo_values(TempoArgs(
        namespace="monitoring", chart=versions.TEMPO, image=versions.TEMPO_IMAGE, retention="168h", volume_gib=20,
        prometheus_remote_write_url="http://p:9090/api/v1/write", storage_class="gp3",
    ))
    assert traces["persistence"]["storageClassName"] == "gp3"
    assert unknown_keys("tempo", traces, chart_reference("tempo")) == []
