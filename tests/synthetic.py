"""Synthetic exporters speaking the exact names, labels and bucket layouts of the pinned versions.

One model of a small deployment (4 vLLM engines serving 2 models on 4 GPUs, DCGM-Exporter, the llm-d
EPP, the collector's and Tempo's own telemetry), plus the collector's prometheus exporter serving what
the real Llama Stack server and the real workload emitted (tests/collector_translation.py replays a
capture of tests/real_stack.py: nothing of it is invented here), usable two ways:
- ``serve()``: one loopback HTTP server; each scrape target selects its series with ``?target=``,
  and Prometheus attaches job/instance/namespace/pod/container as the Kubernetes scrape would
  (honor_labels false renames DCGM's workload labels to exported_*; the collector's exporter is
  scraped with honor_labels true, so job = the sending service).
- ``openmetrics()``: the same series as they land in the TSDB, for `promtool tsdb
  create-blocks-from openmetrics` (the benchmark's day of data).
Values are smooth functions of time, so counters only grow and gauges move.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlparse

Sample = tuple[str, dict[str, str], float]

# vLLM 0.33 bucket layouts (vllm/v1/metrics/buckets.py); request_tokens for max_model_len 32768.
TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
        80.0, 160.0, 640.0, 2560.0)
ITL = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
REQUEST_LATENCY = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
                   480.0, 960.0, 1920.0, 7680.0)
REQUEST_TOKENS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
ITERATION_TOKENS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
EPP_REQUEST = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120,
               180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600)
EPP_SCHEDULER = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
MODELS = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct")


def _python_le(bound: float) -> str:
    return repr(float(bound))  # prometheus_client writes 1.0, 0.5


def _go_le(bound: float) -> str:
    return f"{bound:g}"  # client_golang writes 1, 0.5


def histogram(name: str, labels: dict[str, str], count: float, scale: float, bounds, fmt=_python_le) -> list[Sample]:
    """Cumulative buckets of an exponential distribution with mean ``scale``."""
    out = [(f"{name}_bucket", {**labels, "le": fmt(b)}, count * (1 - math.exp(-b / scale))) for b in bounds]
    out.append((f"{name}_bucket", {**labels, "le": "+Inf"}, count))
    out.append((f"{name}_count", labels, count))
    out.append((f"{name}_sum", labels, count * scale))
    return out


def _wave(t: float, period: float, low: float, high: float, phase: float = 0.0) -> float:
    return low + (high - low) * (0.5 + 0.5 * math.sin(2 * math.pi * t / period + phase))


def vllm_engine(index: int, t: float) -> list[Sample]:
    base = {"model_name": MODELS[index % 2], "engine": "0"}
    rps = 2.0 + index * 0.5
    n = rps * t
    out: list[Sample] = [
        ("vllm:num_requests_running", base, round(_wave(t, 600, 2, 30, index))),
        ("vllm:num_requests_waiting", base, round(_wave(t, 900, 0, 12, index))),
        ("vllm:num_requests_waiting_by_reason", {**base, "reason": "capacity"}, round(_wave(t, 900, 0, 8, index))),
        ("vllm:num_requests_waiting_by_reason", {**base, "reason": "deferred"}, round(_wave(t, 900, 0, 4, index))),
        ("vllm:kv_cache_usage_perc", base, _wave(t, 1200, 0.2, 0.95, index)),
        ("vllm:prefix_cache_queries_total", base, 900 * n),
        ("vllm:prefix_cache_hits_total", base, 300 * n),
        ("vllm:num_preemptions_total", base, 0.01 * n),
        ("vllm:prompt_tokens_total", base, 900 * n),
        ("vllm:generation_tokens_total", base, 250 * n),
    ]
    for reason, share in (("stop", 0.9), ("length", 0.07), ("abort", 0.02), ("error", 0.005), ("repetition", 0.005)):
        out.append(("vllm:request_success_total", {**base, "finished_reason": reason}, share * n))
    out += histogram("vllm:time_to_first_token_seconds", base, n, 0.15 + 0.05 * index, TTFT)
    out += histogram("vllm:inter_token_latency_seconds", base, 250 * n, 0.03, ITL)
    out += histogram("vllm:e2e_request_latency_seconds", base, n, 6.0, REQUEST_LATENCY)
    out += histogram("vllm:request_queue_time_seconds", base, n, 0.4, REQUEST_LATENCY)
    out += histogram("vllm:request_prefill_time_seconds", base, n, 0.3, REQUEST_LATENCY)
    out += histogram("vllm:request_decode_time_seconds", base, n, 5.0, REQUEST_LATENCY)
    out += histogram("vllm:request_prompt_tokens", base, n, 900, REQUEST_TOKENS)
    out += histogram("vllm:request_generation_tokens", base, n, 250, REQUEST_TOKENS)
    # The rest of what 0.33 always exports, which we do not chart but the peer dashboards do.
    out += [("vllm:engine_sleep_state", {**base, "sleep_state": s}, float(s == "awake"))
            for s in ("awake", "weights_offloaded", "discard_all")]
    out += [(f"vllm:{c}_total", base, 0.0) for c in ("external_prefix_cache_queries", "external_prefix_cache_hits",
                                                     "mm_cache_queries", "mm_cache_hits", "estimated_flops_per_gpu",
                                                     "estimated_read_bytes_per_gpu", "estimated_write_bytes_per_gpu")]
    out += [("vllm:prompt_tokens_by_source_total", {**base, "source": src}, share * n)
            for src, share in (("local_compute", 600), ("local_cache_hit", 300), ("external_kv_transfer", 0))]
    out.append(("vllm:prompt_tokens_cached_total", base, 300 * n))
    out += [("vllm:prompt_tokens_cached_by_source_total", {**base, "source": src}, 300 * n if src == "device" else 0.0)
            for src in ("device", "host", "p2p", "disk", "external_unspecified")]
    out += [("vllm:admission_rejections_total", {"model_name": base["model_name"], "reason": r}, 0.0)
            for r in ("max_num_queued_reqs", "max_num_queued_tokens")]
    out += histogram("vllm:iteration_tokens_total", base, 20 * n, 256, ITERATION_TOKENS)
    out += histogram("vllm:request_max_num_generation_tokens", base, n, 1000, REQUEST_TOKENS)
    out += histogram("vllm:request_params_n", base, n, 0.3, (1, 2, 5, 10, 20))
    out += histogram("vllm:request_params_max_tokens", base, n, 1000, REQUEST_TOKENS)
    out += histogram("vllm:request_time_per_output_token_seconds", base, n, 0.03, ITL)
    out += histogram("vllm:request_inference_time_seconds", base, n, 5.3, REQUEST_LATENCY)
    out += histogram("vllm:request_num_preemptions", base, n, 0.05, (1, 2, 3, 4, 5, 10, 20))
    out += histogram("vllm:request_prefill_kv_computed_tokens", base, n, 600, REQUEST_TOKENS)
    http = {"handler": "/v1/chat/completions", "method": "POST"}
    out += [("http_requests_total", {**http, "status": status}, share * n) for status, share in (("2xx", 0.99), ("5xx", 0.01))]
    out += histogram("http_request_duration_seconds", http, n, 6.0, (0.1, 0.5, 1))
    return out


def dcgm(t: float, gpus: int = 4) -> list[Sample]:
    out: list[Sample] = []
    for gpu in range(gpus):
        labels = {"gpu": str(gpu), "UUID": f"GPU-4f1c2b7e-000{gpu}", "pci_bus_id": f"00000000:{0x38 + gpu:02X}:00.0",
                  "device": f"nvidia{gpu}", "modelName": "NVIDIA L4", "Hostname": "minikube"}
        # The exporter's own view of the workload; the scrape renames these to exported_*.
        labels |= {"namespace": "llm", "pod": f"vllm-{gpu}", "container": "vllm"}
        util = _wave(t, 600, 20, 95, gpu)
        values = {
            "DCGM_FI_DEV_GPU_UTIL": round(util), "DCGM_FI_DEV_FB_USED": 20500.0, "DCGM_FI_DEV_FB_FREE": 2000.0,
            "DCGM_FI_DEV_POWER_USAGE": 30 + 0.4 * util, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": 5e8 + 60000 * t,
            "DCGM_FI_DEV_GPU_TEMP": 50 + 0.3 * util, "DCGM_FI_DEV_MEMORY_TEMP": 55 + 0.3 * util,
            "DCGM_FI_DEV_SM_CLOCK": 2040.0, "DCGM_FI_DEV_MEM_CLOCK": 6251.0,
            "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": 4.0 if util > 90 else 0.0,
            "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": util / 300, "DCGM_FI_PROF_DRAM_ACTIVE": util / 150,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": util / 100, "DCGM_FI_PROF_SM_ACTIVE": util / 110,
        }
        out += [(name, labels, value) for name, value in values.items()]
        out.append(("DCGM_FI_DEV_XID_ERRORS", {**labels, "err_code": "0", "err_msg": ""}, 0.0))
    return out


def epp(t: float) -> list[Sample]:
    pool = {"name": "llm-d-pool"}
    out: list[Sample] = [
        ("llm_d_epp_ready_endpoints", pool, 4.0),
        ("llm_d_epp_average_queue_size", pool, _wave(t, 900, 0, 6)),
        ("llm_d_epp_average_kv_cache_utilization", pool, _wave(t, 1200, 0.2, 0.9)),
    ]
    for model in MODELS:
        labels = {"model_name": model, "target_model_name": model, "fairness_id": "default", "priority": "0"}
        out.append(("llm_d_epp_request_total", labels, 5 * t))
        out.append(("llm_d_epp_request_error_total", {**labels, "error_code": "ServiceUnavailable"}, 0.01 * t))
        out += histogram("llm_d_epp_request_duration_seconds", labels, 5 * t, 6.0, EPP_REQUEST, _go_le)
    out += histogram("llm_d_epp_scheduler_e2e_duration_seconds", {}, 10 * t, 0.001, EPP_SCHEDULER, _go_le)
    out += histogram("llm_d_epp_plugin_duration_seconds", {"extension_point": "Scorer", "plugin_type": "prefix-cache-scorer",
                     "plugin_name": "prefix-cache-scorer"}, 10 * t, 0.0005, EPP_SCHEDULER, _go_le)
    return out


def collector(t: float) -> list[Sample]:
    own = {"service_name": "otelcol-contrib", "service_instance_id": "6f1d", "service_version": "0.136.0"}
    return [
        ("otelcol_receiver_accepted_spans_total", {**own, "receiver": "otlp", "transport": "grpc"}, 40 * t),
        ("otelcol_receiver_refused_spans_total", {**own, "receiver": "otlp", "transport": "grpc"}, 0.0),
        ("otelcol_exporter_sent_spans_total", {**own, "exporter": "otlp/tempo"}, 40 * t),
        ("otelcol_exporter_send_failed_spans_total", {**own, "exporter": "otlp/tempo"}, 0.0),
        ("otelcol_exporter_enqueue_failed_spans_total", {**own, "exporter": "otlp/tempo"}, 0.0),
        ("otelcol_exporter_queue_size", {**own, "exporter": "otlp/tempo"}, round(_wave(t, 300, 0, 50))),
        ("otelcol_exporter_queue_capacity", {**own, "exporter": "otlp/tempo"}, 1000.0),
    ]


def tempo(t: float) -> list[Sample]:
    return [
        ("tempo_distributor_spans_received_total", {"tenant": "single-tenant"}, 40 * t),
        ("tempo_discarded_spans_total", {"reason": "rate_limited", "tenant": "single-tenant"}, 0.0),
    ]


@dataclass(frozen=True)
class Target:
    """One scrape target: the labels Kubernetes service discovery would attach, and its series."""

    key: str
    job: str
    labels: dict[str, str]
    series: Callable[[float], list[Sample]]
    honor_labels: bool = False


def targets(collector_exporter: Callable[[float], list[Sample]], engines: int = 4) -> list[Target]:
    """Every scrape target; ``collector_exporter`` gives the collector exporter's series at t seconds."""
    out = [
        Target(f"vllm-{i}", "vllm", {"namespace": "llm", "pod": f"vllm-{i}", "container": "vllm",
                                      "instance": f"10.244.0.{10 + i}:8000"}, lambda t, i=i: vllm_engine(i, t))
        for i in range(engines)
    ]
    out += [
        # One GPU per engine (4 engines: the g6.12xlarge's 4 L4s).
        Target("dcgm", "dcgm-exporter", {"namespace": "monitoring", "pod": "dcgm-exporter-x7k2p", "container": "exporter",
                                          "instance": "10.244.0.5:9400", "service": "dcgm-exporter", "endpoint": "metrics"},
               lambda t: dcgm(t, gpus=engines)),
        Target("epp", "llm-d-epp", {"namespace": "llm", "pod": "llm-d-epp-5c9d", "container": "epp",
                                    "instance": "10.244.0.20:9090"}, epp),
        Target("collector-exporter", "otel-collector-exporter", {"namespace": "monitoring", "pod": "otel-collector-0"},
               collector_exporter, honor_labels=True),
        Target("collector", "otel-collector", {"namespace": "monitoring", "pod": "otel-collector-0", "container": "otel-collector",
                                               "instance": "10.244.0.7:8888"}, collector),
        Target("tempo", "tempo", {"namespace": "monitoring", "pod": "tempo-0", "container": "tempo",
                                  "instance": "10.244.0.8:3200"}, tempo),
    ]
    return out


