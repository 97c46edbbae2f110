"""What the observability stack asks of the node: every container's requests, summed from the values.

Run `python -m tests.footprint` to print the table for the dev stack (the README's numbers).
The inventory lists every container each release runs with our values, read from the charts'
templates; a container missing here would be a container without a checked request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# (chart, dotted path of the resources block in its values, containers using that block, which).
CONTAINERS: tuple[tuple[str, str, int, str], ...] = (
    ("kube-prometheus-stack", "prometheus.prometheusSpec.resources", 1, "prometheus"),
    # config-reloader sidecars and their init-config-reloader init containers (Prometheus, Alertmanager)
    ("kube-prometheus-stack", "prometheusOperator.prometheusConfigReloader.resources", 4, "config-reloader"),
    ("kube-prometheus-stack", "alertmanager.alertmanagerSpec.resources", 1, "alertmanager"),
    ("kube-prometheus-stack", "prometheusOperator.resources", 1, "prometheus-operator"),
    # The admission webhook's certificate jobs (create, patch): short-lived.
    ("kube-prometheus-stack", "prometheusOperator.admissionWebhooks.patch.resources", 2, "webhook cert jobs"),
    ("kube-prometheus-stack", "kube-state-metrics.resources", 1, "kube-state-metrics"),
    ("kube-prometheus-stack", "prometheus-node-exporter.resources", 1, "node-exporter (one node)"),
    ("kube-prometheus-stack", "grafana.resources", 1, "grafana"),
    ("kube-prometheus-stack", "grafana.sidecar.resources", 2, "grafana dashboards + datasources sidecars"),
    ("tempo", "tempo.resources", 1, "tempo"),
    ("opentelemetry-collector", "resources", 1, "otel-collector"),
    ("dcgm-exporter", "resources", 1, "dcgm-exporter (one GPU node)"),
)
MAX_CPU_MILLIS = 4000
MAX_MEMORY_MIB = 12 * 1024


def cpu_millis(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def memory_mib(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi)", quantity)
    if match is None:
        raise ValueError(f"unsupported memory quantity {quantity!r}")
    factor = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[match.group(2)]
    return float(match.group(1)) * factor


@dataclass(frozen=True)
class Row:
    chart: str
    path: str
    count: int
    what: str
    resources: dict[str, dict[str, str]]

    @property
    def cpu_millis(self) -> int:
        return self.count * cpu_millis(self.resources["requests"]["cpu"])

    @property
    def memory_mib(self) -> float:
        return self.count * memory_mib(self.resources["requests"]["memory"])


def rows(values_by_chart: dict[str, dict[str, Any]]) -> list[Row]:
    found = []
    for chart, path, count, what in CONTAINERS:
        node: Any = values_by_chart[chart]
        for part in path.split("."):
            node = node[part]
        found.append(Row(chart, path, count, what, node))
    return found


def main() -> None:
    from tests.harness import run_program
    from tests.platform_support import RELEASE_TYPE

    program = run_program("dev")
    values = {r.inputs["chart"]: r.inputs.get("values", {}) for r in program.of_type(RELEASE_TYPE)}
    table = rows(values)
    print("| Container | Count | CPU request | Memory request | CPU limit | Memory limit |")
    print("|---|---|---|---|---|---|")
    for row in table:
        req, lim = row.resources["requests"], row.resources["limits"]
        print(f"| {row.what} | {row.count} | {req['cpu']} | {req['memory']} | {lim['cpu']} | {lim['memory']} |")
    cpu = sum(r.cpu_millis for r in table)
    memory = sum(r.memory_mib for r in table)
    print(f"\nTotal requests: {cpu / 1000:.2f} vCPU, {memory / 1024:.2f} GiB "
          f"(budget {MAX_CPU_MILLIS / 1000:.0f} vCPU, {MAX_MEMORY_MIB / 1024:.0f} GiB)")


if __name__ == "__main__":
    main()
