"""The collector's configuration as a whole: every component used is defined, every defined one used."""

from __future__ import annotations

from components import otel_collector
from tests.platform_support import values_of

KINDS = ("receivers", "processors", "exporters", "connectors")
# Deprecated aliases of the lower_snake_case names the pinned collector (0.158) uses.
DEPRECATED_NAMES = {"k8sattributes", "spanmetrics", "otlphttp", "memorylimiter"}


def _config(program) -> dict:
    return values_of(program, "opentelemetry-collector")["alternateConfig"]


def _used(config: dict) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    connectors = set(config.get("connectors", {}))
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for name in pipeline.get(kind, []):
                used["connectors" if name in connectors and kind != "processors" else kind].add(name)
    return used


def test_every_component_in_a_pipeline_is_defined_and_every_defined_one_is_used(dev_program):
    config = _config(dev_program)
    used = _used(config)
    for kind in KINDS:
        assert used[kind] == set(config.get(kind, {})), kind
    assert set(config["service"]["extensions"]) == set(config["extensions"])


def test_connectors_join_a_pipeline_that_exports_to_them_and_one_that_receives_from_them(dev_program):
    config = _config(dev_program)
    pipelines = config["service"]["pipelines"].values()
    for connector in config["connectors"]:
        assert any(connector in p.get("exporters", []) for p in pipelines)
        assert any(connector in p.get("receivers", []) for p in pipelines)


def test_each_pipeline_limits_memory_first_and_batches_last(dev_program):
    for name, pipeline in _config(dev_program)["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name
        assert "k8s_attributes" in pipeline["processors"], name


def test_pipelines_route_traces_to_tempo_and_metrics_to_prometheus(dev_program):
    pipelines = _config(dev_program)["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics"}
    assert pipelines["traces"]["receivers"] == ["otlp"]
    assert set(pipelines["traces"]["exporters"]) == {"otlp_grpc/tempo", "span_metrics"}
    assert set(pipelines["metrics"]["receivers"]) == {"otlp", "span_metrics"}
    assert pipelines["metrics"]["exporters"] == ["prometheus"]


def test_component_names_are_the_current_ones(dev_program):
    config = _config(dev_program)
    for kind in KINDS:
        for name in config.get(kind, {}):
            assert name.split("/")[0] not in DEPRECATED_NAMES, name
    assert not {name.split("/")[0] for name in config["exporters"]} & {"otlp", "debug"}


def test_only_the_receivers_ports_and_the_metrics_ports_are_open(dev_program):
    values = values_of(dev_program, "opentelemetry-collector")
    protocols = values["alternateConfig"]["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(f":{otel_collector.OTLP_GRPC_PORT}")
    assert protocols["http"]["endpoint"].endswith(f":{otel_collector.OTLP_HTTP_PORT}")
    ports = values["ports"]
    for name in otel_collector.UNUSED_DEFAULT_PORTS:
        assert ports[name] == {"enabled": False}
    # The chart's otlp and otlp-http ports stay on by default.
    assert "otlp" not in ports and "otlp-http" not in ports
