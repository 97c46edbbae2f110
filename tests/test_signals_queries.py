"""Every PromQL expression (panels, variables, rules) parses, and every metric it reads is one the
pinned versions export (dashboards/catalogue.py), one of our recording rules, or a standard series.
The catalogue itself is cross-checked against the upstream catalogues kept in tests/reference."""

from __future__ import annotations

import re

import pytest

from dashboards import catalogue
from tests.dcgm_counters_reader import read_counters
from tests.platform_support import REFERENCE
from tests.signals_support import bundle_for, metric_names, panel_queries, recorded_names, rule_exprs, substitute

VARIANTS = ({}, {"monthlyBudgetUsd": "1500"}, {"commercialApiPrices": []})


def _variable_selectors(bundle):
    for uid, body in bundle.dashboards.items():
        for variable in body["templating"]["list"]:
            if variable["type"] == "query":
                match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"])
                assert match, f"{uid}: variable {variable['name']} is not label_values(selector, label)"
                yield uid, variable["name"], match.group(1)


@pytest.mark.parametrize("overrides", VARIANTS)
def test_every_expression_parses_and_reads_only_known_metrics(overrides):
    bundle = bundle_for(**overrides)
    known = catalogue.all_exported() | recorded_names(bundle)
    unknown = []
    expressions = [(f"{uid} / {title}", expr) for uid, title, expr in panel_queries(bundle)]
    expressions += [(f"{uid} / variable {name}", expr) for uid, name, expr in _variable_selectors(bundle)]
    expressions += [(f"rule {name}", expr) for name, expr in rule_exprs(bundle)]
    assert len(expressions) > 150
    for where, expr in expressions:
        names = metric_names(substitute(expr))
        assert names or expr.startswith("vector("), f"{where}: reads no metric"
        unknown += [f"{where}: {name}" for name in names - known]
    assert unknown == []


def test_every_recording_rule_is_read_by_a_panel_or_a_rule():
    bundle = bundle_for(monthlyBudgetUsd="1500")
    read = set()
    for _, _, expr in panel_queries(bundle):
        read |= metric_names(substitute(expr))
    for _, expr in rule_exprs(bundle):
        read |= metric_names(expr)
    unused = recorded_names(bundle) - read
    # Quantile siblings (p50/p99 next to a used p95) are kept for ad-hoc queries and alert tuning.
    unused = {name for name in unused if not re.search(r":p(50|99)_5m$", name)}
    assert unused == set()


def test_dashboards_query_recorded_series_for_histograms():
    """Heavy expressions (histogram quantiles over raw buckets) are recorded, except exemplar panels,
    which must read raw buckets because recorded series carry no exemplars."""
    for uid, title, expr in panel_queries(bundle_for()):
        if "histogram_quantile" in expr and "_bucket{" in expr:
            assert "traces_span_metrics_duration_seconds_bucket" in expr, f"{uid} / {title} computes a quantile from raw buckets"


def _reference_names(name: str) -> set[str]:
    """Every name in a reference file's columns (tab-separated, lists comma-separated), comments aside."""
    lines = [line for line in (REFERENCE / name).read_text().splitlines() if line and not line.startswith("#")]
    return {item for line in lines for column in line.split("\t") for item in column.split(",")}


@pytest.mark.parametrize(
    ("source", "reference"),
    [
        ("vllm", "metrics/vllm.txt"),
        # DCGM-Exporter names each series after its DCGM field.
        ("dcgm", "dcgm-fields.txt"),
        ("llm-d-epp", "metrics/llm-d-epp.txt"),
        ("llama-stack", "metrics/llama-stack.txt"),
    ],
)
def test_catalogue_lists_only_series_the_pinned_versions_expose(source, reference):
    missing = sorted(set(catalogue.EXPORTED[source]) - _reference_names(reference))
    assert missing == [], f"names in dashboards/catalogue.py that tests/reference/{reference} does not list"


def test_dcgm_counters_the_dashboards_need_are_all_in_the_catalogue():
    """The platform's counters CSV is generated from catalogue.DCGM_COUNTERS: every DCGM name queried must be there."""
    bundle = bundle_for(monthlyBudgetUsd="1500")
    used = set()
    for _, _, expr in panel_queries(bundle):
        used |= metric_names(substitute(expr))
    for _, expr in rule_exprs(bundle):
        used |= metric_names(expr)
    assert {m for m in used if m.startswith("DCGM_")} <= set(catalogue.DCGM_COUNTERS)


def test_dcgm_counters_csv_keeps_each_counters_type_and_help_through_the_exporters_reader():
    rows = read_counters(catalogue.dcgm_counters_csv())
    assert {name: (kind, text) for name, kind, text in rows} == catalogue.DCGM_COUNTER_HELP


def _quantiles(bundle):
    """(where, expr) of every expression that takes a histogram quantile."""
    for where, expr in [*((f"{uid} / {title}", expr) for uid, title, expr in panel_queries(bundle)),
                        *((f"rule {name}", expr) for name, expr in rule_exprs(bundle))]:
        if "histogram_quantile" in expr:
            yield where, expr


def test_no_quantile_is_shown_inside_the_first_bucket():
    """Each quantile drops values at or under its histogram's first bucket bound, where Prometheus only
    interpolates (1 ms requests read 0.285 s under vLLM's 0.3 s bucket); promtool pins the effect."""
    bundle = bundle_for(router=True)
    recorded = {rule["record"]: rule["expr"] for body in bundle.rules.values() for g in body["groups"]
                for rule in g["rules"] if "record" in rule}
    checked = 0
    for where, expr in _quantiles(bundle):
        match = re.fullmatch(r"histogram_quantile\([\d.]+, (.+)\) > ([\d.e-]+)", expr, re.S)
        assert match, f"{where}: quantile without the first-bucket guard: {expr}"
        read = metric_names(substitute(match.group(1)))
        histograms = {re.sub(r"_bucket$", "", n) for name in read for n in metric_names(recorded.get(name, name))}
        assert len(histograms) == 1, f"{where}: reads {histograms}"
        assert float(match.group(2)) == catalogue.FIRST_BUCKET[histograms.pop()], where
        checked += 1
    assert checked >= 10


def test_queue_and_prefill_are_shown_as_means_and_shares_never_quantiles():
    bundle = bundle_for()
    for _, expr in _quantiles(bundle):
        assert "queue_time" not in expr and "prefill_time" not in expr
    panels = {p.title: p for dash in bundle.specs.values() for p in dash.panels}
    assert "Queue, prefill and decode time p95" not in panels
    shares = panels["Requests queued longer than 0.3, 1, 5, 30 s"]
    assert shares.queries[0].expr.startswith("model_le:vllm_request_queue_time_seconds_over_bound:ratio_rate5m{")
    means = panels["Where request time goes: mean queue, prefill, decode"]
    assert all("_sum:rate5m" in query.expr for query in means.queries)
