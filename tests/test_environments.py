"""Every stack file is a working environment; prod differs from dev where it should."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stack.config import PROJECT, declared_settings, load_from_files
from tests.harness import run_program

ROOT = Path(__file__).resolve().parent.parent
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


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
    dev, prod = load_from_files("dev"), load_from_files("prod")
    # dev saves money; prod stays up.
    assert dev.cost_guards.spot_instances and not prod.cost_guards.spot_instances
    assert dev.cost_guards.idle_stop_minutes and prod.cost_guards.idle_stop_minutes is None
    # prod has a budget that tells someone, and more disk for its longer retention.
    assert prod.cost.monthly_budget_usd and prod.cost_guards.budget_alert_emails
    assert prod.host.root_volume_gib > dev.host.root_volume_gib
    assert dev.tags["environment"] == "dev" and prod.tags["environment"] == "prod"
