"""Cost guards: spot capacity that survives stop/start, an AWS-native idle stop, a budget that e-mails."""

from __future__ import annotations

import json
import shlex

import pytest

from stack import versions
from stack.config import ConfigError
from tests.harness import run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
BUDGET = "aws:budgets/budget:Budget"
INSTANCE = "aws:ec2/instance:Instance"
CANCEL = "command:local:Command"
COMMAND = "command:remote:Command"


def test_spot_capacity_is_a_persistent_request_that_stops_on_interruption(dev_program):
    options = dev_program.one(INSTANCE).inputs["instanceMarketOptions"]
    assert options["marketType"] == "spot"
    assert options["spotOptions"] == {"spotInstanceType": "persistent", "instanceInterruptionBehavior": "stop"}


def test_spot_request_is_cancelled_before_the_instance_is_deleted(dev_program):
    cancel = dev_program.one(CANCEL, "cancel-spot-request")
    assert "cancel-spot-instance-requests" in cancel.inputs["delete"]
    assert set(cancel.inputs["environment"]) == {"SPOT_REQUEST_ID", "SPOT_REGION"}
    # Depending on the instance means Pulumi deletes this command (and so cancels) first.
    instance = dev_program.one(INSTANCE)
    assert instance.urn in cancel.dependencies


def test_on_demand_is_the_default_and_has_no_spot_cleanup():
    program = run_program("dev", {"spotInstances": False})
    assert "instanceMarketOptions" not in program.one(INSTANCE).inputs
    assert program.of_type(CANCEL) == []


def test_idle_gpu_host_is_stopped_by_an_alarm_on_its_busiest_gpu_with_the_ec2_stop_action(dev_program):
    alarm = dev_program.one(ALARM, "idle-stop").inputs
    assert alarm["namespace"] == "CWAgent" and alarm["metricName"] == "nvidia_smi_utilization_gpu"
    assert alarm["statistic"] == "Maximum", "idle means even the busiest GPU sample of a period was low"
    assert alarm["dimensions"] == {"InstanceId": dev_program.one(INSTANCE).name + "-id"}
    assert alarm["alarmActions"] == ["arn:aws:automate:us-east-1:ec2:stop"]
    assert alarm["comparisonOperator"] == "LessThanThreshold" and alarm["threshold"] == 5
    # 60 idle minutes in Pulumi.dev.yaml = 12 five-minute periods, all of them below the threshold.
    assert alarm["period"] == 300 and alarm["evaluationPeriods"] == 12 and alarm["datapointsToAlarm"] == 12
    assert alarm["treatMissingData"] == "notBreaching"
    assert "idleStopAlarm" in dev_program.outputs


