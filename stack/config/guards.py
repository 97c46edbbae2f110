"""What keeps the bill in check: spot capacity, stopping an idle host, a budget that e-mails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from stack.config.common import decimal, qualified

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
IDLE_PERIOD_MINUTES = 5  # EC2 basic monitoring publishes CPUUtilization every 5 minutes.
MIN_IDLE_STOP_MINUTES = 15
MAX_IDLE_STOP_MINUTES = 1440  # CloudWatch evaluates at most one day of periods.
MAX_BUDGET_SUBSCRIBERS = 10  # AWS Budgets' limit of e-mail subscribers per notification.


@dataclass(frozen=True)
class CostGuardsConfig:
    """What keeps the bill in check: spot capacity, stopping an idle host, a budget that e-mails."""

    spot_instances: bool
    idle_stop_minutes: int | None
    idle_cpu_percent: float
    budget_alert_emails: tuple[str, ...]


def parse(
    raw: Mapping[str, Any], backend: str, budget: float | None, problems: list[str]
) -> CostGuardsConfig:
    spot = raw.get("spotInstances")
    if not isinstance(spot, bool):
        problems.append(f"{qualified('spotInstances')}: {spot!r} is not a boolean; allowed: true or false")
    minutes = raw.get("idleStopMinutes")
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or (minutes != 0 and not MIN_IDLE_STOP_MINUTES <= minutes <= MAX_IDLE_STOP_MINUTES)
        or minutes % IDLE_PERIOD_MINUTES
    ):
        problems.append(
            f"{qualified('idleStopMinutes')}: {minutes!r} is not allowed; allowed: 0 (off) or a multiple of "
            f"{IDLE_PERIOD_MINUTES} from {MIN_IDLE_STOP_MINUTES} to {MAX_IDLE_STOP_MINUTES}"
        )
        minutes = 0
    cpu = decimal(raw, "idleCpuPercent", problems)
    if cpu is not None and cpu >= 100:
        problems.append(
            f"{qualified('idleCpuPercent')}: {raw.get('idleCpuPercent')!r} is not below 100; "
            'allowed: a decimal string like "5"'
        )
    if cpu is None and minutes:
        problems.append(
            f"{qualified('idleCpuPercent')} is required when {qualified('idleStopMinutes')} is set; "
            'allowed: a decimal string like "5"'
        )
    emails_raw = raw.get("budgetAlertEmails") or []
    emails: list[str] = []
    if not isinstance(emails_raw, list):
        problems.append(f"{qualified('budgetAlertEmails')}: {emails_raw!r} is not a list; allowed: e-mail addresses")
        emails_raw = []
    for email in emails_raw:
        if not _EMAIL.match(str(email)):
            problems.append(
                f"{qualified('budgetAlertEmails')}: {email!r} is not an e-mail address; allowed: like team@example.org"
            )
        else:
            emails.append(str(email))
    if len(emails) > MAX_BUDGET_SUBSCRIBERS:
        problems.append(
            f"{qualified('budgetAlertEmails')}: {len(emails)} addresses; "
            f"allowed: at most {MAX_BUDGET_SUBSCRIBERS} (AWS Budgets' limit)"
        )
    if emails and budget is None:
        # Without a budget there is nothing to send: the addresses would be silently ignored.
        problems.append(
            f"{qualified('budgetAlertEmails')} is set but {qualified('monthlyBudgetUsd')} is empty, so no budget would "
            f"ever mail them; allowed: set {qualified('monthlyBudgetUsd')} too, or leave the list empty"
        )
    # Spot capacity and the idle stop act on the one GPU host: other backends leave them aside (a stack
    # file keeps working when its backend is switched); the budget covers every backend.
    host = backend == "minikube"
    return CostGuardsConfig(
        spot_instances=host and spot is True,
        idle_stop_minutes=(minutes or None) if host else None,
        idle_cpu_percent=cpu or 0.0,
        budget_alert_emails=tuple(emails),
    )
