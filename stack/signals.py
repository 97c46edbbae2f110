"""The signals of one environment: dashboards and rules rendered from the stack's settings, on the cluster."""

from __future__ import annotations

import pulumi_aws as aws

import dashboards
from components.cluster import KubernetesCluster
from components.signals import Signals, SignalsArgs
from dashboards.config import from_stack as signals_spec
from stack.config import StackConfig
from stack.platform import Platform

# The Spot price history's product for a Linux host in a VPC (DescribeSpotPriceHistory filter).
SPOT_PRODUCT = "Linux/UNIX"


def spot_price(config: StackConfig) -> float | None:
    """The host type's latest Spot price, read from AWS's Spot price history at deploy time (in the
    subnet's zone when one is set), when the host runs on Spot and no hourlyPriceUsd overrides it."""
    if not config.cost_guards.spot_instances or config.cost.price_from_setting:
        return None
    zone = aws.ec2.get_subnet(id=config.host.subnet_id).availability_zone if config.host.subnet_id else None
    result = aws.ec2.get_spot_price(
        instance_type=config.host.instance.name,
        availability_zone=zone,
        filters=[{"name": "product-description", "values": [SPOT_PRODUCT]}],
    )
    return float(result.spot_price)


def build_signals(name: str, config: StackConfig, cluster: KubernetesCluster, platform: Platform) -> Signals:
    """Dashboards as ConfigMaps for Grafana's sidecar and rules as PrometheusRules, after the CRDs exist."""
    spec = signals_spec(config, spot_price(config))
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