def test_the_host_publishes_the_metric_the_alarm_watches(dev_program):
    """The CloudWatch agent's GPU utilisation, rolled up to the one dimension the alarm names."""
    agent = dev_program.one(COMMAND, "-gpu-metrics").inputs
    config = json.loads(shlex.split(agent["create"])[-1])
    assert config["metrics"]["namespace"] == "CWAgent"
    assert config["metrics"]["metrics_collected"]["nvidia_gpu"]["measurement"] == ["utilization_gpu"]
    assert config["metrics"]["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    assert config["metrics"]["aggregation_dimensions"] == [["InstanceId"]]
    # The agent names a measurement nvidia_smi_<measurement>: the alarm's metric.
    assert "nvidia_smi_" + config["metrics"]["metrics_collected"]["nvidia_gpu"]["measurement"][0] == (
        dev_program.one(ALARM, "idle-stop").inputs["metricName"]
    )
    assert shlex.split(agent["create"])[3:5] == [versions.CLOUDWATCH_AGENT_URL, versions.CLOUDWATCH_AGENT_SHA256]
    assert "sha256sum --check" in agent["stdin"]


def test_idle_window_and_gpu_threshold_come_from_config():
    alarm = run_program("dev", {"idleStopMinutes": 15, "idleGpuPercent": "2.5"}).one(ALARM).inputs
    assert alarm["evaluationPeriods"] == 3 and alarm["threshold"] == 2.5


def test_a_host_without_gpus_is_watched_on_its_cpu_and_runs_no_gpu_agent():
    program = run_program(
        "dev", {"servingMode": "simulator", "instanceType": "m7i.2xlarge", "idleCpuPercent": "2.5"}
    )
    alarm = program.one(ALARM).inputs
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/EC2", "CPUUtilization", "Average")
    assert alarm["threshold"] == 2.5
    assert [c for c in program.of_type(COMMAND) if c.name.endswith("-gpu-metrics")] == []
    assert program.of_type("aws:iam/rolePolicy:RolePolicy") == []


def test_idle_stop_off_means_no_alarm():
    program = run_program("dev", {"idleStopMinutes": 0})
    assert program.of_type(ALARM) == [] and "idleStopAlarm" not in program.outputs


def test_no_budget_without_a_monthly_amount(dev_program):
    assert dev_program.of_type(BUDGET) == []


def test_monthly_budget_emails_at_80_percent_spent_and_100_percent_forecast():
    emails = ["a@example.org", "b@example.org"]
    program = run_program("dev", {"monthlyBudgetUsd": "1500", "budgetAlertEmails": emails})
    budget = program.one(BUDGET).inputs
    assert budget["budgetType"] == "COST" and budget["timeUnit"] == "MONTHLY"
    assert budget["limitAmount"] == "1500.00" and budget["limitUnit"] == "USD"
    kinds = {(n["notificationType"], n["threshold"]) for n in budget["notifications"]}
    assert kinds == {("ACTUAL", 80), ("FORECASTED", 100)}
    assert all(n["subscriberEmailAddresses"] == emails for n in budget["notifications"])
    assert "budgetName" in program.outputs


def test_a_budget_without_addresses_is_kept_but_mails_nobody():
    program = run_program("dev", {"monthlyBudgetUsd": "1500"})
    assert program.one(BUDGET).inputs.get("notifications", []) == []


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"budgetAlertEmails": ["not-an-address"]}, "not an e-mail address"),
        ({"budgetAlertEmails": ["team@example.org"]}, "monthlyBudgetUsd is empty"),
        ({"budgetAlertEmails": [f"u{i}@example.org" for i in range(11)]}, "at most 10"),
        ({"idleStopMinutes": 7}, "multiple of 5"),
        ({"idleStopMinutes": 10}, "from 15 to 1440"),
        ({"idleStopMinutes": 1445}, "from 15 to 1440"),
        ({"idleCpuPercent": "100"}, "not below 100"),
        ({"idleCpuPercent": "idle"}, "not a positive amount"),
        ({"idleCpuPercent": ""}, "idleCpuPercent is required"),
        ({"idleGpuPercent": "100"}, "not below 100"),
        ({"idleGpuPercent": ""}, "idleGpuPercent is required"),
    ],
)
def test_bad_cost_guard_settings_are_refused_before_any_resource(overrides, message):
    with pytest.raises(ConfigError) as raised:
        run_program("dev", overrides)
    assert message in str(raised.value)
    assert "llm-observability:" in str(raised.value)
    assert raised.value.program.resources == []


def test_a_non_boolean_spot_setting_from_the_files_is_refused():
    from stack.config import parse, raw_from_files

    with pytest.raises(ConfigError, match="spotInstances: 'yes' is not a boolean"):
        parse("dev", {**raw_from_files("dev"), "spotInstances": "yes"})


def test_other_backends_leave_the_host_guards_aside_but_keep_the_budget():
    program = run_program(
        "dev",
        {"clusterBackend": "eks", "monthlyBudgetUsd": "900", "budgetAlertEmails": ["team@example.org"]},
    )
    assert program.of_type(ALARM) == [] and program.of_type(CANCEL) == []
    assert program.one(BUDGET).inputs["limitAmount"] == "900.00"
