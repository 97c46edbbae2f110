"""The workload's own telemetry, as any application instruments itself: the OpenTelemetry SDK over OTLP/HTTP.

- One trace per agent session: a root span whose context goes with every request as a W3C
  ``traceparent`` header, so Llama Stack's spans (HTTP, inference, file search, shield) join it.
- The function tools run here, in the client (Llama Stack 0.7 hands ``function_call`` items back and
  records nothing for them), so their telemetry comes from here too: an ``execute_tool <name>`` span
  per call (GenAI semantic conventions), the counter ``workload.tool.invocations`` by tool and outcome,
  and the histogram ``workload.tool.duration`` in seconds with second-scale buckets.

Every span carries a tag in its W3C trace state (workload/trace_tags.py): the process's own (``workload``)
and ``judge`` under a judge call (a span with ``llm.quality.judge.call``). It goes with every request, so
the servers' spans of the stack's own traffic carry it too and the judge sampler never scores them.

The standard variables configure it: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the Job sets the collector's
OTLP/HTTP address), ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``. Without an endpoint nothing is
exported, and the requests still share each session's trace id, which the workload prints.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TraceState, get_current_span

from workload import trace_tags

SCOPE = "workload"
JUDGE_CALL = "llm.quality.judge.call"
# From a lookup in a dictionary (tens of microseconds) to a slow remote call; dashboards/catalogue.py's
# FIRST_BUCKET holds the first bound.
TOOL_DURATION_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25,
                         0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ToolCall:
    """What the tool's caller reports back: the outcome, and an error type when it failed."""

    def __init__(self) -> None:
        self.error_type: str | None = None

    def failed(self, error_type: str) -> None:
        self.error_type = error_type


class TaggingSampler(Sampler):
    """Samples every span (or as its parent was) and puts the stack's tag in its trace state: ``judge`` for
    a judge call and what runs under it, else the parent's tag, else this process's own."""

    def __init__(self, tag: str):
        self.tag = tag
        self.decide = ParentBased(ALWAYS_ON)

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None) -> SamplingResult:
        result = self.decide.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        parent = get_current_span(parent_context).get_span_context()
        state = parent.trace_state if parent.is_valid else TraceState()
        tag = trace_tags.JUDGE if (attributes or {}).get(JUDGE_CALL) else state.get(trace_tags.KEY) or self.tag
        tagged = state.update(trace_tags.KEY, tag) if trace_tags.KEY in state else state.add(trace_tags.KEY, tag)
        return SamplingResult(result.decision, result.attributes, tagged)

    def get_description(self) -> str:
        return f"TaggingSampler({self.tag})"


class Telemetry:
    def __init__(self, log: Callable[[str], None], service_name: str = "workload", tag: str = trace_tags.WORKLOAD):
        self.log = log
        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name})
        exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        self.tracer_provider = TracerProvider(resource=resource, sampler=TaggingSampler(tag))
        readers = []
        if exporting:
            self.tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        self.tracer = self.tracer_provider.get_tracer(SCOPE)
        self.meter = meter = self.meter_provider.get_meter(SCOPE)
        self.tool_invocations = meter.create_counter(
            "workload.tool.invocations", unit="{invocation}", description="Function-tool calls the model asked for."
        )
        self.tool_duration = meter.create_histogram(
            "workload.tool.duration", unit="s", description="How long a function tool took.",
            explicit_bucket_boundaries_advisory=list(TOOL_DURATION_BUCKETS),
        )

    @contextmanager
    def session(self, name: str, **attributes: str) -> Iterator[dict[str, str]]:
        """A root span; yields the headers that put a request into its trace."""
        with self.tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
            self.log(f"{name}: trace {span.get_span_context().trace_id:032x}")
            headers: dict[str, str] = {}
            propagate.inject(headers)
            yield headers

    @contextmanager
    def child(self, name: str, **attributes: str | int | bool) -> Iterator[tuple[Span, dict[str, str]]]:
        """A span inside the current one; yields it (to add attributes while it is open) and the headers
        that put a request under it."""
        with self.tracer.start_as_current_span(name, kind=SpanKind.INTERNAL, attributes=attributes) as span:
            headers: dict[str, str] = {}
            propagate.inject(headers)
            yield span, headers

    @contextmanager
    def tool(self, name: str, call_id: str) -> Iterator[ToolCall]:
        """One function-tool execution inside the current session: span, counter and duration."""
        call = ToolCall()
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.id": call_id}
        started = time.monotonic()
        with self.tracer.start_as_current_span(f"execute_tool {name}", kind=SpanKind.INTERNAL,
                                               attributes=attributes) as span:
            try:
                yield call
            except Exception as error:
                call.failed(type(error).__name__)
                raise
            finally:
                outcome = "error" if call.error_type else "success"
                if call.error_type:
                    span.set_attribute("error.type", call.error_type)
                    span.set_status(Status(StatusCode.ERROR))
                labels = {"gen_ai.tool.name": name, "outcome": outcome}
                self.tool_invocations.add(1, labels)
                self.tool_duration.record(time.monotonic() - started, labels)

    def shutdown(self) -> None:
        """Sends what is buffered; telemetry never fails the workload."""
        for provider in (self.tracer_provider, self.meter_provider):
            try:
                provider.shutdown()
            except Exception as error:  # noqa: BLE001 (an exporter's failure is only reported)
                self.log(f"telemetry: could not flush ({error})")