def _labels(labels: dict[str, str]) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}" if labels else ""


def exposition(samples: list[Sample]) -> str:
    return "".join(f"{name}{_labels(labels)} {value!r}\n" for name, labels, value in samples)


def as_stored(target: Target, samples: list[Sample]) -> Iterator[Sample]:
    """The series as Prometheus stores them after the scrape attaches the target's labels."""
    attached = {"job": target.job, **target.labels}
    for name, own, value in samples:
        if target.honor_labels:
            yield name, {**attached, **own}, value
            continue
        merged = dict(own)
        for key, val in attached.items():
            if key in merged:
                merged[f"exported_{key}"] = merged.pop(key)
            merged[key] = val
        yield name, merged, value


def openmetrics(start: float, end: float, step: float, out, collector_exporter: Callable[[float], list[Sample]],
                engines: int = 4) -> int:
    """Write every target's stored series from start to end (unix seconds) as OpenMetrics; return lines."""
    lines = 0
    chosen = targets(collector_exporter, engines)
    t = start
    buffer: list[str] = []
    while t <= end:
        elapsed = t - start + 3600.0  # counters as if the processes started an hour earlier
        for target in chosen:
            for name, labels, value in as_stored(target, target.series(elapsed)):
                buffer.append(f"{name}{_labels(labels)} {value!r} {t:.3f}\n")
            up_labels = {"job": target.job, **target.labels}
            buffer.append(f"up{_labels(up_labels)} 1 {t:.3f}\n")
        if len(buffer) > 50000:
            out.write("".join(buffer))
            lines += len(buffer)
            buffer.clear()
        t += step
    out.write("".join(buffer))
    lines += len(buffer)
    out.write("# EOF\n")
    return lines


