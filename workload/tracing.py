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

SPAN_KIND_CLIENT = 3
STATUS_OK, STATUS_ERROR = 1, 2


def _attribute(key: str, value: str) -> dict:
    return {"key": key, "value": {"stringValue": value}}


class SessionTracer:
    def __init__(self, endpoint: str | None, service_name: str, log: Callable[[str], None]):
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.service_name = service_name
        self.log = log

    @contextmanager
    def span(self, name: str, **attributes: str) -> Iterator[dict[str, str]]:
        """Yields the headers that put a request into this span's trace."""
        trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
        self.log(f"{name}: trace {trace_id}")
        started = time.time_ns()
        status = STATUS_OK
        try:
            yield {"traceparent": f"00-{trace_id}-{span_id}-01"}
        except BaseException:
            status = STATUS_ERROR
            raise
        finally:
            self._export(trace_id, span_id, name, started, time.time_ns(), status, attributes)

    def _export(
        self, trace_id: str, span_id: str, name: str, start: int, end: int, status: int, attributes: dict[str, str]
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
            "attributes": [_attribute(key, value) for key, value in attributes.items()],
            "status": {"code": status},
        }
        body = {
            "resourceSpans": [
                {
                    "resource": {"attributes": [_attribute("service.name", self.service_name)]},
                    "scopeSpans": [{"scope": {"name": "workload"}, "spans": [span]}],
                }
            ]
        }
        try:
            response = httpx.post(f"{self.endpoint}/v1/traces", json=body, timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError as error:  # telemetry must never fail the workload
            self.log(f"could not export span {name!r} to {self.endpoint}: {error}")
