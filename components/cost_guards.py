"""What keeps an idle or forgotten GPU host from running up the bill, all AWS-native, all config-driven.

- An idle guard: a CloudWatch alarm whose action is EC2's own stop action
  (``arn:aws:automate:<region>:ec2:stop``). On a GPU host it watches what costs the money, the GPUs:
  the CloudWatch agent on the host publishes every GPU's ``nvidia_smi_utilization_gpu`` rolled up per
  instance, and the alarm fires when even the busiest GPU stayed under ``idleGpuPercent`` for the whole
  window. (Average CPU is no proxy: one replica serving steadily keeps 48 vCPUs far below 5%.) A host
  without GPUs (the simulator mode) is watched on its average CPUUtilization instead.
- A budget: AWS Budgets e-mails at 80% of the monthly amount spent and at 100% forecast.
- A spot guard: a persistent Spot request outlives its instance unless cancelled, and would launch a
  new host after ``pulumi destroy``; a local command cancels it on delete, before the instance goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_command as command

# EC2 basic monitoring publishes CPUUtilization once per 5 minutes, free of charge; the agent's GPU
# samples (one a minute) are judged over the same periods.
PERIOD_SECONDS = 300
GPU_SAMPLE_SECONDS = 60
GPU_METRICS_NAMESPACE = "CWAgent"
GPU_UTILISATION_METRIC = "nvidia_smi_utilization_gpu"
BUDGET_ACTUAL_PERCENT = 80
BUDGET_FORECAST_PERCENT = 100


@dataclass(frozen=True)
class IdleRule:
    """What the idle alarm compares: the metric, how a period is summarised, and the threshold."""

    namespace: str
    metric_name: str
    statistic: str
    threshold: float
    periods: int
    period_seconds: int = PERIOD_SECONDS


@dataclass(frozen=True)
class CostGuardsArgs:
    instance_id: pulumi.Input[str] | None
    spot_request_id: pulumi.Input[str | None]
    spot_instances: bool
    idle_stop_minutes: int | None
    idle_cpu_percent: float
    idle_gpu_percent: float
    gpu_count: int
    monthly_budget_usd: float | None
    budget_alert_emails: tuple[str, ...]
    tags: Mapping[str, str]


def idle_rule(idle_stop_minutes: int, gpu_count: int, idle_gpu_percent: float, idle_cpu_percent: float) -> IdleRule:
    """The busiest GPU under idleGpuPercent in every period of the window (CPU on a host without GPUs)."""
    periods = idle_stop_minutes * 60 // PERIOD_SECONDS
    if gpu_count:
        return IdleRule(GPU_METRICS_NAMESPACE, GPU_UTILISATION_METRIC, "Maximum", idle_gpu_percent, periods)
    return IdleRule("AWS/EC2", "CPUUtilization", "Average", idle_cpu_percent, periods)


def gpu_metrics_agent_config() -> str:
    """The CloudWatch agent's configuration: every GPU's utilisation each minute, also rolled up per
    instance (the only dimension the alarm names; ``${aws:InstanceId}`` is filled in by the agent)."""
    return json.dumps(
        {
            "agent": {"metrics_collection_interval": GPU_SAMPLE_SECONDS},
            "metrics": {
                "namespace": GPU_METRICS_NAMESPACE,
                "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
                "aggregation_dimensions": [["InstanceId"]],
                "metrics_collected": {
                    "nvidia_gpu": {
                        "measurement": ["utilization_gpu"],
                        "metrics_collection_interval": GPU_SAMPLE_SECONDS,
                    }
                },
            },
        },
        sort_keys=True,
    )


def stop_action_arn(region: str) -> str:
    """EC2's built-in alarm action that stops the instance the alarm watches (no Lambda, no daemon)."""
    return f"arn:aws:automate:{region}:ec2:stop"


def budget_notifications(emails: tuple[str, ...]) -> list[dict]:
    """E-mails at 80% spent and 100% forecast; none without addresses (the DailySpendOverBudget alert still fires)."""
    if not emails:
        return []
    return [
        {
            "comparison_operator": "GREATER_THAN",
            "threshold": BUDGET_ACTUAL_PERCENT,
            "threshold_type": "PERCENTAGE",
            "notification_type": "ACTUAL",
            "subscriber_email_addresses": list(emails),
        },
        {
            "comparison_operator": "GREATER_THAN",
            "threshold": BUDGET_FORECAST_PERCENT,
            "threshold_type": "PERCENTAGE",
            "notification_type": "FORECASTED",
            "subscriber_email_addresses": list(emails),
        },
    ]


def cancel_spot_request_script() -> str:
    """Run on delete: cancels the persistent request (a no-op when it is already gone)."""
    return (
        'if [ -n "$SPOT_REQUEST_ID" ]; then '
        'aws ec2 cancel-spot-instance-requests --region "$SPOT_REGION" '
        '--spot-instance-request-ids "$SPOT_REQUEST_ID" >/dev/null; fi'
    )


class CostGuards(pulumi.ComponentResource):
    """The idle-stop alarm, the monthly budget and the spot-request cleanup, each only when configured."""

    idle_alarm_name: pulumi.Output[str] | None
    budget_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: CostGuardsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:aws:CostGuards", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        # Only the host guards need the region (the stop action's ARN, the AWS CLI's --region).
        region = (
            aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
            if args.idle_stop_minutes or args.spot_instances
            else None
        )

        self.idle_alarm_name = None
        if args.idle_stop_minutes:
            rule = idle_rule(args.idle_stop_minutes, args.gpu_count, args.idle_gpu_percent, args.idle_cpu_percent)
            signal = (
                f"every GPU under {rule.threshold:g}% utilisation (idleStopMinutes, idleGpuPercent)"
                if args.gpu_count
                else f"average CPU under {rule.threshold:g}% (idleStopMinutes, idleCpuPercent)"
            )
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-idle-stop",
                alarm_description=(
                    f"Stops the GPU host after {args.idle_stop_minutes} minutes of {signal}. Start it again "
                    "with `make start` (the host; MiniKube comes back by itself)."
                ),
                namespace=rule.namespace,
                metric_name=rule.metric_name,
                dimensions={"InstanceId": args.instance_id},
                statistic=rule.statistic,
                period=rule.period_seconds,
                evaluation_periods=rule.periods,
                datapoints_to_alarm=rule.periods,
                comparison_operator="LessThanThreshold",
                threshold=rule.threshold,
                # A stopped host sends no data: that is not "idle again", so no new stop is attempted.
                treat_missing_data="notBreaching",
                alarm_actions=[region.apply(stop_action_arn)],
                tags=tags,
                opts=child,
            )
            self.idle_alarm_name = alarm.name

        self.budget_name = None
        if args.monthly_budget_usd is not None:
            budget = aws.budgets.Budget(
                f"{name}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=f"{args.monthly_budget_usd:.2f}",
                limit_unit="USD",
                notifications=budget_notifications(args.budget_alert_emails),
                tags=tags,
                opts=child,
            )
            self.budget_name = budget.name

        if args.spot_instances:
            command.local.Command(
                f"{name}-cancel-spot-request",
                create="true",
                delete=cancel_spot_request_script(),
                environment={
                    "SPOT_REQUEST_ID": pulumi.Output.from_input(args.spot_request_id).apply(lambda v: v or ""),
                    "SPOT_REGION": region,
                },
                # A replaced host gets a new request: the old one is cancelled with it.
                triggers=[args.instance_id],
                opts=child,
            )

        self.register_outputs({"idle_alarm_name": self.idle_alarm_name, "budget_name": self.budget_name})
