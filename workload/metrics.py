"""The workload's own metrics (answer quality), sent as OTLP/HTTP JSON like its spans: counters and
histograms, cumulative from the start of the run.

A run is short (a Job, or a CronJob run every hour), so every series the run will write is declared
at zero and sent first: Prometheus then sees each counter start from 0 and ``increase()`` counts the
run's first answers too. The collector's prometheus exporter names them the usual way (dots to
underscores, ``_total`` on counters, no suffix for ``{curly}`` units).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Callable

import httpx

from workload.tracing import Attribute, otlp_attribute

CUMULATIVE = 2
Key = tuple[tuple[str, Attribute], ...]


def _key(attributes: dict[str, Attribute]) -> Key:
    return tuple(sorted(attributes.items()))


class Counter:
    def __init__(self, name: str, unit: str, description: str):
        self.name, self.unit, self.description = name, unit, description
        self.points: dict[Key, float] = {}

    def add(self, value: float, **attributes: Attribute) -> None:
        key = _key(attributes)
        self.points[key] = self.points.get(key, 0) + value

    def otlp(self, start: str, now: str) -> dict:
        return {
            "name": self.name, "unit": self.unit, "description": self.description,
            "sum": {"aggregationTemporality": CUMULATIVE, "isMonotonic": True, "dataPoints": [
                {"attributes": [otlp_attribute(k, v) for k, v in key], "startTimeUnixNano": start,
                 "timeUnixNano": now, "asDouble": value}
                for key, value in self.points.items()
            ]},
        }


class Histogram:
    def __init__(self, name: str, unit: str, description: str, bounds: Sequence[float]):
        self.name, self.unit, self.description = name, unit, description
        self.bounds = tuple(bounds)
        self.points: dict[Key, list[float]] = {}  # bucket counts (len(bounds) + 1), then sum

    def declare(self, **attributes: Attribute) -> None:
        self.points.setdefault(_key(attributes), [0.0] * (len(self.bounds) + 2))

    def record(self, value: float, **attributes: Attribute) -> None:
        self.declare(**attributes)
        point = self.points[_key(attributes)]
        bucket = next((i for i, bound in enumerate(self.bounds) if value <= bound), len(self.bounds))
        point[bucket] += 1
        point[-1] += value

    def otlp(self, start: str, now: str) -> dict:
        return {
            "name": self.name, "unit": self.unit, "description": self.description,
            "histogram": {"aggregationTemporality": CUMULATIVE, "dataPoints": [
                {"attributes": [otlp_attribute(k, v) for k, v in key], "startTimeUnixNano": start,
                 "timeUnixNano": now, "count": str(int(sum(point[:-1]))), "sum": point[-1],
                 "bucketCounts": [str(int(count)) for count in point[:-1]], "explicitBounds": list(self.bounds)}
                for key, point in self.points.items()
            ]},
        }


class Metrics:
    """The run's instruments; ``export()`` sends all of them (a no-op without an endpoint)."""

    def __init__(self, endpoint: str | None, service_name: str, log: Callable[[str], None]):
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.service_name = service_name
        self.log = log
        self.started = str(time.time_ns())
        self.instruments: list[Counter | Histogram] = []

    def counter(self, name: str, unit: str, description: str) -> Counter:
        self.instruments.append(Counter(name, unit, description))
        return self.instruments[-1]  # type: ignore[return-value]

    def histogram(self, name: str, unit: str, description: str, bounds: Sequence[float]) -> Histogram:
        self.instruments.append(Histogram(name, unit, description, bounds))
        return self.instruments[-1]  # type: ignore[return-value]

    def body(self) -> dict:
        now = str(time.time_ns())
        metrics = [instrument.otlp(self.started, now) for instrument in self.instruments if instrument.points]
        return {"resourceMetrics": [{
            "resource": {"attributes": [otlp_attribute("service.name", self.service_name)]},
            "scopeMetrics": [{"scope": {"name": "workload"}, "metrics": metrics}],
        }]}

    def export(self) -> None:
        if not self.endpoint:
            return
        try:
            response = httpx.post(f"{self.endpoint}/v1/metrics", json=self.body(), timeout=5.0)
            response.raise_for_status()
        except httpx.HTTPError as error:  # telemetry must never fail the workload
            self.log(f"could not export metrics to {self.endpoint}: {error}")
