"""scripts/refresh-reference.py reads upstream sources the way their own tools name things (checked here on
small samples; the script runs against the real sources only on a version bump, with network)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.platform_support import REFERENCE, ROOT

_spec = importlib.util.spec_from_file_location("refresh_reference", ROOT / "scripts" / "refresh-reference.py")
refresh = sys.modules["refresh_reference"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refresh)


def test_vllm_env_names_are_the_table_keys_and_every_direct_read():
    envs_py = '''
import os
def get_port():
    if "VLLM_PORT" not in os.environ:
        return None
    return int(os.environ["VLLM_PORT"])
environment_variables: dict = {
    "VLLM_HOST_IP": lambda: os.getenv("VLLM_HOST_IP", ""),
    "VLLM_DO_NOT_TRACK": lambda: os.environ.get("DO_NOT_TRACK", "0") == "1",
    "VLLM_PORT": get_port,
}
'''
    assert refresh.vllm_env_names(envs_py) == ["DO_NOT_TRACK", "VLLM_DO_NOT_TRACK", "VLLM_HOST_IP", "VLLM_PORT"]


@pytest.mark.parametrize(
    ("otel", "unit", "kind", "prometheus"),
    [
        ("llama_stack.requests_total", "1", "counter", "llama_stack_requests_total"),
        ("llama_stack.inference.duration_seconds", "s", "histogram", "llama_stack_inference_duration_seconds"),
        ("http.server.duration", "ms", "histogram", "http_server_duration_milliseconds"),
        ("llama_stack.concurrent_requests", "1", "gauge", "llama_stack_concurrent_requests"),
        ("http.server.active_requests", "{request}", "gauge", "http_server_active_requests"),
        ("app.tool.calls", "{call}", "counter", "app_tool_calls_total"),
    ],
)
def test_otel_names_become_what_the_collectors_prometheus_exporter_exposes(otel, unit, kind, prometheus):
    assert refresh.otel_prometheus_name(otel, unit, kind) == prometheus


def test_go_metric_names_join_namespace_subsystem_and_name_and_skip_names_built_at_run_time():
    go = '''
const Subsystem = "llm_d_epp"
var prefix = "set"
var a = prometheus.NewCounterVec(prometheus.CounterOpts{Subsystem: metrics.Subsystem, Name: "request_total"}, labels)
var b = prometheus.NewHistogramVec(prometheus.HistogramOpts{Subsystem: Subsystem, Name: "x" + "_seconds", Buckets: []float64{1, 2}}, nil)
var c = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "kvcache", Subsystem: old, Name: oldName}, nil)
var d = prometheus.NewDesc("llm_d_epp_per_endpoint_queue_size", "help", nil, nil)
'''
    assert refresh.go_metric_families({"m.go": go}) == {
        "llm_d_epp_request_total": ("counter", "m.go"),
        "llm_d_epp_x_seconds": ("histogram", "m.go"),
        "llm_d_epp_per_endpoint_queue_size": ("gauge", "m.go"),
    }


def test_every_reference_file_says_where_it_comes_from_and_how_to_regenerate_it():
    listed = {line.split("\t")[0] for line in (REFERENCE / "charts" / "SOURCES.txt").read_text().splitlines()
              if not line.startswith("#")}
    assert listed == {path.name for path in (REFERENCE / "charts").iterdir() if path.is_dir()}
    for path in [*REFERENCE.glob("*.txt"), *REFERENCE.glob("metrics/*.txt")]:
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        assert any("Regenerate: scripts/refresh-reference.py" in line for line in header), path
