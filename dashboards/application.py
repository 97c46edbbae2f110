"""The application server's service level: Llama Stack's availability SLO (requests it answered with a
5xx status) with burn-rate alerts, and alerts on the error ratios of the agents' tool calls (counted by
the workload, which runs them) and of Llama Stack's retrievals.
Rules and alerts only; the panels sit on the role overviews and the quality dashboard."""

from __future__ import annotations

from dashboards import promql as q
from dashboards.config import SignalsSpec
from dashboards.layout import Panel, Query
from dashboards.mixin import Alert, Dashboard, Group, Record
from dashboards.slo import BURN_WINDOWS, LONG_WINDOWS, burn_alerts

JOB = ("job",)
FAILED_STATUS = "~5.."
TOOL_ERRORS = "tool:workload_tool_errors:ratio_rate5m"
TOOL_CALLS = "tool:workload_tool_invocations:rate5m"
RETRIEVAL_ERRORS = "vector_db:llama_stack_vector_io_failed_queries:ratio_rate5m"
RETRIEVALS = "vector_db:llama_stack_vector_io_queries:rate5m"


def error_ratio(window: str) -> str:
    return f"job:llama_stack_availability_slo:error_ratio_rate{window}"


def requests(window: str) -> str:
    return f"job:llama_stack_availability_slo_requests:increase{window}"


def rules(spec: SignalsSpec) -> list[Group]:
    answered = q.selector("llama_stack_requests_total", spec.selectors.llama_stack)
    failed = q.selector("llama_stack_requests_total", spec.selectors.llama_stack, status_code=FAILED_STATUS)
    records = []
    for window in BURN_WINDOWS:
        records.append(Record(error_ratio(window), q.share_of(q.rate(failed, window), q.rate(answered, window), JOB)))
        if window in LONG_WINDOWS:
            records.append(Record(requests(window), q.sum_by(JOB, q.increase(answered, window))))
    return [Group("llmobs-application-slo.rules", tuple(records)), Group("llmobs-application.alerts", tuple(alerts(spec)))]


def _busy(rate: str, label: str, calls: int) -> str:
    """Only where the last 5 minutes held at least ``calls`` calls: two failures of three are no trend."""
    return f"on({label}) (sum by ({label}) ({rate}) * 300 >= {calls})"


def alerts(spec: SignalsSpec) -> list[Alert]:
    t = spec.thresholds
    return [
        *burn_alerts(spec, "LlamaStackAvailabilitySloBurn", error_ratio, requests, "Llama Stack availability",
                     "Llama Stack ({{ $labels.job }})", "were answered with a 5xx status (llama_stack_requests_total)"),
        Alert("AgentToolErrors",
              f"{TOOL_ERRORS} > {t.tool_error_ratio} and {_busy(TOOL_CALLS, 'gen_ai_tool_name', t.min_calls_5m)}",
              "warning", "An agent's function tool keeps failing.",
              f"{{{{ $labels.gen_ai_tool_name }}}} failed {{{{ $value | humanizePercentage }}}} of its calls for 15 "
              f"minutes (over {t.tool_error_ratio:.0%}, workload_tool_invocations_total outcome=error): agents get errors "
              "instead of tool results.", "15m"),
        Alert("LlamaStackRetrievalErrors",
              f"{RETRIEVAL_ERRORS} > {t.retrieval_error_ratio} and {_busy(RETRIEVALS, 'vector_db', t.min_calls_5m)}",
              "warning", "Llama Stack retrievals from a vector store keep failing.",
              f"{{{{ $labels.vector_db }}}} failed {{{{ $value | humanizePercentage }}}} of its queries for 15 minutes "
              f"(over {t.retrieval_error_ratio:.0%}, llama_stack_vector_io_queries_total status=error): answers lose "
              "their documents.", "15m"),
    ]


def panels(spec: SignalsSpec) -> dict[str, Panel]:
    return {
        "availability": Panel("timeseries", "Availability (1 h)",
                              "Share of requests not failed: Llama Stack's llama_stack_requests_total without a 5xx "
                              "status_code (job:llama_stack_availability_slo:error_ratio_rate1h), and vLLM's "
                              "vllm:request_success_total without finished_reason error "
                              f"(model:vllm_availability_slo:error_ratio_rate1h). Objective {spec.slo.objective}.",
                              "percentunit",
                              (Query(f"1 - {error_ratio('1h')}", "Llama Stack"),
                               Query("1 - model:vllm_availability_slo:error_ratio_rate1h", "vLLM {{model_name}}")),
                              width=8, max=1),
    }


def dashboards(spec: SignalsSpec) -> list[Dashboard]:
    return []
