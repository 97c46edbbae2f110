"""The prometheus-operator CRDs, installed by their own chart before anything that uses them.

Helm installs the CRDs in a chart's crds/ folder once and never upgrades them; the
kube-prometheus-stack maintainers recommend the separate prometheus-operator-crds chart, whose CRDs
are ordinary templates that Helm upgrades. kube-prometheus-stack then runs with `crds.enabled: false`.
Every release or object that creates a ServiceMonitor, PodMonitor, PrometheusRule or Probe depends on
`ready`, so a first `pulumi up` on an empty cluster never meets "no matches for kind".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi

from components.helm import release
from stack.versions import HelmChart


@dataclass(frozen=True)
class PrometheusCrdsArgs:
    chart: HelmChart
    namespace: str
    # The namespace the release record lives in.
    depends_on: Sequence[pulumi.Resource] = ()


class PrometheusCrds(pulumi.ComponentResource):
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: PrometheusCrdsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:monitoring:PrometheusCrds", name, None, opts)
        crds = release(
            f"{name}-crds", args.chart, args.chart.name, args.namespace, {}, parent=self, depends_on=args.depends_on
        )
        self.ready = [crds]
        self.register_outputs({"status": crds.status})
