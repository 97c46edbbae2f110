"""A small OTLP/HTTP receiver on loopback: records every span and metric point sent to it, as a collector's
``otlp`` receiver would get them (protobuf bodies at /v1/traces and /v1/metrics, decoded with
opentelemetry-proto)."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from tests.loopback import LoopbackServer

SPAN_KINDS = {0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT",
              4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER"}
STATUS_CODES = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def attributes_of(pairs: list[KeyValue]) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs}


def any_value(value: Any) -> AnyValue:
    """The inverse of value_of for what captures hold: strings, booleans, integers, floats and lists."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes.items()]


@dataclass(frozen=True)
class Span:
    resource: dict[str, Any]
    scope: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    status: str
    duration_seconds: float
    # The W3C tracestate the span's context carried (entries from the trace's caller, passed along).
    trace_state: str = ""
    # (trace id, span id) of each span this one links to.
    links: tuple[tuple[str, str], ...] = ()

    @property
    def service(self) -> str:
        return self.resource.get("service.name", "")


@dataclass(frozen=True)
class Point:
    """One data point of one metric, as last reported (cumulative temporality: the latest is the total)."""

    resource: dict[str, Any]
    scope: str
    scope_version: str
    name: str
    unit: str
    kind: str  # sum, gauge or histogram
    monotonic: bool
    attributes: dict[str, Any]
    value: float = 0.0
    count: int = 0
    total: float = 0.0
    bounds: tuple[float, ...] = ()
    bucket_counts: tuple[int, ...] = ()

    @property
    def service(self) -> str:
        return self.resource.get("service.name", "")


@dataclass
class Capture:
    spans: list[Span] = field(default_factory=list)
    # (service, scope, metric, sorted attributes) -> latest point
    points: dict[tuple, Point] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def size(self) -> tuple[int, int]:
        with self.lock:
            return len(self.spans), sum(int(p.count or p.value) for p in self.points.values())

    def span_names(self, service: str) -> set[str]:
        return {span.name for span in self.spans if span.service == service}

    def metrics(self, service: str) -> dict[str, list[Point]]:
        found: dict[str, list[Point]] = {}
        for point in self.points.values():
            if point.service == service:
                found.setdefault(point.name, []).append(point)
        return found

    def add_traces(self, request: ExportTraceServiceRequest) -> None:
        spans = []
        for resource_spans in request.resource_spans:
            resource = attributes_of(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(Span(
                        resource=resource, scope=scope_spans.scope.name, name=span.name,
                        kind=SPAN_KINDS[span.kind], trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(), attributes=attributes_of(span.attributes),
                        status=STATUS_CODES[span.status.code],
                        duration_seconds=(span.end_time_unix_nano - span.start_time_unix_nano) / 1e9,
                        trace_state=span.trace_state,
                        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                    ))
        with self.lock:
            self.spans.extend(spans)

    def add_metrics(self, request: ExportMetricsServiceRequest) -> None:
        for resource_metrics in request.resource_metrics:
            resource = attributes_of(resource_metrics.resource.attributes)
            for scope_metrics in resource_metrics.scope_metrics:
                scope = scope_metrics.scope
                for metric in scope_metrics.metrics:
                    for point in _points(metric):
                        full = Point(resource=resource, scope=scope.name, scope_version=scope.version,
                                     name=metric.name, unit=metric.unit, **point)
                        key = (full.service, full.scope, full.name, tuple(sorted(full.attributes.items())))
                        with self.lock:
                            self.points[key] = full


def _points(metric) -> list[dict[str, Any]]:
    kind = metric.WhichOneof("data")
    if kind in ("sum", "gauge"):
        data = getattr(metric, kind)
        return [{"kind": kind, "monotonic": kind == "sum" and data.is_monotonic,
                 "attributes": attributes_of(p.attributes),
                 "value": p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)}
                for p in data.data_points]
    if kind == "histogram":
        return [{"kind": "histogram", "monotonic": True, "attributes": attributes_of(p.attributes),
                 "count": p.count, "total": p.sum, "bounds": tuple(p.explicit_bounds),
                 "bucket_counts": tuple(p.bucket_counts)}
                for p in metric.histogram.data_points]
    raise NotImplementedError(f"metric {metric.name}: {kind} points are not translated")


class _Handler(BaseHTTPRequestHandler):
    server: "OtlpReceiver"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/traces":
            request, response = ExportTraceServiceRequest(), ExportTraceServiceResponse()
            request.ParseFromString(body)
            self.server.capture.add_traces(request)
        elif self.path == "/v1/metrics":
            request, response = ExportMetricsServiceRequest(), ExportMetricsServiceResponse()
            request.ParseFromString(body)
            self.server.capture.add_metrics(request)
        else:
            self.send_error(404)
            return
        data = response.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class OtlpReceiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(_Handler)
        self.capture = Capture()
