"""The collector's configuration as a whole: every component used is defined, every defined one used."""

from __future__ import annotations

import pytest

from components import judge_sampler, otel_collector
from tests import ottl
from tests.harness import run_program
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
    assert set(pipelines) == {"traces", "metrics", otel_collector.JUDGE_SAMPLER_PIPELINE}
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


def test_the_judge_sampler_branch_filters_the_same_traces_before_its_own_exporter(dev_program):
    config = _config(dev_program)
    branch = config["service"]["pipelines"][otel_collector.JUDGE_SAMPLER_PIPELINE]
    assert branch["receivers"] == config["service"]["pipelines"]["traces"]["receivers"]
    assert branch["processors"][1] == otel_collector.JUDGE_SAMPLER_FILTER
    assert branch["exporters"] == [otel_collector.JUDGE_SAMPLER_EXPORTER]
    assert config["exporters"][otel_collector.JUDGE_SAMPLER_EXPORTER] == {"endpoint": judge_sampler.endpoint("llm")}
    # Tempo and the span metrics still get every span.
    assert otel_collector.JUDGE_SAMPLER_FILTER not in config["service"]["pipelines"]["traces"]["processors"]


@pytest.mark.parametrize("overrides", [{"traceContent": False}, {"judgeSampleShare": "0"}])
def test_no_branch_and_no_sampler_without_trace_content_or_a_judge_share(overrides):
    program = run_program("dev", overrides)
    config = values_of(program, "opentelemetry-collector")["alternateConfig"]
    assert otel_collector.JUDGE_SAMPLER_PIPELINE not in config["service"]["pipelines"]
    assert otel_collector.JUDGE_SAMPLER_FILTER not in config["processors"]
    assert not [r for r in program.of_type("kubernetes:apps/v1:Deployment")
                if r.inputs["metadata"]["name"] == judge_sampler.NAME]


def test_the_filter_conditions_are_ottl_the_filter_processor_reads(dev_program):
    """Each condition parses in the OTTL subset tests/ottl.py takes from the contrib sources at 0.158, and
    the processor uses the `traces.span` form with errors ignored."""
    processor = _config(dev_program)["processors"][otel_collector.JUDGE_SAMPLER_FILTER]
    assert processor["error_mode"] == "ignore" and set(processor["traces"]) == {"span"}
    for condition in processor["traces"]["span"]:
        ottl.condition(condition)


@pytest.mark.parametrize("condition", [
    'attributes["a"] = "b"', 'span_name == "x"', 'trace_state["a"]["b"] == "c"', 'attributes["a"] == b"',
    'IsMatch(attributes["a"])',
])
def test_the_ottl_reader_refuses_what_it_does_not_know(condition):
    with pytest.raises(ValueError):
        ottl.condition(condition)
