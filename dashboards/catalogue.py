"""The project's own copy of every exported metric name it queries, by source and pinned version.

Queries may name only these, our recording rules, or the standard Kubernetes/Prometheus series
below; tests/test_signals_queries.py enforces that, and cross-checks this list against the upstream
catalogues kept in tests/reference (DCGM: its field names). The platform stream configures
the DCGM counters CSV and the spanmetrics dimensions from DCGM_COUNTERS and SPANMETRICS_DIMENSIONS.
"""

from __future__ import annotations

import csv
import io

from stack.config.signals import ITL_BUCKETS, REQUEST_LATENCY_BUCKETS, TTFT_BUCKETS

# vLLM 0.33.0 (vllm/v1/metrics/loggers.py), series as exposed by prometheus_client.
VLLM_HISTOGRAMS = (
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:e2e_request_latency_seconds",
    "vllm:request_queue_time_seconds",
    "vllm:request_prefill_time_seconds",
    "vllm:request_decode_time_seconds",
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
    "vllm:request_time_per_output_token_seconds",
    "vllm:iteration_tokens_total",
)
VLLM = (
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:num_requests_waiting_by_reason",
    "vllm:kv_cache_usage_perc",
    "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_hits_total",
    "vllm:num_preemptions_total",
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
    "vllm:request_success_total",
    "vllm:prompt_tokens_by_source_total",
    # vLLM's HTTP server (prometheus_fastapi_instrumentator 8.1.0): no vllm: prefix, status as 2xx/4xx/5xx.
    "http_requests_total",
    *(f"{h}_{suffix}" for h in VLLM_HISTOGRAMS for suffix in ("bucket", "sum", "count")),
)

# The lowest bucket bound of every histogram a quantile is taken of, at the pinned versions' defaults
# (vLLM 0.33 vllm/v1/metrics/buckets.py; Llama Stack 0.7.3's vector_io view; the collector's
# spanmetrics defaults): a quantile under it is interpolated, not measured (promql.quantile drops it).
FIRST_BUCKET = {
    "vllm:time_to_first_token_seconds": TTFT_BUCKETS[0],
    "vllm:inter_token_latency_seconds": ITL_BUCKETS[0],
    "vllm:request_time_per_output_token_seconds": ITL_BUCKETS[0],
    "vllm:e2e_request_latency_seconds": REQUEST_LATENCY_BUCKETS[0],
    "llama_stack_vector_io_retrieval_duration_seconds": 0.005,
    # components/otel_collector.py SPAN_DURATION_BUCKETS, not the connector's 2 ms default.
    "traces_span_metrics_duration_seconds": 0.005,
    # workload/tracing.py TOOL_DURATION_BUCKETS (tests/test_containers.py checks what it sends).
    "workload_tool_duration_seconds": 0.00001,
    # llm-d EPP v0.10.0 (pkg/epp/metrics/llm_d_router_metrics.go).
    "llm_d_epp_request_duration_seconds": 0.005,
    "llm_d_epp_scheduler_e2e_duration_seconds": 0.0001,
    "llm_d_epp_plugin_duration_seconds": 0.0001,
}

# DCGM-Exporter 4.5.3-4.8.2: metric name = DCGM field name. Every counter here must be in the
# counters CSV the platform installs (several are off in the chart's default list).
DCGM_COUNTER_HELP = {  # name -> (Prometheus type, help), as dcgm-exporter's counters CSV wants them
    "DCGM_FI_DEV_GPU_UTIL": ("gauge", "Share of time a kernel was running, percent."),
    "DCGM_FI_DEV_FB_USED": ("gauge", "GPU memory in use, MiB."),
    "DCGM_FI_DEV_FB_FREE": ("gauge", "GPU memory free, MiB."),
    "DCGM_FI_DEV_POWER_USAGE": ("gauge", "Board power, watts."),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("counter", "Energy used since the driver loaded, millijoules."),
    "DCGM_FI_DEV_GPU_TEMP": ("gauge", "Core temperature, degrees Celsius."),
    "DCGM_FI_DEV_MEMORY_TEMP": ("gauge", "HBM/GDDR temperature, degrees Celsius."),
    "DCGM_FI_DEV_SM_CLOCK": ("gauge", "Streaming-multiprocessor clock, MHz."),
    "DCGM_FI_DEV_MEM_CLOCK": ("gauge", "Memory clock, MHz."),
    "DCGM_FI_DEV_XID_ERRORS": ("gauge", "Code of the most recent XID error, 0 when none."),
    "DCGM_FI_DEV_CLOCKS_EVENT_REASONS": ("gauge", "Why clocks are held down now (NVML clocks-event bitmask)."),
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": ("gauge", "Fraction of cycles the tensor cores were busy."),
    "DCGM_FI_PROF_DRAM_ACTIVE": ("gauge", "Fraction of cycles device memory was moving data."),
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": ("gauge", "Fraction of time the graphics/compute engine was busy."),
    "DCGM_FI_PROF_SM_ACTIVE": ("gauge", "Fraction of cycles an SM had work resident."),
}
DCGM_COUNTERS = tuple(DCGM_COUNTER_HELP)


