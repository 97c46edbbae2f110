"""benchmarks/idle_guard_replay.py evaluates the deployed idle rule the way the CloudWatch alarm does."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

from benchmarks.idle_guard_replay import TIMESTAMP_FORMAT, first_stop, parse_trace
from components.cost_guards import idle_rule
from tests.conftest import ROOT
from tests.harness import run_program

START = datetime(2026, 12, 4, 17, 0, tzinfo=timezone.utc)
RULE = idle_rule(60, 4, 5.0, 0.0)


def _trace(minutes: list[float], gpus: int = 4, busy_gpu_only: bool = False) -> list[str]:
    """One sample a minute; with busy_gpu_only, only GPU 0 shows the value and the others idle."""
    lines = []
    for minute, value in enumerate(minutes):
        when = (START + timedelta(minutes=minute)).strftime(TIMESTAMP_FORMAT)
        lines += [f"{when}, {gpu}, {value if gpu == 0 or not busy_gpu_only else 0}" for gpu in range(gpus)]
    return lines


def test_the_replay_uses_the_rule_the_alarm_is_deployed_with():
    alarm = run_program("dev").one("aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == (
        RULE.namespace, RULE.metric_name, RULE.statistic
    )
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["threshold"]) == (
        RULE.period_seconds, RULE.periods, RULE.threshold
    )


def test_serving_then_idle_stops_after_twelve_idle_periods():
    stop = first_stop(parse_trace(_trace([80.0] * 30 + [0.0] * 90)), RULE)
    assert stop == START + timedelta(minutes=30 + 60)


def test_one_busy_gpu_keeps_the_host_up():
    """Maximum over every GPU: one replica on one GPU is a host in use."""
    assert first_stop(parse_trace(_trace([40.0] * 120, busy_gpu_only=True)), RULE) is None


def test_a_short_burst_restarts_the_idle_window():
    minutes = [0.0] * 50 + [30.0] + [0.0] * 69
    assert first_stop(parse_trace(_trace(minutes)), RULE) == START + timedelta(minutes=55 + 60)


def test_a_gap_in_the_samples_is_not_idle_time():
    lines = _trace([0.0] * 40) + [
        line.replace("17:", "18:", 1) for line in _trace([0.0] * 40)
    ]  # 17:00-17:39, nothing until 18:00, then 18:00-18:39
    assert first_stop(parse_trace(lines), RULE) is None


def test_the_example_replay_reports_when_the_stop_fires():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "idle_guard_replay.py"), "--example"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "stop: fires at 19:30 UTC, 61 min after the last busy sample" in result.stdout
