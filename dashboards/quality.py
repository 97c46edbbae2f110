"""Quality, seen where the work happens: the workload's own telemetry for the function tools it runs
(Llama Stack 0.7 hands client tools back and records nothing for them), Llama Stack's vector_io metrics
for RAG retrievals (file_search goes through vector_io), span metrics of the run_shield spans the
workload's shield checks open, inference errors by provider, with exemplar links from latency to the
traces in Tempo."""

from __future__ import annotations

import json
import urllib.parse

from dashboards import promql as q
from dashboards.catalogue import FIRST_BUCKET, SHIELD_VIOLATION_LABEL
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row
from dashboards.mixin import Dashboard, Group, Record, Variable

SPAN = ("service_name", "span_name")
# The workload's tool metrics carry the GenAI semantic conventions' tool-name attribute.
TOOL = ("gen_ai_tool_name",)


def explore_traces(spec: SignalsSpec, traceql: str) -> str:
    """A Grafana Explore URL running a TraceQL search on the Tempo datasource."""
    state = {"datasource": spec.tempo_datasource_uid,
             "queries": [{"refId": "A", "queryType": "traceql", "query": traceql}],
             "range": {"from": "${__from}", "to": "${__to}"}}
    return "/explore?left=" + urllib.parse.quote(json.dumps(state, separators=(",", ":")), safe="${}_:")


def variables(spec: SignalsSpec) -> tuple[Variable, ...]:
    return (Variable("service_name", "Service", "traces_span_metrics_calls_total", "service_name"),)


