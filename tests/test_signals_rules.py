"""The generated rule files pass `promtool check rules`, and `promtool test rules` proves every alert
fires when it should and stays silent when it should not."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import yaml

from dashboards import to_yaml
from tests.conftest import ROOT, require_tool
from tests.signals_support import alert_names, bundle_for

PROMTOOL_TESTS = Path(__file__).parent / "promtool" / "alerts.test.yaml"


def _write_rules(bundle, folder: Path, strip_annotations: bool = False) -> list[Path]:
    paths = []
    for domain, body in bundle.rules.items():
        body = copy.deepcopy(body)
        if strip_annotations:
            for group in body["groups"]:
                for rule in group["rules"]:
                    rule.pop("annotations", None)
        path = folder / f"{domain}.yaml"
        path.write_text(to_yaml(body))
        paths.append(path)
    return paths


def test_every_rule_file_passes_promtool_check(tmp_path):
    promtool = require_tool("promtool")
    for stack_overrides in ({}, {"monthlyBudgetUsd": "1500"}, {"commercialApiPrices": []}):
        paths = _write_rules(bundle_for(**stack_overrides), tmp_path)
        result = subprocess.run([promtool, "check", "rules", *map(str, paths)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_silent_promtool_case():
    cases = yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"]
    firing, silent = set(), set()
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else silent).add(check["alertname"])
    every_alert = alert_names(bundle_for(monthlyBudgetUsd="30"))
    assert every_alert - firing == set(), "alerts never shown firing"
    assert every_alert - silent == set(), "alerts never shown silent"


def test_promtool_unit_tests_pass(tmp_path):
    promtool = require_tool("promtool")
    _write_rules(bundle_for(monthlyBudgetUsd="30"), tmp_path, strip_annotations=True)
    (tmp_path / PROMTOOL_TESTS.name).write_text(PROMTOOL_TESTS.read_text())
    result = subprocess.run([promtool, "test", "rules", PROMTOOL_TESTS.name], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_budget_alert_exists_only_with_a_budget():
    assert "DailySpendOverBudget" not in alert_names(bundle_for())
    assert "DailySpendOverBudget" in alert_names(bundle_for(monthlyBudgetUsd="1500"))


def test_every_alert_has_severity_summary_description_and_its_own_runbook_section():
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    anchors = {heading.strip().lower() for heading in re.findall(r"^## (\S+)\s*$", runbook, re.M)}
    bundle = bundle_for(monthlyBudgetUsd="1500")
    for body in bundle.rules.values():
        for group in body["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                assert rule["labels"]["severity"] in ("critical", "warning", "info")
                annotations = rule["annotations"]
                assert annotations["summary"] and annotations["description"]
                url = annotations["runbook_url"]
                assert url.endswith("docs/runbook.md#" + rule["alert"].lower())
                assert rule["alert"].lower() in anchors, f"docs/runbook.md has no section for {rule['alert']}"
    assert anchors == {a.lower() for a in alert_names(bundle)}, "runbook sections without an alert"


def test_recording_rules_follow_level_metric_operations():
    for body in bundle_for(monthlyBudgetUsd="1500").rules.values():
        for group in body["groups"]:
            for rule in group["rules"]:
                if "record" in rule:
                    assert re.fullmatch(r"[a-z_]+:[a-zA-Z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]


def test_a_judge_elsewhere_leaves_the_model_servers_tokens_whole():
    """Only a judge on the stack's own model servers has its tokens in vLLM's counters to subtract."""
    def expr(bundle):
        return next(rule["expr"] for group in bundle.rules["cost"]["groups"] for rule in group["rules"]
                    if rule.get("record") == "cluster:vllm_prompt_tokens:rate1h")

    assert "llm_quality_judge_tokens_total" in expr(bundle_for())
    elsewhere = bundle_for(judgeModel="m", judgeEndpoint="http://judge.llm.svc.cluster.local:8000/v1")
    assert "llm_quality_judge_tokens_total" not in expr(elsewhere)
