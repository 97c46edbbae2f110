"""What keeps an idle or forgotten GPU host from running up the bill, all AWS-native, all config-driven.

- An idle guard: a CloudWatch alarm on the host's average CPUUtilization whose action is EC2's own
  stop action (``arn:aws:automate:<region>:ec2:stop``). GPU use is not a CloudWatch metric without an
  agent, but every GPU here is driven by a CPU process (vLLM's engine core and workers busy-loop while
  they generate), so a host whose CPUs are quiet for long is a host whose GPUs are quiet too.
- A budget: AWS Budgets e-mails at 80% of the monthly amount spent and at 100% forecast.
- A spot guard: a persistent Spot request outlives its instance unless cancelled, and would launch a
  new host after ``pulumi destroy``; a local command cancels it on delete, before the instance goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_command as command

# EC2 basic monitoring publishes CPUUtilization once per 5 minutes, free of charge.
PERIOD_SECONDS = 300
BUDGET_ACTUAL_PERCENT = 80
BUDGET_FORECAST_PERCENT = 100


@dataclass(frozen=True)
class CostGuardsArgs:
    instance_id: pulumi.Input[str] | None
    spot_request_id: pulumi.Input[str | None]
    spot_instances: bool
    idle_stop_minutes: int | None
    idle_cpu_percent: float
    monthly_budget_usd: float | None
    budget_alert_emails: tuple[str, ...]
    tags: Mapping[str, str]


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
            periods = args.idle_stop_minutes * 60 // PERIOD_SECONDS
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-idle-stop",
                alarm_description=(
                    f"Stops the GPU host after {args.idle_stop_minutes} minutes of average CPU below "
                    f"{args.idle_cpu_percent:g}% (idleStopMinutes, idleCpuPercent). Start it again with "
                    "`make start` (the host, then MiniKube)."
                ),
                namespace="AWS/EC2",
                metric_name="CPUUtilization",
                dimensions={"InstanceId": args.instance_id},
                statistic="Average",
                period=PERIOD_SECONDS,
                evaluation_periods=periods,
                datapoints_to_alarm=periods,
                comparison_operator="LessThanThreshold",
                threshold=args.idle_cpu_percent,
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