@dataclass
class Exporters:
    """The running loopback server and its targets."""

    server: ThreadingHTTPServer
    targets: list[Target] = field(default_factory=list)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(clock: Callable[[], float], collector_exporter: Callable[[float], list[Sample]], engines: int = 4) -> Exporters:
    """Start the exporters on a free loopback port; ``clock()`` gives elapsed seconds."""
    chosen = {target.key: target for target in targets(collector_exporter, engines)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            query = parse_qs(urlparse(self.path).query)
            target = chosen.get((query.get("target") or [""])[0])
            if target is None:
                self.send_error(404)
                return
            body = exposition(target.series(clock() + 3600.0)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Exporters(server, list(chosen.values()))


def scrape_configs(exporters: Exporters, interval: str, dead_port: int) -> list[dict]:
    """Prometheus scrape configs reproducing the Kubernetes scrape's labels for each target, plus
    one unreachable target (so `up == 0` panels and alerts have something to show)."""
    configs = []
    for target in exporters.targets:
        configs.append({
            "job_name": target.key,
            "scrape_interval": interval,
            "honor_labels": target.honor_labels,
            "params": {"target": [target.key]},
            "static_configs": [{"targets": [exporters.address], "labels": target.labels}],
            "relabel_configs": [{"target_label": "job", "replacement": target.job}],
        })
    configs.append({
        "job_name": "node-exporter",
        "scrape_interval": interval,
        "static_configs": [{"targets": [f"127.0.0.1:{dead_port}"]}],
    })
    return configs
