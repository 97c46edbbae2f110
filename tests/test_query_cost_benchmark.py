"""The query-cost benchmark still runs against the code (it is not a timed test: it only has to import,
order the rules for backfilling, pick Grafana's step and add up evaluations per hour correctly)."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import ROOT
from tests.signals_support import bundle_for, recorded_names

_spec = importlib.util.spec_from_file_location("query_cost", ROOT / "benchmarks" / "query_cost.py")
query_cost = importlib.util.module_from_spec(_spec)
sys.modules["query_cost"] = query_cost  # its dataclasses look their module up
_spec.loader.exec_module(query_cost)


def test_rule_levels_order_every_recording_rule_after_what_it_reads():
    bundle = bundle_for(monthlyBudgetUsd="1500")
    levels = query_cost.rule_levels(bundle.rules)
    assert {rule["record"] for level in levels for rule in level} == recorded_names(bundle)


def test_the_step_is_grafanas_min_interval_when_longer():
    assert [query_cost.step_seconds(v) for v in (None, "", "30s", "5m", "10m")] == [60, 60, 60, 300, 600]


def test_rule_cost_is_each_groups_time_times_its_evaluations_per_hour(monkeypatch):
    class Clock:
        """Every instant query takes half a second of a fake clock."""

        now = 0.0

    def perf_counter():
        Clock.now += 0.5
        return Clock.now

    class Prometheus:
        def query(self, expr, at):
            return []

    rules = {"d": {"groups": [{"name": "a", "rules": [{"record": "x", "expr": "1"}, {"alert": "y", "expr": "2"}]},
                              {"name": "b", "interval": "1m", "rules": [{"record": "z", "expr": "3"}]}]}}
    monkeypatch.setattr(query_cost.time, "perf_counter", perf_counter)
    per_hour, timed = query_cost.rule_cost(Prometheus(), rules, 0, repeat=1)
    # Group a: 2 rules x 0.5 s, 120 evaluations an hour (30 s); group b: 0.5 s, 60 an hour.
    assert (per_hour, timed) == (2 * 0.5 * 120 + 0.5 * 60, 3)
