"""Replays a GPU utilisation trace against the idle guard's alarm rule and reports when the stop fires.

    python benchmarks/idle_guard_replay.py TRACE.csv [--stack dev]
    python benchmarks/idle_guard_replay.py --example [--stack dev]

TRACE.csv is what `nvidia-smi` writes on the host while you use it and then leave it, e.g.

    nvidia-smi --query-gpu=timestamp,index,utilization.gpu --format=csv,noheader,nounits -l 60 > trace.csv

(one line per GPU per sample: `2026/12/04 17:00:00.000, 0, 87`). The rule is the one the stack deploys
(components/cost_guards.idle_rule with the stack's idleStopMinutes and idleGpuPercent): each 5-minute
period, aligned to the clock as CloudWatch aligns them, is summarised by its Maximum over every GPU's
samples; a period without samples is missing data, which does not count as idle; the alarm fires at the
end of the first run of `idleStopMinutes / 5` consecutive periods all below the threshold.

--example replays a made-up trace (not a recording): 90 minutes of one replica serving, the GPUs busy
between 35% and 95%, then idle GPUs at 0-1%, sampled every minute on 4 GPUs.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.cost_guards import IdleRule, idle_rule  # noqa: E402
from stack.config import load_from_files  # noqa: E402

TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S.%f"
EXAMPLE_START = datetime(2026, 12, 4, 17, 0, tzinfo=timezone.utc)
EXAMPLE_SERVING_MINUTES = 90
EXAMPLE_IDLE_MINUTES = 120
EXAMPLE_GPUS = 4


def parse_trace(lines: list[str]) -> list[tuple[datetime, int, float]]:
    """(time, GPU index, utilisation %) per line of nvidia-smi's CSV (noheader, nounits)."""
    samples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            stamp, index, utilisation = (field.strip() for field in line.split(","))
            when = datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
            samples.append((when, int(index), float(utilisation)))
        except ValueError as error:
            raise SystemExit(f"line {number}: {line.strip()!r} is not 'timestamp, index, utilization.gpu' ({error})") from None
    return samples


def example_trace() -> list[str]:
    lines = []
    for minute in range(EXAMPLE_SERVING_MINUTES + EXAMPLE_IDLE_MINUTES):
        when = (EXAMPLE_START + timedelta(minutes=minute)).strftime(TIMESTAMP_FORMAT)
        for gpu in range(EXAMPLE_GPUS):
            busy = 35 + (minute * 7 + gpu * 13) % 61 if minute < EXAMPLE_SERVING_MINUTES else (minute + gpu) % 2
            lines.append(f"{when}, {gpu}, {busy}")
    return lines


def period_maxima(samples: list[tuple[datetime, int, float]], period_seconds: int) -> dict[datetime, float]:
    """The Maximum of every sample (of every GPU) in each clock-aligned period that has any."""
    maxima: dict[datetime, float] = defaultdict(float)
    for when, _, utilisation in samples:
        start = datetime.fromtimestamp(int(when.timestamp()) // period_seconds * period_seconds, timezone.utc)
        maxima[start] = max(maxima[start], utilisation)
    return dict(maxima)


def first_stop(samples: list[tuple[datetime, int, float]], rule: IdleRule) -> datetime | None:
    """When the alarm would first fire: the end of the rule's run of idle periods, or None."""
    maxima = period_maxima(samples, rule.period_seconds)
    if not maxima:
        return None
    step = timedelta(seconds=rule.period_seconds)
    period, last = min(maxima), max(maxima)
    idle_run = 0
    while period <= last:
        value = maxima.get(period)
        # Missing data is notBreaching: it ends a run instead of extending it.
        idle_run = idle_run + 1 if value is not None and value < rule.threshold else 0
        if idle_run == rule.periods:
            return period + step
        period += step
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", nargs="?", type=Path)
    parser.add_argument("--example", action="store_true", help="replay the made-up serving-then-idle trace")
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()
    if bool(args.trace) == args.example:
        parser.error("give a TRACE file or --example")

    config = load_from_files(args.stack)
    minutes = config.cost_guards.idle_stop_minutes
    if not minutes:
        raise SystemExit(f"stack {args.stack} has no idle guard (idleStopMinutes is 0)")
    rule = idle_rule(minutes, config.host.instance.gpu_count, config.cost_guards.idle_gpu_percent, 0.0)
    lines = example_trace() if args.example else args.trace.read_text().splitlines()
    samples = parse_trace(lines)
    last_busy = max((when for when, _, value in samples if value >= rule.threshold), default=None)
    stop = first_stop(samples, rule)

    print(f"rule: {rule.statistic} of {rule.namespace}/{rule.metric_name} per {rule.period_seconds // 60} min "
          f"< {rule.threshold:g}% in {rule.periods} consecutive periods (stack {args.stack})")
    print(f"trace: {len(samples)} samples from {samples[0][0]:%H:%M} to {samples[-1][0]:%H:%M} UTC")
    print(f"last sample at or above {rule.threshold:g}%: {f'{last_busy:%H:%M}' if last_busy else 'none'}")
    if stop is None:
        print("stop: never fires on this trace")
    else:
        after = f", {(stop - last_busy).total_seconds() / 60:.0f} min after the last busy sample" if last_busy else ""
        print(f"stop: fires at {stop:%H:%M} UTC{after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
