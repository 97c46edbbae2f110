"""End to end on a real Prometheus: exporters with the pinned versions' names and labels, scraped as the
Kubernetes scrape would label them, our recording and alerting rules loaded, and every dashboard query
(variables resolved as Grafana would) returning data.

vLLM, DCGM, the EPP, the collector's and Tempo's own series are synthetic in the pinned catalogues'
names (tests/synthetic.py). The collector exporter's series (Llama Stack's metrics, the workload's,
and the span metrics) are what the real server and workload sent in this session's run
(tests/real_stack.py), translated by the collector's rules (tests/collector_translation.py)."""

from __future__ import annotations

import copy
import re
import time

import pytest

from components.llama_stack import registered_model_id
from dashboards import to_yaml
from stack.config import load_from_files
from tests import prometheus_server, synthetic
from tests.collector_translation import replay_of
from tests.conftest import require_tool
from tests.signals_support import bundle_for, substitute

SCRAPE = "1s"
# The workload names the model by its Llama Stack id; the sampler by the served name on the span.
WORKLOAD_MODEL = registered_model_id(load_from_files("dev").workload.model_id)
DEADLINE_SECONDS = 90


@pytest.fixture(scope="module")
def bundle():
    return bundle_for(monthlyBudgetUsd="1500", router=True)  # every panel the stack can have


@pytest.fixture(scope="module")
def prometheus(bundle, real_run, tmp_path_factory):
    binary = require_tool("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    started = time.monotonic()
    exporters = synthetic.serve(lambda: time.monotonic() - started, replay_of(real_run).series)
    rule_files = []
    for domain, body in bundle.rules.items():
        body = copy.deepcopy(body)
        for group in body["groups"]:
            group["interval"] = SCRAPE  # the cost group's 1m would make the test wait a minute
        path = workdir / f"{domain}.yaml"
        path.write_text(to_yaml(body))
        rule_files.append(path)
    config = {
        "global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
        "scrape_configs": synthetic.scrape_configs(exporters, SCRAPE, prometheus_server.free_port()),
    }
    server = prometheus_server.start(binary, workdir, config, rule_files)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while len(server.query("up")) < len(config["scrape_configs"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # a few scrapes, so rates have two samples
    yield server
    server.stop()
    exporters.close()


def resolve_variables(prometheus, dashboard: dict) -> dict[str, str]:
    """Each query variable set to the first value its label_values() query returns, in order."""
    values: dict[str, str] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "textbox":
            values[variable["name"]] = variable["query"]
        if variable["type"] != "query":
            continue
        selector, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]).groups()
        found = prometheus.label_values(label, substitute(selector, values))
        assert found, f"{dashboard['uid']}: variable {variable['name']} finds no values"
        values[variable["name"]] = sorted(found)[0]  # a regex matcher; its dots match themselves too
    return values


def _targets(bundle):
    for uid, body in bundle.dashboards.items():
        for panel in body["panels"]:
            for target in panel.get("targets", []):
                if "expr" in target:
                    yield uid, body, panel["title"], target


def test_every_rule_evaluates_without_error(prometheus, bundle):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        groups = prometheus.get("/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        unevaluated = [r["name"] for r in rules if r.get("lastEvaluation", "").startswith("0001")]
        if not unevaluated or time.monotonic() > deadline:
            break
        time.sleep(1)
    expected = sum(len(g["rules"]) for body in bundle.rules.values() for g in body["groups"])
    assert len(rules) == expected
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []


def test_every_dashboard_query_returns_data(prometheus, bundle):
    pending = list(_targets(bundle))
    assert len(pending) > 100
    deadline = time.monotonic() + DEADLINE_SECONDS
    while pending and time.monotonic() < deadline:
        still = []
        for uid, body, title, target in pending:
            expr = substitute(target["expr"], resolve_variables(prometheus, body))
            now = time.time()
            if target.get("instant"):
                result = prometheus.query(expr, now)
            else:
                result = prometheus.query_range(expr, now - 30, now, 1)
            if not result:
                still.append((uid, body, title, target))
        pending = still
        if pending:
            time.sleep(2)
    assert [(uid, title, target["expr"]) for uid, _, title, target in pending] == []


def test_alerts_see_the_dead_target(prometheus):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alerts = prometheus.get("/api/v1/alerts")["alerts"]
        if any(a["labels"]["alertname"] == "ScrapeTargetDown" for a in alerts):
            break
        time.sleep(1)
    names = {a["labels"]["alertname"] for a in alerts}
    assert "ScrapeTargetDown" in names  # pending: its `for` is 10 minutes
    assert "VllmEngineDown" not in names


def _value(prometheus, expr: str) -> dict[str, float]:
    """Each series of an instant query, by its distinguishing label, once the rules have data."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not (result := prometheus.query(expr)) and time.monotonic() < deadline:
        time.sleep(1)
    return {"/".join(v for k, v in sorted(r["metric"].items()) if k in ("check", "criterion")) or "all":
            float(r["value"][1]) for r in result}


def test_answer_quality_reaching_prometheus_is_what_the_fake_model_was_scripted_to_do(prometheus):
    """The real workload's scores of the real Llama Stack's answers, through the collector's naming rules:
    6 of 8 known facts right, 4 of 8 grounded, every refusal as it should be (tests/fake_vllm.py
    KNOWN_ANSWER_SCRIPT), and of 4 judge verdicts 2 scored (5/4/5 and 2/1/5), 1 unparseable, 1 off-scale."""
    checks = _value(prometheus, "model_check:llm_quality_checks:ratio_rate1h")
    assert checks == pytest.approx({"correct": 6 / 8, "grounded": 4 / 8, "refusal": 1.0})
    workload = f'{{model="{WORKLOAD_MODEL}"}}'
    scores = _value(prometheus, f"model_criterion:llm_quality_judge_score:mean1h{workload}")
    assert scores == pytest.approx({"relevance": 3.5, "faithfulness": 2.5, "harmlessness": 5.0})
    assert _value(prometheus, f"model:llm_quality_judge_unscorable:ratio_rate1h{workload}") == pytest.approx({"all": 0.5})


def test_other_apps_scores_reaching_prometheus_are_the_judge_sampler_s(prometheus):
    """The judge sampler's verdicts on the other app's traced answers (tests/real_stack.py OTHER_APP_CALLS):
    one scored 5/4/5, one unparseable, one off-scale, under the app whose spans held them."""
    assert _value(prometheus, 'app_criterion:llm_quality_judge_score:mean1h{app="support-bot"}') == pytest.approx(
        {"relevance": 5.0, "faithfulness": 4.0, "harmlessness": 5.0})
    unscorable = _value(prometheus, f'model:llm_quality_judge_unscorable:ratio_rate1h{{model!="{WORKLOAD_MODEL}"}}')
    assert unscorable == pytest.approx({"all": 2 / 3})
