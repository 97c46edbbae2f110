"""Dashboards, recording rules and alerts as code, one module per domain (monitoring-mixin style).

``build(spec)`` is the single entry point: every domain's dashboards as Grafana JSON (by uid) and
its rule groups as Prometheus rule files (by domain). Pure: the same spec gives the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from dashboards import answers, application, cost, gpu, mixin, overview, platform, quality, traces, vllm
from dashboards.config import SignalsSpec

DOMAINS = {
    "vllm": vllm,
    "gpu": gpu,
    "cost": cost,
    "quality": quality,
    "application": application,
    "answers": answers,
    "traces": traces,
    "overview": overview,
    "platform": platform,
}


@dataclass(frozen=True)
class Bundle:
    dashboards: dict[str, dict[str, Any]]  # uid -> Grafana JSON
    rules: dict[str, dict[str, Any]]  # domain -> {"groups": [...]}
    specs: dict[str, mixin.Dashboard]  # uid -> the declarative spec (panels, variables)

    def files(self) -> dict[str, str]:
        """Relative path -> content, as `python -m dashboards.render` writes them."""
        out = {f"dashboards/{uid}.json": json.dumps(body, indent=2, sort_keys=True) + "\n"
               for uid, body in self.dashboards.items()}
        for domain, body in self.rules.items():
            out[f"rules/{domain}.yaml"] = to_yaml(body)
        return out


class _RuleDumper(yaml.SafeDumper):
    """Multi-line expressions as literal blocks, so rule files read like hand-written ones."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RuleDumper.add_representer(str, _str)


def to_yaml(body: dict[str, Any]) -> str:
    return yaml.dump(body, Dumper=_RuleDumper, sort_keys=False, width=120)


# The labels that say what an alert is about, for "the same target" in inhibition.
TARGET_LABELS = ("alertname", "namespace", "model_name", "pod", "Hostname", "gpu", "job", "instance", "gen_ai_tool_name", "vector_db")


def inhibit_rules() -> tuple[dict[str, Any], ...]:
    """Alertmanager inhibition: a critical alert mutes the warning of the same alert on the same target
    (the burn tiers, the XID classes), and an engine that is down mutes its model's latency and queue
    alerts, which it explains."""
    return (
        {"source_matchers": ['severity = "critical"'], "target_matchers": ['severity = "warning"'],
         "equal": list(TARGET_LABELS)},
        {"source_matchers": [f'alertname = "{vllm.ENGINE_DOWN}"'],
         "target_matchers": [f'alertname =~ "{"|".join(vllm.ENGINE_DOWN_MUTES)}"'],
         "equal": ["namespace", "model_name"]},
    )


def build(spec: SignalsSpec) -> Bundle:
    dashboards: dict[str, dict[str, Any]] = {}
    specs: dict[str, mixin.Dashboard] = {}
    rules: dict[str, dict[str, Any]] = {}
    for domain, module in DOMAINS.items():
        for dash in module.dashboards(spec):
            if dash.uid in specs:
                raise ValueError(f"dashboard uid {dash.uid} defined twice")
            specs[dash.uid] = dash
            dashboards[dash.uid] = mixin.render_dashboard(dash, spec)
        groups = module.rules(spec)
        if groups:
            rules[domain] = mixin.rule_groups(groups, spec)
    return Bundle(dashboards, rules, specs)
