"""A real Prometheus applies the simulator PodMonitor's metric relabellings to what the simulator exposes.

The exporter below serves the names and labels llm-d-inference-sim v0.10.2 registers (its
pkg/llm-d-inference-sim/metrics.go); after relabelling, the series must carry vLLM 0.33's names and
labels, which the dashboards query.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
import yaml

from components.model_serving import SIMULATOR_METRIC_FAMILIES, metric_relabelings
from tests.conftest import require_tool
from tests.platform_support import REFERENCE

SIMULATOR_EXPOSITION = """\
# TYPE vllm:prefix_cache_hits counter
vllm:prefix_cache_hits{model_name="m"} 30
# TYPE vllm:prefix_cache_queries counter
vllm:prefix_cache_queries{model_name="m"} 100
# TYPE vllm:request_success_total counter
vllm:request_success_total{finish_reason="stop",model_name="m"} 7
# TYPE vllm:max_num_generation_tokens histogram
vllm:max_num_generation_tokens_bucket{model_name="m",le="+Inf"} 7
vllm:max_num_generation_tokens_sum{model_name="m"} 70
vllm:max_num_generation_tokens_count{model_name="m"} 7
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 2
"""


def _snake(rule: dict) -> dict:
    """prometheus-operator's camelCase relabel fields, as Prometheus' own config spells them."""
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return {names.get(key, key): value for key, value in rule.items()}


class _Exporter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = SIMULATOR_EXPOSITION.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _query(port: int, promql: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]


@pytest.fixture(scope="module")
def relabelled(tmp_path_factory) -> int:
    prometheus = require_tool("prometheus")
    exporter = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    Thread(target=exporter.serve_forever, daemon=True).start()
    directory = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "vllm",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter.server_address[1]}"]}],
                "metric_relabel_configs": [_snake(rule) for rule in metric_relabelings(simulated=True)],
            }
        ],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    server = subprocess.Popen(
        [prometheus, f"--config.file={directory / 'prometheus.yml'}", f"--storage.tsdb.path={directory / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _query(port, "vllm:num_requests_running"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)
        exporter.shutdown()


@pytest.mark.parametrize(
    "promql, labels",
    [
        ("vllm:prefix_cache_hits_total", {"model_name": "m", "engine": "0"}),
        ("vllm:prefix_cache_queries_total", {"model_name": "m", "engine": "0"}),
        ("vllm:request_success_total", {"model_name": "m", "engine": "0", "finished_reason": "stop"}),
        ("vllm:request_max_num_generation_tokens_count", {"model_name": "m", "engine": "0"}),
        ("vllm:num_requests_running", {"model_name": "m", "engine": "0"}),
    ],
)
def test_simulator_series_carry_vllms_names_and_labels(relabelled, promql, labels):
    [series] = _query(relabelled, promql)
    metric = series["metric"]
    assert labels.items() <= metric.items()
    assert "finish_reason" not in metric


def test_the_simulators_own_names_are_gone(relabelled):
    assert _query(relabelled, '{__name__=~"vllm:prefix_cache_hits|vllm:max_num_generation_tokens_count"}') == []


VLLM_CATALOGUE = REFERENCE / "metrics" / "vllm.txt"


def test_every_family_the_simulator_provides_is_a_vllm_0_33_family():
    families = {line.split("\t")[0] for line in VLLM_CATALOGUE.read_text().splitlines() if line.startswith("vllm:")}
    assert set(SIMULATOR_METRIC_FAMILIES) - families == set()
