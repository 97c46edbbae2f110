"""Llama Stack's latency histograms: quantiles only where its buckets are in seconds, means elsewhere.

Llama Stack 0.7.3 records its request, inference, TTFT and tool durations in seconds, but creates them
without bucket bounds, so the OpenTelemetry SDK's millisecond defaults (0, 5, 10, ... 10000) apply: every
sub-5-second call lands in one bucket and any quantile of them is meaningless. Nothing downstream can
repair that:
- the SDK's environment chooses only the kind of histogram (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_
  AGGREGATION: explicit or base-2 exponential, exporter/otlp/proto/common metrics_encoder at 1.39.1), never
  bounds or views, and Llama Stack passes no views to its MeterProvider (telemetry/__init__.py);
- the collector cannot split a bucket it receives: the observations are already counted together;
- exponential histograms from the SDK, re-bucketed by the collector's OTTL
  convert_exponential_histogram_to_histogram, would estimate counts from the exponential buckets' edges,
  and would also replace the explicit bounds the vector_io histograms do have.
So the dashboards and rules read those histograms only as means (_sum / _count), and take quantiles only
of the vector_io histograms, whose explicit bounds Llama Stack sets itself (0.005 s to 60 s). The facts
come from tests/reference/llama-stack-histograms.txt (scripts/refresh-reference.py).
"""

from __future__ import annotations

import pytest

from dashboards.catalogue import FIRST_BUCKET
from tests.collector_translation import replay_of
from tests.conftest import ROOT
from tests.signals_support import bundle_for, metric_names, panel_queries, rule_exprs, substitute

REFERENCE = ROOT / "tests" / "reference" / "llama-stack-histograms.txt"
# The OpenTelemetry SDK's default bounds (opentelemetry-sdk 1.39.1, the version llama-stack 0.7.3's lock pins:
# sdk/metrics/_internal/aggregation.py), made for milliseconds.
SDK_DEFAULT_BOUNDS = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)
# The collector's prometheus exporter appends the unit's suffix unless the name already ends with it.
UNIT_SUFFIXES = {"s": "_seconds", "-": ""}


def llama_stack_histograms() -> dict[str, tuple[float, ...] | None]:
    """Prometheus family name -> explicit bucket bounds, or None for the SDK's millisecond defaults."""
    histograms: dict[str, tuple[float, ...] | None] = {}
    for line in REFERENCE.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, unit, bounds = line.split("\t")
        family = name.replace(".", "_")
        suffix = UNIT_SUFFIXES[unit]
        family += "" if family.endswith(suffix) else suffix
        histograms[family] = None if bounds == "sdk-default" else tuple(map(float, bounds.split(",")))
    return histograms


def _expressions():
    bundle = bundle_for(monthlyBudgetUsd="1500")
    yield from ((f"{uid} / {title}", substitute(expr)) for uid, title, expr in panel_queries(bundle))
    yield from ((f"rule {name}", expr) for name, expr in rule_exprs(bundle))


def test_the_reference_knows_which_llama_stack_histograms_have_second_scale_bounds():
    histograms = llama_stack_histograms()
    assert histograms["llama_stack_inference_duration_seconds"] is None
    assert histograms["llama_stack_inference_time_to_first_token_seconds"] is None
    assert histograms["llama_stack_request_duration_seconds"] is None
    assert histograms["llama_stack_vector_io_retrieval_duration_seconds"][0] == 0.005


def test_buckets_are_read_only_from_llama_stack_histograms_with_explicit_second_scale_bounds():
    histograms = llama_stack_histograms()
    read_buckets = {}
    for where, expr in _expressions():
        for name in metric_names(expr):
            if name.startswith("llama_stack_") and name.endswith("_bucket"):
                read_buckets.setdefault(name.removesuffix("_bucket"), []).append(where)
    assert read_buckets, "no Llama Stack histogram is read by its buckets: is the retrieval p95 gone?"
    for family, where in read_buckets.items():
        bounds = histograms.get(family)
        assert bounds is not None, f"{family} has the SDK's millisecond buckets; read its _sum/_count ({where})"
        # Second-scale: finer than a second at the bottom, tens of seconds at the top.
        assert bounds[0] < 0.1 and bounds[-1] >= 10, f"{family}: bounds {bounds}"


@pytest.mark.parametrize("family", sorted(f for f, b in llama_stack_histograms().items() if b is None))
def test_millisecond_bucket_histograms_are_read_only_as_means(family):
    reads = [(where, name) for where, expr in _expressions() for name in metric_names(expr) if name.startswith(family)]
    assert {name for _, name in reads} <= {f"{family}_sum", f"{family}_count"}, reads


def test_the_quantile_guard_of_a_llama_stack_histogram_is_its_first_bound():
    histograms = llama_stack_histograms()
    guards = {family: bound for family, bound in FIRST_BUCKET.items() if family.startswith("llama_stack_")}
    assert guards and {family: histograms[family][0] for family in guards} == guards


def test_llama_stack_keeps_explicit_bucket_histograms(dev_program):
    """Exponential aggregation would also replace the vector_io histograms' explicit bounds."""
    deployment = dev_program.one("kubernetes:apps/v1:Deployment", "llama-stack")
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env.get("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "explicit_bucket_histogram") == (
        "explicit_bucket_histogram")


def test_the_real_server_sends_its_histograms_with_the_bounds_the_reference_lists(real_run):
    """The reference is what Llama Stack 0.7.3 really emits: SDK defaults where it passes no bounds."""
    histograms = llama_stack_histograms()
    seen: dict[str, set[float]] = {}
    for metric, labels, _ in replay_of(real_run).samples:
        if metric.startswith("llama_stack_") and metric.endswith("_bucket") and labels["le"] != "+Inf":
            seen.setdefault(metric.removesuffix("_bucket"), set()).add(float(labels["le"]))
    assert {"llama_stack_inference_duration_seconds", "llama_stack_vector_io_retrieval_duration_seconds"} <= seen.keys()
    assert seen == {family: set(histograms[family] or SDK_DEFAULT_BOUNDS) for family in seen}
