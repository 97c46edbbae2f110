"""Query cost of our dashboards against the peers' on the same day of data, as Grafana would run them.

    python benchmarks/query_cost.py [--workdir build/bench] [--repeat 3]

1. Writes 24 h of synthetic series for 4 vLLM engines and 4 GPUs (tests/synthetic.py: the pinned
   versions' names and labels, 30 s resolution), plus the collector exporter's series replayed from one
   run of the real Llama Stack server and workload (tests/real_stack.py, needs .venv-llama-stack), and
   backfills them with `promtool tsdb create-blocks-from openmetrics`.
2. Backfills our recording rules over the same day (`promtool tsdb create-blocks-from rules`, one
   pass per dependency level, since a pass only sees series already in the TSDB).
3. Starts Prometheus (Debian's 2.42) on that data and runs every Prometheus panel query of our
   dashboards and of the peer dashboards in ../shared/reference/anchor-dashboards/ as a 24 h range
   query with a 60 s step (longer where a query or panel sets a longer "Min interval", as Grafana
   does), variables resolved to the first value their label_values() query finds
   ($__rate_interval = 2m: four 30 s scrapes). Reports per-panel and per-dashboard times (best of
   --repeat runs), the ratios, and how many panels find data.
4. The cost of the recording rules and alerts themselves: on the same day of data, and on a day for 32
   engines (and 32 GPUs) built the same way, every rule's expression is timed as an instant query at
   the end of the day (best of --repeat), and each group's time is multiplied by its evaluations per
   hour (its own interval, else the operator's default 30 s): Prometheus's evaluation seconds per hour.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboards import to_yaml  # noqa: E402
from tests import prometheus_server, real_stack, synthetic  # noqa: E402
from tests.collector_translation import replay_of  # noqa: E402
from tests.signals_support import bundle_for, metric_names, substitute  # noqa: E402

DAY = 24 * 3600
RESOLUTION = 30
STEP = 60
# The peers' dashboards are reference material beside the repository (../shared, or beside a worktrees'
# folder), not part of it: --peers points elsewhere.
PEER_CANDIDATES = [base / "shared" / "reference" / "anchor-dashboards" for base in (ROOT.parent, ROOT.parent.parent)]
# The prometheus-operator's evaluation interval when a group sets none (kube-prometheus-stack keeps it).
DEFAULT_EVALUATION_SECONDS = 30
RULE_COST_ENGINES = (4, 32)
GRAFANA = {"$__rate_interval": "2m", "${__rate_interval}": "2m", "$__interval": "1m", "${__interval}": "1m",
           "$__range": "1d", "$__range_s": "86400", "$__interval_ms": "60000"}


@dataclass
class Timing:
    dashboard: str
    panel: str
    panel_index: int
    seconds: float
    has_data: bool


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def collector_series(workdir: Path):
    """The collector exporter's series: what one real run of Llama Stack and the workload sent."""
    runs = real_stack.run(workdir / "real-stack")
    replay = replay_of(next(runs))
    runs.close()
    return replay.series


def backfill_raw(data: Path, start: int, end: int, engines: int, collector_exporter) -> None:
    chunk = 2 * 3600
    for chunk_start in range(start, end, chunk):
        path = data.parent / "chunk.om"
        with path.open("w") as out:
            synthetic.openmetrics(chunk_start, min(chunk_start + chunk - RESOLUTION, end), RESOLUTION, out,
                                  collector_exporter, engines)
        _run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path), str(data)])
        path.unlink()


def rule_levels(rules: dict) -> list[list[dict]]:
    """Recording rules grouped so each level reads only raw series and earlier levels."""
    records = [r for body in rules.values() for g in body["groups"] for r in g["rules"] if "record" in r]
    recorded = {r["record"] for r in records}
    level: dict[str, int] = {}
    remaining = list(records)
    while remaining:
        progressed = []
        for rule in remaining:
            deps = metric_names(rule["expr"]) & recorded
            if all(d in level for d in deps if d != rule["record"]):
                level.setdefault(rule["record"], 1 + max((level[d] for d in deps if d != rule["record"]), default=0))
                progressed.append(rule)
        if not progressed:
            raise SystemExit("recording rules depend on each other in a cycle")
        remaining = [r for r in remaining if r not in progressed]
    levels: list[list[dict]] = []
    for rule in records:
        index = level[rule["record"]] - 1
        while len(levels) <= index:
            levels.append([])
        levels[index].append(rule)
    return levels


