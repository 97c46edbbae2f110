"""Signals settings: SLO targets on real bucket bounds, a sane objective, well-formed API prices."""

from __future__ import annotations

import pytest

from dashboards.config import from_stack
from stack.config import ConfigError, parse, raw_from_files


def _parse(**overrides):
    return parse("dev", {**raw_from_files("dev"), **overrides})


def test_defaults_come_from_pulumi_yaml():
    signals = _parse().signals
    assert (signals.ttft_target_seconds, signals.itl_target_seconds, signals.e2e_target_seconds) == (0.5, 0.1, 20.0)
    assert signals.slo_objective == 0.99
    assert [api.name for api in signals.commercial_api_prices] == ["gpt-4o", "gpt-4o-mini", "claude-sonnet"]


def test_spec_carries_price_gpus_budget_and_targets():
    spec = from_stack(_parse(hourlyPriceUsd="3.5", monthlyBudgetUsd="600", ttftTargetSeconds="1.0"))
    assert (spec.cost.usd_per_hour, spec.cost.gpu_count, spec.cost.monthly_budget_usd) == (3.5, 4, 600.0)
    assert spec.slo.ttft_seconds == 1.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ttftTargetSeconds": "0.3"}, "ttftTargetSeconds: '0.3' is not a bucket bound of the vLLM histogram; allowed: 0.001"),
        ({"itlTargetSeconds": "fast"}, "itlTargetSeconds: 'fast' is not a positive amount"),
        ({"e2eLatencyTargetSeconds": ""}, "e2eLatencyTargetSeconds is required; allowed: 0.3"),
        ({"sloObjective": "1.5"}, "sloObjective: '1.5' is out of range"),
        ({"commercialApiPrices": ["gpt=cheap"]}, "commercialApiPrices: 'gpt=cheap' is not a price; allowed: name=inputUsd/outputUsd"),
        ({"commercialApiPrices": ["a=1/2", "a=3/4"]}, "commercialApiPrices: names must be unique"),
        ({"gpuIdleUtilisationPercent": 140}, "gpuIdleUtilisationPercent: 140 is out of range; allowed: a whole number from 0 to 100"),
        ({"queueAlertRequests": 0}, "queueAlertRequests: 0 is out of range"),
    ],
)
def test_bad_signals_settings_are_refused_naming_the_key(overrides, message):
    with pytest.raises(ConfigError) as error:
        _parse(**overrides)
    assert message in str(error.value)
