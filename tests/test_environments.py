"""Every stack file is a working environment; prod differs from dev where it should."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stack.config import PROJECT, ConfigError, StackConfig, declared_settings, parse, raw_from_files
from tests.harness import as_deployed, run_program

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def deployed(stack: str) -> StackConfig:
    return parse(stack, as_deployed(stack))


def test_there_is_a_dev_and_a_prod_stack():
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_the_mocked_run(stack, dev_program):
    program = dev_program if stack == "dev" else run_program(stack)
    assert program.one("aws:ec2/instance:Instance").inputs["tags"]["Stack"] == stack
    assert {"instanceId", "publicIp", "kubeconfig", "tunnelCommand"} <= set(program.outputs)


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_sets_only_declared_settings(stack):
    values = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    ours = {k.split(":", 1)[1] for k in values if k.startswith(f"{PROJECT}:")}
    assert ours <= set(declared_settings())
    assert values.get("aws:region"), "each stack names its region"


def test_prod_differs_from_dev_where_it_should():
    dev, prod = deployed("dev"), deployed("prod")
    # dev saves money; prod stays up.
    assert dev.cost_guards.spot_instances and not prod.cost_guards.spot_instances
    assert dev.cost_guards.idle_stop_minutes and prod.cost_guards.idle_stop_minutes is None
    # prod has a budget that tells someone, and a larger data volume for its longer retention, kept
    # through replacements and even a destroy, with daily snapshots.
    assert prod.cost.monthly_budget_usd and prod.cost_guards.budget_alert_emails
    assert prod.host.data_volume_gib > dev.host.data_volume_gib
    assert prod.host.keep_data and not dev.host.keep_data
    assert prod.host.snapshot_days == 7 and dev.host.snapshot_days == 0
    assert dev.tags["environment"] == "dev" and prod.tags["environment"] == "prod"


@pytest.mark.parametrize("stack", STACKS)
def test_minikube_volumes_fit_on_the_hosts_disk(stack):
    """MiniKube's volumes live on the root volume: the stack must give it room for them."""
    config = deployed(stack)
    if config.cluster.backend != "minikube":
        pytest.skip("volumes are EBS volumes of their own on this backend")
    volumes = config.platform.prometheus_volume_gib + config.platform.tempo_volume_gib
    assert volumes + config.workload.model_cache_gib <= config.host.data_volume_gib


def test_a_data_volume_too_small_for_the_volumes_is_refused_naming_the_sizes():
    with pytest.raises(ConfigError) as raised:
        run_program("dev", {"dataVolumeGiB": 100})
    message = str(raised.value)
    assert "llm-observability:dataVolumeGiB: 100 GiB cannot hold the volumes it carries" in message
    assert "prometheusVolumeGiB 50 + tempoVolumeGiB 20 + modelCacheGiB 100 = 170 GiB" in message
    assert raised.value.program.resources == []


def test_prod_keeps_metrics_and_traces_longer_than_dev():
    dev, prod = deployed("dev").platform, deployed("prod").platform
    assert prod.prometheus_volume_gib > dev.prometheus_volume_gib
    assert prod.tempo_volume_gib > dev.tempo_volume_gib
    assert (prod.prometheus_retention, prod.trace_retention) == ("30d", "336h")


def test_prod_as_shipped_is_refused_until_its_documentation_values_and_receiver_are_replaced():
    """The guardrails are in the program and on in Pulumi.prod.yaml: no script has to run for them."""
    with pytest.raises(ConfigError) as error:
        parse("prod", raw_from_files("prod"))
    problems = "\n".join(error.value.problems)
    assert "llm-observability:allowedCidrs: '198.51.100.0/28' is a documentation address" in problems
    assert "llm-observability:budgetAlertEmails: 'llm-platform-alerts@example.org' is a documentation mailbox" in problems
    assert "llm-observability:alertReceiver: 'none' sends every alert nowhere" in problems
    assert len(error.value.problems) == 3
