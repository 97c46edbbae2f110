"""One trace per agent session: a root span from the workload, its context sent along with every request.

Each request of a session carries a W3C ``traceparent`` header, so Llama Stack's spans (and through it
vLLM's) join the session's trace. When ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the Job sets it to the
collector), the workload also sends the session's root span there, as OTLP/HTTP JSON: a few lines of
httpx instead of the OpenTelemetry SDK. Without it the requests still share a trace id, which the
workload prints so the session can be found in Tempo.
"""

from __future__ import annotations

import secrets
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import httpx

Attribute = str | bool | int | float
SPAN_KIND_CLIENT = 3
STATUS_OK, STATUS_ERROR = 1, 2


def otlp_attribute(key: str, value: Attribute) -> dict:
    """One OTLP/JSON attribute; bool before int, since a bool is an int in Python."""
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


class SessionTracer:
    def __init__(self, endpoint: str | None, service_name: str, log: Callable[[str], None]):
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.service_name = service_name
        self.log = log

    @contextmanager
    def span(
        self, name: str, parent: dict[str, str] | None = None, attributes: dict[str, Attribute] | None = None,
        **more: str,
    ) -> Iterator[dict[str, str]]:
        """Yields the headers that put a request into this span's trace.

        Without ``parent`` the span starts a new trace; with a parent's headers it is that span's child.
        ``attributes`` are read when the span ends, so the block may add to them (an answer's scores).
        """
        attributes = attributes if attributes is not None else {}
        attributes.update(more)
        parent_id = None
        if parent:
            _, trace_id, parent_id, _ = parent["traceparent"].split("-")
        else:
            trace_id = secrets.token_hex(16)
            self.log(f"{name}: trace {trace_id}")
        span_id = secrets.token_hex(8)
        started = time.time_ns()
        status = STATUS_OK
        try:
            yield {"traceparent": f"00-{trace_id}-{span_id}-01"}
        except BaseException:
            status = STATUS_ERROR
            raise
        finally:
            self._export(trace_id, span_id, parent_id, name, started, time.time_ns(), status, attributes)

    def _export(
        self, trace_id: str, span_id: str, parent_id: str | None, name: str, start: int, end: int, status: int,
        attributes: dict[str, Attribute],
    ) -> None:
        if not self.endpoint:
            return
        span = {
            "traceId": trace_id,
            "spanId": span_id,
            "name": name,
            "kind": SPAN_KIND_CLIENT,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
            "attributes": [otlp_attribute(key, value) for key, value in attributes.items()],
            "status": {"code": status},
        }
        if parent_id:
            span["parentSpanId"] = parent_id
        body = {
            "resourceSpans": [
                {
                    "resource": {"attributes": [otlp_attribute("service.name", self.service_name)]},
                    "scopeSpans": [{"scope": {"name": "workload"}, "spans": [span]}],
                }
            ]
        }
        try:
            response = httpx.post(f"{self.endpoint}/v1/traces", json=body, timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError as error:  # telemetry must never fail the workload
            self.log(f"could not export span {name!r} to {self.endpoint}: {error}")
