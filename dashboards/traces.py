"""Traces: Tempo searches for Llama Stack and vLLM traces (agent sessions, tool calls, retrieved
documents, model calls, slow and failed requests) by service, span name and duration, above the
span-metrics rates that say where to look."""

from __future__ import annotations

from dashboards import promql as q
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query, Row, TraceSearch
from dashboards.mixin import Dashboard, Group, TempoVariable, Variable

SERVICE = 'resource.service.name=~"${service_name:regex}"'


def variables(spec: SignalsSpec) -> tuple[Variable | TempoVariable, ...]:
    return (
        Variable("service_name", "Service", "traces_span_metrics_calls_total", "service_name"),
        TempoVariable("min_duration", "Slower than", "2s"),
    )


def rules(spec: SignalsSpec) -> list[Group]:
    return []  # the span-metrics rules live with the quality domain, which reads them too


def _search(title: str, what: str, traceql: str, width: int = 12) -> Panel:
    return Panel("traces", title, f"Tempo TraceQL search: {what} ({traceql}).", "none",
                 (TraceSearch(traceql),), width=width, height=9)


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    return {
        "calls": Panel("timeseries", "Spans per second by name",
                       "Rate of traces_span_metrics_calls_total per span name for the selected services "
                       "(recorded span:traces_span_metrics_calls:rate5m).", "reqps",
                       (Query(q.sum_by(["service_name", "span_name"], q.selector("span:traces_span_metrics_calls:rate5m",
                                                                                 {"service_name": "$service_name"})),
                              "{{service_name}} {{span_name}}"),), width=12),
        "p95": Panel("timeseries", "Span duration p95 by name",
                     "p95 of traces_span_metrics_duration_seconds_bucket per span name "
                     "(recorded span:traces_span_metrics_duration_seconds:p95_5m).", "s",
                     (Query(q.selector("span:traces_span_metrics_duration_seconds:p95_5m", {"service_name": "$service_name"}),
                            "{{service_name}} {{span_name}}"),), width=12),
        "agents": _search("Agent sessions", "Responses API requests, the agent loop of Llama Stack 0.7",
                          f'{{{SERVICE} && name=~"POST /v1/(openai/v1/)?responses.*"}}'),
        "tools": _search("Tool calls", "the workload's execute_tool spans: the function tools it runs for the model",
                         f'{{{SERVICE} && span.gen_ai.operation.name="execute_tool"}}'),
        "retrievals": _search("Retrievals", "Llama Stack's file_search spans (the searches behind an answer)",
                              f'{{{SERVICE} && name="file_search"}}'),
        "model_calls": _search("Model calls", "OpenAI-client spans from Llama Stack to vLLM (gen_ai.* attributes)",
                               f'{{{SERVICE} && span.gen_ai.operation.name=~"chat|text_completion|embeddings"}}'),
        "shields": _search("Safety shield violations", "run_shield spans where a shield refused",
                           '{name=~"run_shield.*" && span.llama_stack.safety.response.violation.level != nil}'),
        "slow": _search("Slow traces", "root spans slower than the Slower-than box",
                        f"{{{SERVICE} && duration > $min_duration}}"),
        "errors": _search("Failed spans", "spans with error status", f"{{{SERVICE} && status = error}}", width=24),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    p = panels(spec)
    return [Dashboard(
        "llmobs-traces", "Traces",
        "Search Llama Stack and vLLM traces in Tempo by service, span name and duration.",
        (
            Row("Where to look", (p["calls"], p["p95"])),
            Row("Searches", (p["agents"], p["tools"], p["retrievals"], p["model_calls"], p["shields"], p["slow"], p["errors"])),
        ),
        variables(spec), ("traces",), uses_tempo=True, time_from="now-1h",
    )]
