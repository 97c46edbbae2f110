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


def test_llama_stack_env_names_include_its_run_config_placeholders():
    sources = ['import os\nport = int(os.getenv("LLAMA_STACK_PORT", 8321))\n',
               'SAMPLE = {"url": "${env.VLLM_URL:=http://localhost:8000/v1}", "key": "${env.VLLM_API_TOKEN}"}\n']
    assert refresh.package_env_names(sources) == ["LLAMA_STACK_PORT", "VLLM_API_TOKEN", "VLLM_URL"]


def test_llama_stack_histograms_carry_the_bounds_they_are_created_with_or_the_sdk_defaults():
    constants = 'prefix = "llama_stack"\nDURATION = f"{prefix}.inference.duration_seconds"\n'
    metrics = '''
_BUCKETS = [0.005, 0.5, 60.0]
a = meter.create_histogram(name=DURATION, unit="s")
b = meter.create_histogram(name="llama_stack.vector_io.retrieval_duration_seconds", unit="s",
                           explicit_bucket_boundaries_advisory=_BUCKETS)
c = meter.create_histogram("llama_stack.tokens", explicit_bucket_boundaries_advisory=[1, 10])
d = meter.create_counter(name="llama_stack.requests_total", unit="1")
'''
    assert refresh.llama_stack_histograms([constants, metrics]) == [
        "llama_stack.inference.duration_seconds\ts\tsdk-default",
        "llama_stack.tokens\t-\t1,10",
        "llama_stack.vector_io.retrieval_duration_seconds\ts\t0.005,0.5,60",
    ]


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
        # The image digests are read by hand from public pins; the script that checks them is named instead.
        how = "Check: scripts/verify-image-digests.py" if path.name == "image-digests.txt" else "Regenerate: scripts/refresh-reference.py"
        assert any(how in line for line in header), path