def backfill_rules(workdir: Path, data: Path, rules: dict, start: int, end: int) -> None:
    for index, level in enumerate(rule_levels(rules)):
        rule_file = workdir / f"level{index}.yaml"
        rule_file.write_text(to_yaml({"groups": [{"name": f"level{index}", "rules": level}]}))
        server = prometheus_server.start("prometheus", workdir / "server", {"global": {}}, [],
                                         data)
        out = workdir / f"rules-{index}"
        shutil.rmtree(out, ignore_errors=True)
        try:
            _run(["promtool", "tsdb", "create-blocks-from", "rules", f"--start={start}", f"--end={end}",
                  f"--url={server.url}", f"--output-dir={out}", "--eval-interval=60s", str(rule_file)])
        finally:
            server.stop()
        for block in out.iterdir():
            if block.is_dir():
                shutil.move(str(block), data / block.name)
        print(f"  rules level {index + 1}: {len(level)} recording rules", flush=True)


def compact(workdir: Path, data: Path) -> None:
    """Let Prometheus merge the many small backfilled blocks (one per rule and 2 h) before measuring,
    as it would on its own within minutes of a real backfill."""
    server = prometheus_server.start("prometheus", workdir / "server", {"global": {}}, [], data)
    try:
        previous, stable = -1, 0
        while stable < 3:
            time.sleep(20)
            blocks = sum(1 for p in data.iterdir() if p.is_dir() and len(p.name) == 26)
            stable = stable + 1 if blocks == previous else 0
            previous = blocks
        print(f"  compacted to {previous} blocks", flush=True)
    finally:
        server.stop()


def _substitute(expr: str, values: dict[str, str]) -> str:
    for name, value in GRAFANA.items():
        expr = expr.replace(name, value)
    expr = re.sub(r"\[\[(\w+)\]\]", lambda m: "$" + m.group(1), expr)
    return substitute(expr, values)


def resolve(prometheus, dashboard: dict, start: int, end: int) -> dict[str, str]:
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name, kind = variable.get("name"), variable.get("type")
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        current = (variable.get("current") or {}).get("value")
        if kind == "query" and query:
            match = re.fullmatch(r"\s*label_values\((?:(.+),)?\s*(\w+)\s*\)\s*", query)
            found = []
            if match:
                selector = _substitute(match.group(1), values) if match.group(1) else '{__name__=~".+"}'
                found = prometheus.label_values(match.group(2), selector, start, end)
            values[name] = sorted(found)[0] if found else ".*"
        elif kind in ("custom", "constant", "textbox", "interval"):
            if isinstance(current, list):
                current = current[0] if current else ""
            values[name] = str(current if current not in (None, "$__all") else ".*")
    return values


def prometheus_targets(dashboard: dict):
    def walk(panels):
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels", []))

    for index, panel in enumerate(walk(dashboard.get("panels", []))):
        for target in panel.get("targets", []):
            if target.get("expr") and not target.get("hide"):
                yield index, panel.get("title", "?"), target["expr"], target.get("interval") or panel.get("interval")


def step_seconds(min_interval: str | None) -> int:
    """Grafana's step: the default, or the query's (else the panel's) "Min interval" when longer."""
    match = re.fullmatch(r"(\d+)([smhd])", min_interval or "")
    if not match:
        return STEP
    return max(STEP, int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)])


def measure(prometheus, name: str, dashboard: dict, start: int, end: int, repeat: int) -> list[Timing]:
    values = resolve(prometheus, dashboard, start, end)
    timings = []
    for index, title, expr, min_interval in prometheus_targets(dashboard):
        query = _substitute(expr, values)
        best, result = float("inf"), []
        for _ in range(repeat):
            began = time.perf_counter()
            try:
                result = prometheus.query_range(query, start, end, step_seconds(min_interval))
            except RuntimeError:
                result = []
            best = min(best, time.perf_counter() - began)
        timings.append(Timing(name, title, index, best, bool(result)))
    return timings


def rule_cost(prometheus, rules: dict, at: int, repeat: int) -> tuple[float, int]:
    """(Evaluation seconds per hour, rules timed): each rule's expression as an instant query at ``at``
    (best of ``repeat``), summed per group and multiplied by the group's evaluations per hour."""
    per_hour, timed = 0.0, 0
    for body in rules.values():
        for group in body["groups"]:
            interval = group.get("interval")
            seconds = int(interval[:-1]) * 60 if interval and interval.endswith("m") else DEFAULT_EVALUATION_SECONDS
            group_seconds = 0.0
            for rule in group["rules"]:
                best = float("inf")
                for _ in range(repeat):
                    began = time.perf_counter()
                    prometheus.query(rule["expr"], at)
                    best = min(best, time.perf_counter() - began)
                group_seconds += best
                timed += 1
            per_hour += group_seconds * 3600 / seconds
    return per_hour, timed