def dcgm_counters_csv() -> str:
    """The counters file for dcgm-exporter (`-f`): every field the dashboards and rules read.

    The exporter reads it with Go's encoding/csv and wants exactly 3 fields a row, so a help text with a
    comma is quoted (RFC 4180, as Go reads it); no space before a field, where Go would take a quote literally.
    """
    rows = io.StringIO()
    rows.write("# Generated from dashboards/catalogue.py: the DCGM fields the dashboards and alerts read.\n"
               "# Format: DCGM field,Prometheus metric type,help message\n")
    csv.writer(rows, lineterminator="\n").writerows((name, kind, text) for name, (kind, text) in DCGM_COUNTER_HELP.items())
    return rows.getvalue()


# llm-d router / EPP v0.10.0 (optional; only when the router is deployed).
EPP = (
    "llm_d_epp_ready_endpoints",
    "llm_d_epp_average_kv_cache_utilization",
    "llm_d_epp_average_queue_size",
    "llm_d_epp_request_total",
    "llm_d_epp_request_error_total",
    *(f"{h}_{suffix}" for h in ("llm_d_epp_request_duration_seconds", "llm_d_epp_scheduler_e2e_duration_seconds",
                                "llm_d_epp_plugin_duration_seconds") for suffix in ("bucket", "sum", "count")),
)

# Llama Stack 0.7.3 OTel metrics through the collector's prometheus exporter (no namespace, so
# single-prefixed names; histograms in seconds with the SDK's default buckets: use _sum/_count).
LLAMA_STACK = (
    "llama_stack_requests_total",
    "llama_stack_inference_duration_seconds_count",
    "llama_stack_inference_duration_seconds_sum",
    "llama_stack_vector_io_queries_total",
    "llama_stack_vector_io_retrieval_duration_seconds_bucket",
    "llama_stack_vector_io_retrieval_duration_seconds_count",
    "llama_stack_vector_io_retrieval_duration_seconds_sum",
)

# The workload's own OpenTelemetry metrics (workload/tracing.py) through the collector: job="workload".
WORKLOAD = (
    "workload_tool_invocations_total",
    "workload_tool_duration_seconds_bucket",
    "workload_tool_duration_seconds_count",
    "workload_tool_duration_seconds_sum",
)

# The collector's spanmetrics connector (namespace traces.span.metrics, histogram unit seconds).
SPAN_METRICS = (
    "traces_span_metrics_calls_total",
    "traces_span_metrics_duration_seconds_bucket",
    "traces_span_metrics_duration_seconds_count",
)
# Span attributes the connector must add as dimensions (label = attribute with '.' -> '_'):
# Llama Stack sets the violation level on run_shield spans only when a shield refuses.
SPANMETRICS_DIMENSIONS = ("llama_stack.safety.response.violation.level",)
SHIELD_VIOLATION_LABEL = "llama_stack_safety_response_violation_level"

# The workload's own answer-quality metrics (workload/quality.py, OTLP) through the collector's
# prometheus exporter: counters get _total, {curly} units add no suffix.
ANSWER_QUALITY = (
    "llm_quality_answers_total",
    "llm_quality_checks_total",
    "llm_quality_judge_verdicts_total",
    "llm_quality_judge_tokens_total",
    "llm_quality_judge_score_bucket",
    "llm_quality_judge_score_sum",
    "llm_quality_judge_score_count",
)

# OpenTelemetry Collector own telemetry (otelcol_*, counters with _total).
COLLECTOR = (
    "otelcol_receiver_accepted_spans_total",
    "otelcol_receiver_refused_spans_total",
    "otelcol_exporter_sent_spans_total",
    "otelcol_exporter_send_failed_spans_total",
    "otelcol_exporter_enqueue_failed_spans_total",
    "otelcol_exporter_queue_size",
    "otelcol_exporter_queue_capacity",
)

# Grafana Tempo own metrics.
TEMPO = (
    "tempo_distributor_spans_received_total",
    "tempo_discarded_spans_total",
)

# Grafana Tempo's metrics generator (span-metrics processor), remote-written to Prometheus with the
# external label source="tempo" (components/tempo.py); read only to notice when it stops.
TEMPO_GENERATOR = ("traces_spanmetrics_calls_total",)

# Standard series every Prometheus has.
STANDARD = ("up",)

EXPORTED: dict[str, tuple[str, ...]] = {
    "vllm": VLLM,
    "dcgm": DCGM_COUNTERS,
    "llm-d-epp": EPP,
    "llama-stack": LLAMA_STACK,
    "workload": WORKLOAD,
    "spanmetrics": SPAN_METRICS,
    "answer-quality": ANSWER_QUALITY,
    "otel-collector": COLLECTOR,
    "tempo": TEMPO,
    "tempo-generator": TEMPO_GENERATOR,
    "standard": STANDARD,
}


def all_exported() -> frozenset[str]:
    return frozenset(name for names in EXPORTED.values() for name in names)
