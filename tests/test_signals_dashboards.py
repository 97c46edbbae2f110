"""The dashboards: fixed uids, deterministic JSON, current panel types, a datasource variable (no
hard-coded datasource uid), the namespace/model/GPU variables, units and a description naming the
metric on every panel, links between dashboards; and the render command with its --check mode."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from dashboards import catalogue
from tests.conftest import ROOT, require_tool
from tests.signals_support import bundle_for, metric_names, panel_queries, recorded_names, spec_for, substitute

EXPECTED_UIDS = {
    "llmobs-vllm", "llmobs-gpu", "llmobs-cost", "llmobs-quality", "llmobs-traces", "llmobs-platform",
    "llmobs-developer", "llmobs-sre", "llmobs-business", "llmobs-answers",
}
CURRENT_PANEL_TYPES = {"timeseries", "stat", "bargauge", "table", "heatmap", "row"}


@pytest.fixture(scope="module")
def bundle():
    return bundle_for(monthlyBudgetUsd="1500")


def _panels(body):
    return [p for p in body["panels"] if p["type"] != "row"]


def test_dashboards_have_fixed_uids(bundle):
    assert set(bundle.dashboards) == EXPECTED_UIDS
    assert all(body["uid"] == uid for uid, body in bundle.dashboards.items())


def test_rendering_is_deterministic():
    assert bundle_for().files() == bundle_for().files()


def test_only_current_panel_types(bundle):
    for body in bundle.dashboards.values():
        assert {p["type"] for p in body["panels"]} <= CURRENT_PANEL_TYPES


def test_no_hard_coded_datasource_uid(bundle):
    for uid, body in bundle.dashboards.items():
        for panel in _panels(body):
            assert panel["datasource"]["uid"] in ("${datasource}", "${traces}"), f"{uid}: {panel['title']}"
            for target in panel.get("targets", []):
                assert "datasource" not in target or target["datasource"]["uid"].startswith("${")
        variable_types = {v["name"]: v for v in body["templating"]["list"]}
        assert variable_types["datasource"]["type"] == "datasource"
        assert variable_types["datasource"]["query"] == "prometheus"
        for variable in body["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"]["uid"] == "${datasource}"


def test_only_trace_links_name_the_tempo_uid(bundle):
    for uid, body in bundle.dashboards.items():
        text = json.dumps(body)
        for panel in _panels(body):
            for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
                assert link["url"].startswith("/explore?")
        stripped = text.replace('\\"datasource\\":\\"tempo\\"', "")
        for panel in _panels(body):
            for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
                stripped = stripped.replace(json.dumps(link["url"])[1:-1], "")
        assert '"uid": "tempo"' not in stripped and '"uid": "prometheus"' not in stripped, uid


def test_every_panel_has_a_unit_and_a_description_naming_its_metric(bundle):
    names = catalogue.all_exported() | recorded_names(bundle)
    names |= {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}
    for uid, dash in bundle.specs.items():
        rendered = {p["id"]: p for p in _panels(bundle.dashboards[uid])}
        for panel in rendered.values():
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{uid}: {panel['title']} has no unit"
            assert panel.get("description"), f"{uid}: {panel['title']} has no description"
        for panel in dash.panels:
            read = set().union(*(metric_names(substitute(q.expr)) for q in panel.queries)) if panel.queries else set()
            mentioned = {n for n in names if n in panel.description}
            if panel.kind == "traces":
                assert "TraceQL" in panel.description
            else:
                assert mentioned, f"{uid}: {panel.title} description names no metric"
                assert read, f"{uid}: {panel.title} reads nothing"


def test_variables_for_namespace_model_and_gpu(bundle):
    def names(uid):
        return {v["name"] for v in bundle.dashboards[uid]["templating"]["list"]}

    for uid in ("llmobs-vllm", "llmobs-developer", "llmobs-sre", "llmobs-business"):
        assert {"datasource", "namespace", "model_name", "pod"} <= names(uid)
    for uid in ("llmobs-gpu", "llmobs-sre"):
        assert {"Hostname", "gpu"} <= names(uid)
    assert {"traces", "service_name", "min_duration"} <= names("llmobs-traces")


def test_dashboards_link_to_each_other(bundle):
    for body in bundle.dashboards.values():
        link = body["links"][0]
        assert link["type"] == "dashboards" and link["tags"] == ["llm-observability"]
        assert link["includeVars"] and link["keepTime"]
        assert "llm-observability" in body["tags"]


def test_panels_sit_on_the_grid_without_overlap(bundle):
    for uid, body in bundle.dashboards.items():
        cells = set()
        for panel in body["panels"]:
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{uid}: {panel['title']} overlaps"
                    cells.add((x, y))
        assert len({p["id"] for p in body["panels"]}) == len(body["panels"])


def test_cost_panels_follow_the_stack_config():
    with_apis = bundle_for()
    text = json.dumps(with_apis.dashboards["llmobs-cost"])
    assert "Same tokens on commercial APIs" in text and "4.6016" in text
    assert "Daily spend against budget" not in text
    without = bundle_for(commercialApiPrices=[], monthlyBudgetUsd="900", hourlyPriceUsd="2.5")
    text = json.dumps(without.dashboards["llmobs-cost"])
    assert "Same tokens on commercial APIs" not in text and "Daily spend against budget" in text
    rules = json.dumps(without.rules["cost"])
    assert "vector(2.5)" in rules and "vector(30.0)" in rules


def _render(*args):
    return subprocess.run([sys.executable, "-m", "dashboards.render", *args], cwd=ROOT, capture_output=True, text=True)


def test_render_command_writes_every_file_and_check_catches_drift(tmp_path):
    out = tmp_path / "signals"
    result = _render("--stack", "dev", "--out", str(out))
    assert result.returncode == 0, result.stderr
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {f"dashboards/{uid}.json" for uid in EXPECTED_UIDS} <= files
    assert {"rules/vllm.yaml", "rules/gpu.yaml", "rules/cost.yaml", "rules/quality.yaml", "rules/platform.yaml"} <= files
    assert _render("--stack", "dev", "--out", str(out), "--check").returncode == 0
    (out / "dashboards" / "llmobs-gpu.json").write_text("{}")
    (out / "dashboards" / "hand-made.json").write_text("{}")
    check = _render("--stack", "dev", "--out", str(out), "--check")
    assert check.returncode == 1
    assert "stale: dashboards/llmobs-gpu.json" in check.stderr
    assert "not produced by the code: dashboards/hand-made.json" in check.stderr


def test_render_command_reports_bad_settings():
    result = _render("--stack", "nosuchstack", "--out", "build/x")
    assert result.returncode == 2


def _titles(bundle, uid):
    return {panel.title for panel in bundle.specs[uid].panels}


def test_router_panels_only_on_a_stack_with_the_router():
    router_panels = {"Router: ready endpoints, queue and KV cache", "Router: requests and errors"}
    assert not router_panels & _titles(bundle_for(), "llmobs-vllm")
    assert router_panels <= _titles(bundle_for(router=True), "llmobs-vllm")


def test_targets_down_reads_zero_when_every_target_is_up(tmp_path):
    """A healthy stack shows 0 down, not "No data", which a reader cannot tell from a broken query."""
    promtool = require_tool("promtool")
    panel = next(p for p in bundle_for().specs["llmobs-platform"].panels if p.title == "Targets down")
    (expr,) = (query.expr for query in panel.queries)
    (tmp_path / "empty.yaml").write_text("groups: []\n")
    cases = {"rule_files": ["empty.yaml"], "tests": [
        {"interval": "1m", "input_series": [{"series": 'up{job="vllm",instance="a"}', "values": "1x5"},
                                            {"series": 'up{job="tempo",instance="b"}', "values": "1x5"}],
         "promql_expr_test": [{"expr": expr, "eval_time": "4m", "exp_samples": [{"labels": "{}", "value": 0}]}]},
        {"interval": "1m", "input_series": [{"series": 'up{job="vllm",instance="a"}', "values": "0x5"},
                                            {"series": 'up{job="tempo",instance="b"}', "values": "1x5"}],
         "promql_expr_test": [{"expr": expr, "eval_time": "4m", "exp_samples": [{"labels": '{job="vllm"}', "value": 1}]}]},
    ]}
    (tmp_path / "down.test.yaml").write_text(json.dumps(cases))
    result = subprocess.run([promtool, "test", "rules", "down.test.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _thresholds(bundle, uid, title):
    panel = next(p for p in bundle.dashboards[uid]["panels"] if p.get("title") == title)
    return [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"] if "value" in step]


def _alert_expr(bundle, name):
    return next(rule["expr"] for body in bundle.rules.values() for group in body["groups"] for rule in group["rules"]
                if rule.get("alert") == name)


def test_panel_thresholds_are_the_alerts_thresholds():
    """KV cache, GPU memory and temperature panels draw the line their alert fires at, both from SignalsSpec."""
    bundle = bundle_for()
    t = spec_for().thresholds
    for uid, title, alert, value in (
        ("llmobs-vllm", "KV-cache use", "VllmKvCacheNearFull", t.kv_cache_full_fraction),
        ("llmobs-gpu", "Framebuffer memory used", "GpuMemoryNearFull", t.gpu_memory_full_fraction),
        ("llmobs-gpu", "Temperatures", "GpuTemperatureHigh", t.gpu_temperature_celsius),
    ):
        assert _thresholds(bundle, uid, title) == [value], title
        assert f"> {value}" in _alert_expr(bundle, alert), alert


def test_latency_panels_and_stats_carry_the_slo_targets():
    bundle = bundle_for(ttftTargetSeconds="1.0", itlTargetSeconds="0.05", e2eLatencyTargetSeconds="30.0")
    for title, target in (("Time to first token (p50 / p95 / p99)", 1.0), ("Inter-token latency (p50 / p95 / p99)", 0.05),
                          ("End-to-end latency (p50 / p95 / p99)", 30.0),
                          ("Time per output token, per request (p50 / p95 / p99)", 0.05),
                          ("TTFT p95", 1.0), ("ITL p95", 0.05), ("E2E p95", 30.0)):
        assert _thresholds(bundle, "llmobs-vllm", title) == [target], title
    assert _thresholds(bundle, "llmobs-vllm", "Waiting") == [spec_for().thresholds.queue_requests]


def test_vllm_and_sre_dashboards_open_with_the_stat_strip():
    strip = ["Requests/s", "Tokens/s", "TTFT p95", "ITL p95", "E2E p95", "Errors", "Waiting", "KV cache", "Engines up"]
    bundle = bundle_for()
    for uid in ("llmobs-vllm", "llmobs-sre"):
        first_row = bundle.specs[uid].rows[0]
        assert [p.title for p in first_row.panels] == strip and all(p.kind == "stat" for p in first_row.panels)
        assert sum(p.width for p in first_row.panels) <= 24


def test_the_coverage_the_best_peers_have():
    titles = _titles(bundle_for(router=True), "llmobs-vllm")
    assert {"Time to first token distribution", "Inter-token latency distribution", "End-to-end latency distribution",
            "Time per output token, per request (p50 / p95 / p99)", "Prompt tokens: cached or computed",
            "Tokens per engine step", "HTTP 5xx responses", "Engines up and unreachable", "Models at a glance",
            "Router: request, scheduling and plugin latency p95", "Router: error ratio"} <= titles


def test_answer_correctness_panels_draw_the_objective_from_the_stack():
    bundle = bundle_for(answerCorrectnessObjective="0.9")
    for uid in ("llmobs-answers", "llmobs-developer", "llmobs-business"):
        assert _thresholds(bundle, uid, "Correct answers (last hour)") == [0.9], uid
    assert _thresholds(bundle, "llmobs-answers", "Known-answer checks against the objective") == [0.9]


def test_no_gpu_mode_renders_no_gpu_panel():
    """Without GPUs (the simulator on a CPU instance) nothing reads DCGM: no GPU dashboard, no GPU panels."""
    bundle = bundle_for(servingMode="simulator", instanceType="m7i.2xlarge")
    assert "llmobs-gpu" not in bundle.dashboards
    for uid, title, expr in panel_queries(bundle):
        read = metric_names(substitute(expr))
        assert not any(n.startswith(("DCGM_", "gpu:", "pod:dcgm", "cluster:dcgm", "cluster:gpu")) for n in read), (uid, title)
    assert "llmobs-gpu" in bundle_for().dashboards
