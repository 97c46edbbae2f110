"""What keeps the bill in check (spot capacity, stopping an idle host, a budget that e-mails), and the
production guardrails a stack file switches on (alerts that reach someone, no documentation values)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Mapping

from stack.config.common import Problems, Secret, boolean, decimal, qualified, shown

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+", re.ASCII)
IDLE_PERIOD_MINUTES = 5  # EC2 basic monitoring publishes CPUUtilization every 5 minutes.
MIN_IDLE_STOP_MINUTES = 15
MAX_IDLE_STOP_MINUTES = 1440  # CloudWatch evaluates at most one day of periods.
MAX_BUDGET_SUBSCRIBERS = 10  # AWS Budgets' limit of e-mail subscribers per notification.
# Set aside for documentation (RFC 5737, RFC 3849, RFC 2606): a value in them reaches nobody.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
DOCUMENTATION_DOMAINS = ("example.org", "example.com", "example.net", "example")


@dataclass(frozen=True)
class CostGuardsConfig:
    """What keeps the bill in check: spot capacity, stopping an idle host, a budget that e-mails."""

    spot_instances: bool
    idle_stop_minutes: int | None
    idle_cpu_percent: float
    # The idle signal of a GPU host: its busiest GPU's utilisation (the CPU one is for CPU hosts).
    idle_gpu_percent: float
    budget_alert_emails: tuple[str, ...]


def _idle_percent(raw: Mapping[str, Any], key: str, minutes: object, problems: Problems) -> float | None:
    percent = decimal(raw, key, problems)
    if percent is not None and percent >= 100:
        problems.append(f'{qualified(key)}: {shown(raw.get(key))} is not below 100; allowed: a decimal string like "5"')
    if percent is None and minutes and not problems.refused(key):
        problems.append(
            f'{qualified(key)} is required when {qualified("idleStopMinutes")} is set; allowed: a decimal string like "5"'
        )
    return percent


def parse(
    raw: Mapping[str, Any], backend: str, budget: float | None, problems: Problems
) -> CostGuardsConfig:
    spot = boolean(raw, "spotInstances", problems)
    minutes = raw.get("idleStopMinutes")
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or (minutes != 0 and not MIN_IDLE_STOP_MINUTES <= minutes <= MAX_IDLE_STOP_MINUTES)
        or minutes % IDLE_PERIOD_MINUTES
    ):
        problems.append(
            f"{qualified('idleStopMinutes')}: {shown(minutes)} is not allowed; allowed: 0 (off) or a multiple of "
            f"{IDLE_PERIOD_MINUTES} from {MIN_IDLE_STOP_MINUTES} to {MAX_IDLE_STOP_MINUTES}"
        )
        minutes = 0
    cpu, gpu = (_idle_percent(raw, key, minutes, problems) for key in ("idleCpuPercent", "idleGpuPercent"))
    emails_raw = raw.get("budgetAlertEmails") or []
    emails: list[str] = []
    if not isinstance(emails_raw, list):
        problems.append(f"{qualified('budgetAlertEmails')}: {shown(emails_raw)} is not a list; allowed: e-mail addresses")
        emails_raw = []
    for email in emails_raw:
        if str(email) in emails:
            problems.append(f"{qualified('budgetAlertEmails')}: {shown(email)} is listed twice; allowed: each address once")
        elif not _EMAIL.fullmatch(str(email)):
            problems.append(
                f"{qualified('budgetAlertEmails')}: {shown(email)} is not an e-mail address; allowed: like team@example.org"
            )
        else:
            emails.append(str(email))
    if len(emails) > MAX_BUDGET_SUBSCRIBERS:
        problems.append(
            f"{qualified('budgetAlertEmails')}: {len(emails)} addresses; "
            f"allowed: at most {MAX_BUDGET_SUBSCRIBERS} (AWS Budgets' limit)"
        )
    if emails and budget is None and not problems.refused("monthlyBudgetUsd"):
        # Without a budget there is nothing to send: the addresses would be silently ignored.
        problems.append(
            f"{qualified('budgetAlertEmails')} is set but {qualified('monthlyBudgetUsd')} is empty, so no budget would "
            f"ever mail them; allowed: set {qualified('monthlyBudgetUsd')} too, or leave the list empty"
        )
    # Spot capacity and the idle stop act on the one GPU host: other backends leave them aside (a stack
    # file keeps working when its backend is switched); the budget covers every backend.
    host = backend == "minikube"
    return CostGuardsConfig(
        spot_instances=host and spot,
        idle_stop_minutes=(minutes or None) if host else None,
        idle_cpu_percent=cpu or 0.0,
        idle_gpu_percent=gpu or 0.0,
        budget_alert_emails=tuple(emails),
    )


def _documentation_domain(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in DOCUMENTATION_DOMAINS)


def production(
    raw: Mapping[str, Any],
    alert_receiver: str,
    alert_receiver_url: Secret | None,
    budget_alert_emails: tuple[str, ...],
    problems: list[str],
) -> None:
    """Guardrails a stack file switches on, so they hold wherever the program runs (CLI, CI, tests)."""
    if boolean(raw, "requireAlertReceiver", problems) and alert_receiver == "none":
        problems.append(
            f"{qualified('alertReceiver')}: 'none' sends every alert nowhere, which "
            f"{qualified('requireAlertReceiver')}=true refuses; allowed: webhook or slack, with "
            "`pulumi config set --secret alertReceiverUrl <url>`"
        )
    if not boolean(raw, "refuseDocumentationValues", problems):
        return
    cidrs = raw.get("allowedCidrs")
    for cidr in cidrs if isinstance(cidrs, list) else []:
        try:
            network = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            continue  # Already refused as not a CIDR.
        if any(network.version == d.version and network.overlaps(d) for d in DOCUMENTATION_NETWORKS):
            problems.append(
                f"{qualified('allowedCidrs')}: {shown(cidr)} is a documentation address (RFC 5737/3849) that reaches "
                f"nobody, which {qualified('refuseDocumentationValues')}=true refuses; allowed: your own "
                "networks, e.g. `pulumi config set --path 'allowedCidrs[0]' <your-ip>/32`"
            )
    for email in budget_alert_emails:
        if _documentation_domain(email.rpartition("@")[2]):
            problems.append(
                f"{qualified('budgetAlertEmails')}: {shown(email)} is a documentation mailbox (RFC 2606) that reaches "
                f"nobody, which {qualified('refuseDocumentationValues')}=true refuses; allowed: your team's address"
            )
    url = alert_receiver_url.value if alert_receiver_url else None
    if isinstance(url, str) and _documentation_domain(re.sub(r"^https?://([^/:]*).*$", r"\1", url)):
        # The URL is a secret: the message names the setting, never the value.
        problems.append(
            f"{qualified('alertReceiverUrl')}: the value (not shown) points at a documentation domain (RFC 2606), "
            f"which {qualified('refuseDocumentationValues')}=true refuses; allowed: your receiver's URL"
        )
