"""Quality, seen through Llama Stack's metrics and the span metrics of its traces: tool calls and
their errors, RAG retrievals and their latency, safety-shield violations, inference errors by
provider, with exemplar links from latency to the traces in Tempo."""

from __future__ import annotations

import json
import urllib.parse

from dashboards import promql as q
from dashboards.catalogue import FIRST_BUCKET, SHIELD_VIOLATION_LABEL
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row
from dashboards.mixin import Dashboard, Group, Record, Variable

SPAN = ("service_name", "span_name")


def explore_traces(spec: SignalsSpec, traceql: str) -> str:
    """A Grafana Explore URL running a TraceQL search on the Tempo datasource."""
    state = {"datasource": spec.tempo_datasource_uid,
             "queries": [{"refId": "A", "queryType": "traceql", "query": traceql}],
             "range": {"from": "${__from}", "to": "${__to}"}}
    return "/explore?left=" + urllib.parse.quote(json.dumps(state, separators=(",", ":")), safe="${}_:")


def variables(spec: SignalsSpec) -> tuple[Variable, ...]:
    return (Variable("service_name", "Service", "traces_span_metrics_calls_total", "service_name"),)


def rules(spec: SignalsSpec) -> list[Group]:
    ls = spec.selectors.llama_stack
    tools = q.selector("llama_stack_tool_runtime_invocations_total", ls)
    queries = q.selector("llama_stack_vector_io_queries_total", ls)
    inference = q.selector("llama_stack_inference_duration_seconds_count", ls)
    return [Group("llmobs-quality.rules", (
        Record("tool:llama_stack_tool_invocations:rate5m", q.sum_by(["tool_group", "tool_name", "status"], q.rate(tools, "5m"))),
        Record("tool:llama_stack_tool_errors:ratio_rate5m", q.ratio(
            q.sum_by(["tool_name"], q.rate(q.selector("llama_stack_tool_runtime_invocations_total", ls, status="error"), "5m")),
            q.sum_by(["tool_name"], q.rate(tools, "5m")))),
        Record("tool:llama_stack_tool_duration_seconds:mean5m", q.ratio(
            q.sum_by(["tool_name"], q.rate(q.selector("llama_stack_tool_runtime_duration_seconds_sum", ls), "5m")),
            q.sum_by(["tool_name"], q.rate(q.selector("llama_stack_tool_runtime_duration_seconds_count", ls), "5m")))),
        Record("vector_db:llama_stack_vector_io_queries:rate5m", q.sum_by(["vector_db", "status"], q.rate(queries, "5m"))),
        Record("vector_db:llama_stack_vector_io_failed_queries:ratio_rate5m", q.ratio(
            q.sum_by(["vector_db"], q.rate(q.selector("llama_stack_vector_io_queries_total", ls, status="error"), "5m")),
            q.sum_by(["vector_db"], q.rate(queries, "5m")))),
        Record("vector_db_le:llama_stack_vector_io_retrieval_duration_seconds_bucket:rate5m",
               q.sum_by(["vector_db", "le"], q.rate(q.selector("llama_stack_vector_io_retrieval_duration_seconds_bucket", ls), "5m"))),
        Record("vector_db:llama_stack_vector_io_retrieval_duration_seconds:p95_5m",
               q.quantile(0.95, "vector_db_le:llama_stack_vector_io_retrieval_duration_seconds_bucket:rate5m",
                          FIRST_BUCKET["llama_stack_vector_io_retrieval_duration_seconds"], by=None)),
        Record("provider:llama_stack_inference:rate5m", q.sum_by(["provider", "model", "status"], q.rate(inference, "5m"))),
        Record("provider:llama_stack_inference_errors:ratio_rate5m", q.ratio(
            q.sum_by(["provider", "model"], q.rate(q.selector("llama_stack_inference_duration_seconds_count", ls, status="error"), "5m")),
            q.sum_by(["provider", "model"], q.rate(inference, "5m")))),
        Record("provider:llama_stack_inference_duration_seconds:mean5m", q.ratio(
            q.sum_by(["provider", "model"], q.rate(q.selector("llama_stack_inference_duration_seconds_sum", ls), "5m")),
            q.sum_by(["provider", "model"], q.rate(inference, "5m")))),
        Record("span:traces_span_metrics_calls:rate5m",
               q.sum_by([*SPAN, "status_code"], q.rate("traces_span_metrics_calls_total", "5m"))),
        Record("span_le:traces_span_metrics_duration_seconds_bucket:rate5m",
               q.sum_by([*SPAN, "le"], q.rate("traces_span_metrics_duration_seconds_bucket", "5m"))),
        Record("span:traces_span_metrics_duration_seconds:p95_5m",
               q.quantile(0.95, "span_le:traces_span_metrics_duration_seconds_bucket:rate5m",
                          FIRST_BUCKET["traces_span_metrics_duration_seconds"], by=None)),
        Record("shield:llama_stack_shield_violations:rate5m", q.sum_by(
            ["span_name", SHIELD_VIOLATION_LABEL],
            q.rate(q.selector("traces_span_metrics_calls_total", spec.selectors.llama_stack_spans,
                              span_name="~run_shield.*", **{SHIELD_VIOLATION_LABEL: "~.+"}), "5m"))),
        Record("shield:llama_stack_shield_calls:rate5m", q.sum_by(
            ["span_name"], q.rate(q.selector("traces_span_metrics_calls_total", spec.selectors.llama_stack_spans,
                                             span_name="~run_shield.*"), "5m"))),
    ))]