def rules(spec: SignalsSpec) -> list[Group]:
    ls, wl = spec.selectors.llama_stack, spec.selectors.workload
    tools = q.selector("workload_tool_invocations_total", wl)
    queries = q.selector("llama_stack_vector_io_queries_total", ls)
    inference = q.selector("llama_stack_inference_duration_seconds_count", ls)
    return [Group("llmobs-quality.rules", (
        Record("tool:workload_tool_invocations:rate5m", q.sum_by([*TOOL, "outcome"], q.rate(tools, "5m"))),
        Record("tool:workload_tool_errors:ratio_rate5m", q.share_of(
            q.rate(q.selector("workload_tool_invocations_total", wl, outcome="error"), "5m"), q.rate(tools, "5m"), TOOL)),
        Record("tool_le:workload_tool_duration_seconds_bucket:rate5m",
               q.sum_by([*TOOL, "le"], q.rate(q.selector("workload_tool_duration_seconds_bucket", wl), "5m"))),
        Record("tool:workload_tool_duration_seconds:p95_5m",
               q.quantile(0.95, "tool_le:workload_tool_duration_seconds_bucket:rate5m",
                          FIRST_BUCKET["workload_tool_duration_seconds"], by=None)),
        Record("vector_db:llama_stack_vector_io_queries:rate5m", q.sum_by(["vector_db", "status"], q.rate(queries, "5m"))),
        Record("vector_db:llama_stack_vector_io_failed_queries:ratio_rate5m", q.share_of(
            q.rate(q.selector("llama_stack_vector_io_queries_total", ls, status="error"), "5m"), q.rate(queries, "5m"),
            ["vector_db"])),
        Record("vector_db_le:llama_stack_vector_io_retrieval_duration_seconds_bucket:rate5m",
               q.sum_by(["vector_db", "le"], q.rate(q.selector("llama_stack_vector_io_retrieval_duration_seconds_bucket", ls), "5m"))),
        Record("vector_db:llama_stack_vector_io_retrieval_duration_seconds:p95_5m",
               q.quantile(0.95, "vector_db_le:llama_stack_vector_io_retrieval_duration_seconds_bucket:rate5m",
                          FIRST_BUCKET["llama_stack_vector_io_retrieval_duration_seconds"], by=None)),
        Record("provider:llama_stack_inference:rate5m", q.sum_by(["provider", "model", "status"], q.rate(inference, "5m"))),
        Record("provider:llama_stack_inference_errors:ratio_rate5m", q.share_of(
            q.rate(q.selector("llama_stack_inference_duration_seconds_count", ls, status="error"), "5m"),
            q.rate(inference, "5m"), ["provider", "model"])),
        Record("provider:llama_stack_inference_duration_seconds:mean5m", q.ratio(
            q.sum_by(["provider", "model"], q.rate(q.selector("llama_stack_inference_duration_seconds_sum", ls), "5m")),
            q.sum_by(["provider", "model"], q.rate(inference, "5m")))),
        Record("span:traces_span_metrics_calls:rate5m",
               q.sum_by([*SPAN, "status_code"], q.rate("traces_span_metrics_calls_total", "5m"))),
        Record("span:traces_span_metrics_errors:ratio_rate5m", q.share_of(
            q.rate(q.selector("traces_span_metrics_calls_total", status_code="STATUS_CODE_ERROR"), "5m"),
            q.rate("traces_span_metrics_calls_total", "5m"), SPAN)),
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
                       "Rate of workload_tool_invocations_total by gen_ai_tool_name and outcome: the workload runs the "
                       "function tools the model asks for and counts them itself (recorded "
                       "tool:workload_tool_invocations:rate5m).", "reqps",
                       (Query(q.sum_by([*TOOL, "outcome"], "tool:workload_tool_invocations:rate5m"),
                              "{{gen_ai_tool_name}} {{outcome}}"),),
                       stack=True, width=8),
        "tool_errors": Panel("timeseries", "Tool error rate",
                             "Share of workload_tool_invocations_total with outcome=error, per tool (0 when none failed).",
                             "percentunit", (Query("tool:workload_tool_errors:ratio_rate5m", "{{gen_ai_tool_name}}"),),
                             width=8, min=0),
        "tool_latency": Panel("timeseries", "Tool call duration p95",
                              "p95 of workload_tool_duration_seconds per tool (second-scale buckets set by the workload, "
                              "from 10 µs).", "s", (Query("tool:workload_tool_duration_seconds:p95_5m", "{{gen_ai_tool_name}}"),),
                              width=8),
        "retrievals": Panel("timeseries", "RAG retrievals by vector store and outcome",
                            "Rate of llama_stack_vector_io_queries_total by vector_db and status.", "reqps",
                            (Query("vector_db:llama_stack_vector_io_queries:rate5m", "{{vector_db}} {{status}}"),), stack=True, width=8),
        "retrieval_latency": Panel("timeseries", "Retrieval latency p95",
                                   "p95 of llama_stack_vector_io_retrieval_duration_seconds per vector store.", "s",
                                   (Query("vector_db:llama_stack_vector_io_retrieval_duration_seconds:p95_5m", "{{vector_db}}"),), width=8),
        "failed_retrievals": Panel("timeseries", "Failed retrievals",
                                   "Share of llama_stack_vector_io_queries_total with status=error (0 when none failed). "
                                   "Empty results are not counted by Llama Stack 0.7; find them in the Traces dashboard.",
                                   "percentunit",
                                   (Query("vector_db:llama_stack_vector_io_failed_queries:ratio_rate5m", "{{vector_db}}"),), width=8, min=0),
        "shields": Panel("timeseries", "Safety shield calls and violations",
                         "Rate of traces_span_metrics_calls_total for run_shield spans (the workload checks every "
                         f"prompt), and of those carrying the {SHIELD_VIOLATION_LABEL} dimension (a shield refused).",
                         "reqps",
                         (Query(q.sum_by(["span_name"], "shield:llama_stack_shield_calls:rate5m"), "{{span_name}} calls"),
                          Query(q.sum_by(["span_name", SHIELD_VIOLATION_LABEL], "shield:llama_stack_shield_violations:rate5m"),
                                "{{span_name}} violation {{" + SHIELD_VIOLATION_LABEL + "}}")), width=8),
        "inference_rate": Panel("timeseries", "Inference requests through Llama Stack",
                                "Rate of llama_stack_inference_duration_seconds_count by provider, model and status "
                                "(recorded provider:llama_stack_inference:rate5m).", "reqps",
                                (Query("provider:llama_stack_inference:rate5m", "{{provider}} {{model}} {{status}}"),), width=8),
        "inference_errors": Panel("timeseries", "Inference errors by provider",
                                  "Share of llama_stack_inference_duration_seconds_count with status=error, per provider "
                                  "and model (0 when none failed).",
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
                                               by=["service_name", "span_name"]), "{{span_name}}", exemplars=True,
                                    # It must read raw buckets (recorded series carry no exemplars): one point per
                                    # rate window, which holds nothing finer, keeps a day of it cheap.
                                    min_interval="5m"),),
                              links=(("Traces of this span in Tempo", slow),), width=12),
        "span_errors": Panel("timeseries", "Span error rate by name",
                             "Share of traces_span_metrics_calls_total with status_code STATUS_CODE_ERROR per span name "
                             "(recorded span:traces_span_metrics_errors:ratio_rate5m; 0 when none failed).", "percentunit",
                             (Query(q.selector("span:traces_span_metrics_errors:ratio_rate5m", S), "{{span_name}}"),),
                             width=12, min=0),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    p = panels(spec)
    return [Dashboard(
        "llmobs-quality", "Quality: tools, retrieval, safety",
        "How well the application layer behaves: the workload's tool calls, Llama Stack's RAG retrievals, "
        "safety shields and inference errors, with exemplar links to traces.",
        (
            Row("Tools", (p["tools"], p["tool_errors"], p["tool_latency"])),
            Row("Retrieval (RAG)", (p["retrievals"], p["retrieval_latency"], p["failed_retrievals"])),
            Row("Safety", (p["shields"],)),
            Row("Inference", (p["inference_rate"], p["inference_errors"], p["inference_latency"])),
            Row("Spans", (p["span_latency"], p["span_errors"])),
        ),
        variables(spec), ("quality", "llama-stack"),
    )]
