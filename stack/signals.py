"""The signals of one environment: dashboards and rules rendered from the stack's settings, on the cluster."""

from __future__ import annotations

import dashboards
from components.cluster import KubernetesCluster
from components.signals import Signals, SignalsArgs
from dashboards.config import from_stack as signals_spec
from stack.config import StackConfig
from stack.platform import Platform


def build_signals(name: str, config: StackConfig, cluster: KubernetesCluster, platform: Platform) -> Signals:
    """Dashboards as ConfigMaps for Grafana's sidecar and rules as PrometheusRules, after the CRDs exist."""
    spec = signals_spec(config)
    bundle = dashboards.build(spec)
    return Signals(
        name,
        SignalsArgs(
            namespace=platform.namespace,
            folder=spec.folder,
            dashboards=bundle.dashboards,
            rules=bundle.rules,
            provider=cluster.provider,
            depends_on=list(platform.crds_ready),
        ),
    )
