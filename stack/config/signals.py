"""What the dashboards, recording rules and alerts are tuned by, and what the stack costs per hour."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from stack import catalogue
from stack.catalogue import InstanceType
from stack.config.cluster import ClusterConfig
from stack.config.common import decimal, integer, qualified, shown

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0)
REQUEST_LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                           120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
_API_PRICE = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]{0,62})=(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", re.ASCII)


@dataclass(frozen=True)
class CostConfig:
    """The money side, shared by the cost signals and the AWS-side cost guards."""

    usd_per_hour: float
    # True when usd_per_hour is the hourlyPriceUsd setting, which overrides every other price.
    price_from_setting: bool
    gpu_count: int
    monthly_budget_usd: float | None


@dataclass(frozen=True)
class ApiPrice:
    """A commercial API's list price per million tokens, to compare the self-hosted cost against."""

    name: str
    input_usd_per_million: float
    output_usd_per_million: float


@dataclass(frozen=True)
class SignalsConfig:
    """What the dashboards, recording rules and alerts are tuned by (latency targets, thresholds)."""

    ttft_target_seconds: float
    itl_target_seconds: float
    e2e_target_seconds: float
    slo_objective: float
    commercial_api_prices: tuple[ApiPrice, ...]
    gpu_idle_utilisation_percent: int
    queue_alert_requests: int


def _bucket_target(raw: Mapping[str, Any], key: str, buckets: tuple[float, ...], problems: list[str]) -> float:
    allowed = ", ".join(repr(b) for b in buckets)
    value = decimal(raw, key, problems)
    if value is None:
        if raw.get(key) in (None, ""):
            problems.append(f"{qualified(key)} is required; allowed: {allowed}")
        return buckets[0]
    if value not in buckets:
        problems.append(f"{qualified(key)}: {shown(raw.get(key))} is not a bucket bound of the vLLM histogram; allowed: {allowed}")
    return value


def _slo_objective(raw: Mapping[str, Any], problems: list[str]) -> float:
    value = decimal(raw, "sloObjective", problems)
    if value is None or not 0.5 <= value <= 0.9999:
        problems.append(f"{qualified('sloObjective')}: {shown(raw.get('sloObjective'))} is out of range; allowed: a decimal string from \"0.5\" to \"0.9999\"")
        return 0.99
    return value


def _api_prices(raw: Mapping[str, Any], problems: list[str]) -> tuple[ApiPrice, ...]:
    entries = raw.get("commercialApiPrices") or []
    prices: list[ApiPrice] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        match = _API_PRICE.fullmatch(str(entry))
        if not match:
            problems.append(
                f"{qualified('commercialApiPrices')}: {shown(entry)} is not a price; allowed: name=inputUsd/outputUsd "
                "per million tokens, like gpt-4o=2.50/10.00"
            )
            continue
        prices.append(ApiPrice(match.group(1), float(match.group(2)), float(match.group(3))))
    names = [p.name for p in prices]
    if len(set(names)) != len(names):
        problems.append(f"{qualified('commercialApiPrices')}: names must be unique, got {names}")
    return tuple(prices)


def hourly_cost(cluster: ClusterConfig, instance: InstanceType) -> float:
    """List price of what the stack runs on: every GPU node, and on EKS the system nodes and control plane."""
    cost = cluster.gpu_nodes * instance.usd_per_hour
    if cluster.backend == "eks":
        cost += cluster.eks_system_nodes * cluster.eks_system_instance.usd_per_hour
        cost += catalogue.EKS_CONTROL_PLANE_USD_PER_HOUR
    return round(cost, 6)


def parse(raw: Mapping[str, Any], problems: list[str]) -> SignalsConfig:
    return SignalsConfig(
        ttft_target_seconds=_bucket_target(raw, "ttftTargetSeconds", TTFT_BUCKETS, problems),
        itl_target_seconds=_bucket_target(raw, "itlTargetSeconds", ITL_BUCKETS, problems),
        e2e_target_seconds=_bucket_target(raw, "e2eLatencyTargetSeconds", REQUEST_LATENCY_BUCKETS, problems),
        slo_objective=_slo_objective(raw, problems),
        commercial_api_prices=_api_prices(raw, problems),
        gpu_idle_utilisation_percent=integer(raw, "gpuIdleUtilisationPercent", 0, 100, problems),
        queue_alert_requests=integer(raw, "queueAlertRequests", 1, 100000, problems),
    )
