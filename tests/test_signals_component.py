"""The Signals component under the real program: sidecar ConfigMaps and PrometheusRules in
`monitoring`, on the cluster's provider, parented to the component."""

from __future__ import annotations

import asyncio
import contextvars
import json

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.stack import run_pulumi_func

from components.signals import Signals, SignalsArgs
from tests.harness import MOCK_SPOT_PRICE, Program, _Mocks, _RecordingMonitor, run_program

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"


def _signals_children(program, type_):
    return [r for r in program.of_type(type_) if any(a.type == "llmobs:signals:Signals" for a in program.ancestors(r))]


def test_dashboard_configmaps_carry_the_label_and_annotation_grafanas_sidecar_selects(dev_program):
    release = next(r for r in dev_program.of_type("kubernetes:helm.sh/v3:Release")
                   if r.inputs["name"] == "kube-prometheus-stack")
    sidecar = release.inputs["values"]["grafana"]["sidecar"]["dashboards"]
    for resource in _signals_children(dev_program, CONFIGMAP):
        metadata = resource.inputs["metadata"]
        assert metadata["labels"][sidecar["label"]] == sidecar["labelValue"]
        assert sidecar["folderAnnotation"] in metadata["annotations"]


def test_dashboards_are_sidecar_configmaps_in_a_folder(dev_program):
    maps = _signals_children(dev_program, CONFIGMAP)
    assert len(maps) == 10
    for resource in maps:
        metadata = resource.inputs["metadata"]
        assert metadata["namespace"] == "monitoring"
        assert metadata["labels"]["grafana_dashboard"] == "1"
        assert metadata["annotations"]["grafana_folder"] == "LLM Observability"
        (key, body), = resource.inputs["data"].items()
        assert json.loads(body)["uid"] + ".json" == key
        assert len(body) < 256 * 1024, "a ConfigMap holds at most 1 MiB, and the sidecar reads it whole"
    assert sorted(dev_program.outputs["grafanaDashboardUids"]) == sorted(
        json.loads(next(iter(m.inputs["data"].values())))["uid"] for m in maps
    )


def test_rules_are_prometheus_rules_on_the_cluster_provider(dev_program):
    rules = _signals_children(dev_program, RULE)
    assert {r.inputs["metadata"]["name"] for r in rules} == {
        "llmobs-vllm", "llmobs-gpu", "llmobs-cost", "llmobs-quality", "llmobs-answers", "llmobs-platform",
        "llmobs-application"}
    provider = dev_program.one("pulumi:providers:kubernetes").urn
    for resource in [*rules, *_signals_children(dev_program, CONFIGMAP)]:
        assert resource.provider.startswith(provider)
        assert resource.inputs["metadata"]["namespace"] == "monitoring"
    for resource in rules:
        assert resource.inputs["apiVersion"] == "monitoring.coreos.com/v1"
        assert resource.inputs["spec"]["groups"]


def _price_rule(program):
    cost = next(r for r in _signals_children(program, RULE) if r.inputs["metadata"]["name"] == "llmobs-cost")
    config_group = cost.inputs["spec"]["groups"][0]
    return next(rule for rule in config_group["rules"] if rule["record"] == "cluster:instance_price_usd_per_hour:config")


def test_price_change_is_a_config_change():
    rule = _price_rule(run_program("dev", {"hourlyPriceUsd": "9.25"}))
    assert rule["expr"] == "vector(9.25)"
    assert rule["labels"] == {"pricing": "spot"}  # the setting overrides the price, not the capacity


def test_spot_host_is_priced_from_the_spot_price_history_at_deploy_time(dev_program):
    """dev runs on Spot: the price is what AWS's Spot price history says, not the on-demand list price."""
    rule = _price_rule(dev_program)
    assert (rule["expr"], rule["labels"]) == (f"vector({float(MOCK_SPOT_PRICE)})", {"pricing": "spot"})
    lookups = dev_program.invoked("aws:ec2/getSpotPrice:getSpotPrice")
    assert [args["instanceType"] for args in lookups] == ["g6.12xlarge"]
    assert lookups[0]["filters"] == [{"name": "product-description", "values": ["Linux/UNIX"]}]


def test_on_demand_host_is_priced_at_the_list_price_without_asking_aws():
    program = run_program("prod")
    rule = _price_rule(program)
    assert (rule["expr"], rule["labels"]) == ("vector(4.6016)", {"pricing": "on-demand"})
    assert program.invoked("aws:ec2/getSpotPrice:getSpotPrice") == []


def test_every_signals_resource_waits_for_the_dependencies_it_is_given():
    """The lead passes the platform's prometheus-operator CRDs as SignalsArgs.depends_on."""
    program = Program()

    def declare() -> None:
        provider = k8s.Provider("cluster", kubeconfig="{}")
        crds = k8s.core.v1.Namespace("crds", opts=pulumi.ResourceOptions(provider=provider))
        Signals("signals", SignalsArgs(
            namespace="monitoring", folder="LLM Observability", dashboards={"d": {"uid": "d"}},
            rules={"vllm": {"groups": []}}, provider=provider, depends_on=[crds]))

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        pulumi.runtime.set_mocks(_Mocks(), project="p", stack="s", preview=False, monitor=_RecordingMonitor(program))
        try:
            loop.run_until_complete(run_pulumi_func(declare))
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    contextvars.Context().run(run)
    crds = program.one("kubernetes:core/v1:Namespace").urn
    children = [*program.of_type(CONFIGMAP), *program.of_type(RULE)]
    assert len(children) == 2
    assert all(crds in child.dependencies for child in children)