def build_day(workdir: Path, rules: dict, engines: int, reuse: bool, collector_exporter) -> tuple[Path, int, int]:
    """A day of synthetic data for ``engines`` engines, with the recording rules backfilled, compacted."""
    data, stamp = workdir / "data", workdir / "range.json"
    if reuse and stamp.exists():
        start, end = json.loads(stamp.read_text())
        return data, start, end
    shutil.rmtree(workdir, ignore_errors=True)
    data.mkdir(parents=True)
    end = int(time.time()) // 3600 * 3600
    start = end - DAY
    for step, action in (("raw backfill", lambda: backfill_raw(data, start, end, engines, collector_exporter)),
                         ("rules backfill", lambda: backfill_rules(workdir, data, rules, start, end)),
                         ("compaction", lambda: compact(workdir, data))):
        began = time.perf_counter()
        action()
        print(f"{engines} engines, {step}: {time.perf_counter() - began:.0f} s", flush=True)
    stamp.write_text(json.dumps([start, end]))
    return data, start, end


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def _panels(timings: list[Timing]) -> dict[tuple[str, int], bool]:
    panels: dict[tuple[str, int], bool] = {}
    for t in timings:
        panels[(t.dashboard, t.panel_index)] = panels.get((t.dashboard, t.panel_index), False) or t.has_data
    return panels


def report(ours: list[Timing], peers: list[Timing]) -> str:
    lines = ["| Dashboard | Panels | Panels with data | Queries | Queries with data | Total s | Slowest query s |",
             "|---|---|---|---|---|---|---|"]
    summary: dict[str, dict[str, float]] = {}
    for side, timings in (("ours", ours), ("peers", peers)):
        by_dashboard: dict[str, list[Timing]] = {}
        for t in timings:
            by_dashboard.setdefault(t.dashboard, []).append(t)
        for dashboard, items in sorted(by_dashboard.items()):
            panels = _panels(items)
            lines.append(f"| {side}: {dashboard} | {len(panels)} | {sum(panels.values())} | {len(items)} | "
                         f"{sum(t.has_data for t in items)} | {sum(t.seconds for t in items):.3f} | "
                         f"{max(t.seconds for t in items):.3f} |")
        summary[side] = {
            "slowest_dashboard": max(sum(t.seconds for t in items) for items in by_dashboard.values()),
            "p95_query": p95([t.seconds for t in timings]),
            "with_data": sum(t.has_data for t in timings),
            "queries": len(timings),
            "panels": len(_panels(timings)),
            "panels_with_data": sum(_panels(timings).values()),
        }
    o, p = summary["ours"], summary["peers"]
    lines += [
        "",
        f"Slowest dashboard: ours {o['slowest_dashboard']:.3f} s, peers {p['slowest_dashboard']:.3f} s, "
        f"ratio {o['slowest_dashboard'] / p['slowest_dashboard']:.2f}",
        f"p95 query: ours {o['p95_query'] * 1000:.1f} ms, peers {p['p95_query'] * 1000:.1f} ms, "
        f"ratio {o['p95_query'] / p['p95_query']:.2f}",
        f"Queries finding data: ours {o['with_data']}/{o['queries']}, peers {p['with_data']}/{p['queries']}",
        f"Panels finding data (any query): ours {o['panels_with_data']}/{o['panels']}, "
        f"peers {p['panels_with_data']}/{p['panels']}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="reuse the data already backfilled in --workdir")
    parser.add_argument("--json", type=Path, help="also write every per-query timing here")
    parser.add_argument("--peers", type=Path, default=next((c for c in PEER_CANDIDATES if c.is_dir()), PEER_CANDIDATES[0]),
                        help="folder of the peer dashboards' JSON (default ../shared/reference/anchor-dashboards)")
    args = parser.parse_args()
    if not sorted(args.peers.glob("*.json")):
        parser.error(f"--peers {args.peers}: no peer dashboards (*.json) there")
    bundle = bundle_for(monthlyBudgetUsd="1500")
    rule_costs: dict[int, tuple[float, int]] = {}
    collector_exporter = None
    ours: list[Timing] = []
    peers: list[Timing] = []
    for engines in RULE_COST_ENGINES:
        workdir = args.workdir if engines == RULE_COST_ENGINES[0] else args.workdir / f"engines-{engines}"
        if collector_exporter is None and not (args.reuse and (workdir / "range.json").exists()):
            collector_exporter = collector_series(args.workdir)
        data, start, end = build_day(workdir, bundle.rules, engines, args.reuse, collector_exporter)
        server = prometheus_server.start("prometheus", workdir / "server", {"global": {}}, [], data)
        try:
            rule_costs[engines] = rule_cost(server, bundle.rules, end, args.repeat)
            if engines != RULE_COST_ENGINES[0]:
                continue
            for uid, dashboard in bundle.dashboards.items():
                ours += measure(server, uid, dashboard, start, end, args.repeat)
            for path in sorted(args.peers.glob("*.json")):
                peers += measure(server, path.stem, json.loads(path.read_text()), start, end, args.repeat)
        finally:
            server.stop()
    print(report(ours, peers))
    for engines, (per_hour, timed) in rule_costs.items():
        print(f"Rule evaluation, {engines} engines: {per_hour:.1f} s per hour ({timed} rules and alerts; "
              f"{per_hour / 36:.2f}% of one core)")
    if args.json:
        args.json.write_text(json.dumps([t.__dict__ for t in ours + peers], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
