"""The shared shape of every domain: rule groups, alerts and dashboard specs, and their rendering.

A domain module exposes ``rules(spec) -> list[Group]`` and ``dashboards(spec) -> list[Dashboard]``,
pure functions of the SignalsSpec. This module turns them into PrometheusRule groups (adding the
runbook link to every alert, in one place) and Grafana dashboard JSON (variables, links, layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.models import dashboard as model

from dashboards import layout, promql
from dashboards.config import SignalsSpec
from dashboards.layout import PROMETHEUS, Row

TAG = "llm-observability"


@dataclass(frozen=True)
class Record:
    record: str
    expr: str
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Alert:
    alert: str
    expr: str
    severity: str
    summary: str
    description: str
    for_: str = "0m"

    def __post_init__(self) -> None:
        if self.severity not in ("critical", "warning", "info"):
            raise ValueError(f"{self.alert}: severity {self.severity!r}")


@dataclass(frozen=True)
class Group:
    name: str
    rules: tuple[Record | Alert, ...]
    interval: str | None = None


@dataclass(frozen=True)
class Variable:
    """A Grafana query variable: label values of one metric, filtered by the variables before it."""

    name: str
    label: str
    metric: str
    source_label: str
    matchers: tuple[tuple[str, str], ...] = ()
    filters: tuple[str, ...] = ()  # earlier variables, each filtering the label of the same name

    @property
    def query(self) -> str:
        matchers = {**dict(self.matchers), **{name: f"${name}" for name in self.filters}}
        return f"label_values({promql.selector(self.metric, matchers)}, {self.source_label})"


@dataclass(frozen=True)
class TempoVariable:
    """A free-text variable for Tempo searches (service, minimum duration)."""

    name: str
    label: str
    default: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable | TempoVariable, ...] = ()
    tags: tuple[str, ...] = ()
    uses_tempo: bool = False
    time_from: str = "now-6h"
    extra_links: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def panels(self) -> list[layout.Panel]:
        return [panel for row in self.rows for panel in row.panels]


# --- rules ---------------------------------------------------------------------------------------


def rule_groups(groups: list[Group], spec: SignalsSpec) -> dict[str, Any]:
    """A Prometheus rule file (also the spec of a PrometheusRule), runbook links added here only."""
    rendered = []
    for group in groups:
        if not group.rules:
            continue
        rules = []
        for rule in group.rules:
            if isinstance(rule, Record):
                entry: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
                if rule.labels:
                    entry["labels"] = dict(rule.labels)
            else:
                entry = {
                    "alert": rule.alert,
                    "expr": rule.expr,
                    "for": rule.for_,
                    "labels": {"severity": rule.severity},
                    "annotations": {
                        "summary": rule.summary,
                        "description": rule.description,
                        "runbook_url": f"{spec.runbook_url}#{rule.alert.lower()}",
                    },
                }
            rules.append(entry)
        group_entry: dict[str, Any] = {"name": group.name, "rules": rules}
        if group.interval:
            group_entry["interval"] = group.interval
        rendered.append(group_entry)
    return {"groups": rendered}


# --- dashboards ----------------------------------------------------------------------------------


def _variable(variable: Variable | TempoVariable):
    if isinstance(variable, TempoVariable):
        return (
            builders.TextBoxVariable(variable.name).label(variable.label).default_value(variable.default)
        )
    return (
        builders.QueryVariable(variable.name)
        .label(variable.label)
        .datasource(PROMETHEUS)
        .query(variable.query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def render_dashboard(dash: Dashboard, spec: SignalsSpec) -> dict[str, Any]:
    """Grafana JSON for one dashboard: datasource variables first, then the domain's variables."""
    builder = (
        builders.Dashboard(dash.title)
        .uid(dash.uid)
        .description(dash.description)
        .tags([TAG, *dash.tags])
        .editable()
        .refresh("1m")
        .time(dash.time_from, "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            builders.DatasourceVariable("datasource").label("Metrics").type("prometheus")
            .current(model.VariableOption(selected=True, text="prometheus", value="prometheus"))
        )
    )
    if dash.uses_tempo:
        builder = builder.with_variable(
            builders.DatasourceVariable("traces").label("Traces").type("tempo")
            .current(model.VariableOption(selected=True, text="tempo", value=spec.tempo_datasource_uid))
        )
    for variable in dash.variables:
        builder = builder.with_variable(_variable(variable))
    builder = builder.link(
        builders.DashboardLink("LLM observability").type(model.DashboardLinkType.DASHBOARDS)
        .tags([TAG]).as_dropdown(True).include_vars(True).keep_time(True)
    )
    for title, url in dash.extra_links:
        builder = builder.link(builders.DashboardLink(title).type(model.DashboardLinkType.LINK).url(url).keep_time(True).include_vars(True))
    for panel in layout.place(list(dash.rows)):
        builder = builder.with_panel(panel) if not isinstance(panel, builders.Row) else builder.with_row(panel)
    rendered = layout.to_json(builder.build())
    rendered["id"] = None
    return rendered