S = {"service_name": "$service_name"}


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    slow = explore_traces(spec, '{resource.service.name="${__field.labels.service_name}" && name="${__field.labels.span_name}"}')
    return {
        "tools": Panel("timeseries", "Tool calls by tool and outcome",
                       "Rate of llama_stack_tool_runtime_invocations_total by tool_name and status "
                       "(recorded tool:llama_stack_tool_invocations:rate5m).", "reqps",
                       (Query(q.sum_by(["tool_name", "status"], "tool:llama_stack_tool_invocations:rate5m"), "{{tool_name}} {{status}}"),),
                       stack=True, width=8),
        "tool_errors": Panel("timeseries", "Tool error rate",
                             "Share of llama_stack_tool_runtime_invocations_total with status=error, per tool.", "percentunit",
                             (Query("tool:llama_stack_tool_errors:ratio_rate5m", "{{tool_name}}"),), width=8, min=0),
        "tool_latency": Panel("timeseries", "Tool call duration (mean)",
                              "llama_stack_tool_runtime_duration_seconds_sum over _count per tool (the SDK's default "
                              "buckets make quantiles meaningless, so this is a mean).", "s",
                              (Query("tool:llama_stack_tool_duration_seconds:mean5m", "{{tool_name}}"),), width=8),
        "retrievals": Panel("timeseries", "RAG retrievals by vector store and outcome",
                            "Rate of llama_stack_vector_io_queries_total by vector_db and status.", "reqps",
                            (Query("vector_db:llama_stack_vector_io_queries:rate5m", "{{vector_db}} {{status}}"),), stack=True, width=8),
        "retrieval_latency": Panel("timeseries", "Retrieval latency p95",
                                   "p95 of llama_stack_vector_io_retrieval_duration_seconds per vector store.", "s",
                                   (Query("vector_db:llama_stack_vector_io_retrieval_duration_seconds:p95_5m", "{{vector_db}}"),), width=8),
        "failed_retrievals": Panel("timeseries", "Failed retrievals",
                                   "Share of llama_stack_vector_io_queries_total with status=error. Empty results are not "
                                   "counted by Llama Stack 0.7; find them in the Traces dashboard.", "percentunit",
                                   (Query("vector_db:llama_stack_vector_io_failed_queries:ratio_rate5m", "{{vector_db}}"),), width=8, min=0),
        "shields": Panel("timeseries", "Safety shield calls and violations",
                         "Rate of traces_span_metrics_calls_total for run_shield spans, and of those carrying the "
                         f"{SHIELD_VIOLATION_LABEL} dimension (a shield refused).", "reqps",
                         (Query(q.sum_by(["span_name"], "shield:llama_stack_shield_calls:rate5m"), "{{span_name}} calls"),
                          Query(q.sum_by(["span_name", SHIELD_VIOLATION_LABEL], "shield:llama_stack_shield_violations:rate5m"),
                                "{{span_name}} violation {{" + SHIELD_VIOLATION_LABEL + "}}")), width=8),
        "inference_rate": Panel("timeseries", "Inference requests through Llama Stack",
                                "Rate of llama_stack_inference_duration_seconds_count by provider, model and status "
                                "(recorded provider:llama_stack_inference:rate5m).", "reqps",
                                (Query("provider:llama_stack_inference:rate5m", "{{provider}} {{model}} {{status}}"),), width=8),
        "inference_errors": Panel("timeseries", "Inference errors by provider",
                                  "Share of llama_stack_inference_duration_seconds_count with status=error, per provider and model.",
                                  "percentunit", (Query("provider:llama_stack_inference_errors:ratio_rate5m", "{{provider}} {{model}}"),),
                                  width=8, min=0),
        "inference_latency": Panel("timeseries", "Inference duration through Llama Stack (mean)",
                                   "llama_stack_inference_duration_seconds_sum over _count per provider and model.", "s",
                                   (Query("provider:llama_stack_inference_duration_seconds:mean5m", "{{provider}} {{model}}"),), width=8),
        "span_latency": Panel("timeseries", "Span latency p95, with exemplar traces",
                              "p95 of traces_span_metrics_duration_seconds_bucket per span name for the selected service; "
                              "exemplar dots open the trace in Tempo, and the panel links to a search for that span.", "s",
                              (Query(q.quantile(0.95, q.rate(q.selector("traces_span_metrics_duration_seconds_bucket", S), "5m"),
                                               FIRST_BUCKET["traces_span_metrics_duration_seconds"],
                                               by=["service_name", "span_name"]), "{{span_name}}", exemplars=True),),
                              links=(("Traces of this span in Tempo", slow),), width=12),
        "span_errors": Panel("timeseries", "Span errors by name",
                             "Rate of traces_span_metrics_calls_total with status_code STATUS_CODE_ERROR per span name.", "reqps",
                             (Query(q.sum_by(["span_name"], q.selector("span:traces_span_metrics_calls:rate5m", S,
                                                                         status_code="STATUS_CODE_ERROR")), "{{span_name}}"),),
                             width=12),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    p = panels(spec)
    return [Dashboard(
        "llmobs-quality", "Quality: tools, retrieval, safety",
        "How well the application layer behaves: Llama Stack tool calls, RAG retrievals, safety shields and "
        "inference errors, with exemplar links to traces.",
        (
            Row("Tools", (p["tools"], p["tool_errors"], p["tool_latency"])),
            Row("Retrieval (RAG)", (p["retrievals"], p["retrieval_latency"], p["failed_retrievals"])),
            Row("Safety", (p["shields"],)),
            Row("Inference", (p["inference_rate"], p["inference_errors"], p["inference_latency"])),
            Row("Spans", (p["span_latency"], p["span_errors"])),
        ),
        variables(spec), ("quality", "llama-stack"),
    )]
