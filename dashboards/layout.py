"""Panels on a 24-column grid, placed in reading order: nothing hand-places ``gridPos`` or ids.

Every panel here must have a description naming the metric it reads and a unit; the builders
below refuse to make one without.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import bargauge, dashboard, heatmap, prometheus, stat, table, tempo, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

GRID_WIDTH = 24
PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
TEMPO = model.DataSourceRef(type_val="tempo", uid="${traces}")


@dataclass(frozen=True)
class Query:
    """One Prometheus target: expression, legend, and whether Grafana should fetch exemplars."""

    expr: str
    legend: str = ""
    exemplars: bool = False
    instant: bool = False
    min_interval: str | None = None  # Grafana's "Min interval": no step shorter than this


@dataclass(frozen=True)
class TraceSearch:
    """One Tempo TraceQL search target."""

    traceql: str
    limit: int = 20


@dataclass(frozen=True)
class Panel:
    """What a domain module declares: kind, title, what it reads, unit, width and targets."""

    kind: str  # timeseries | stat | bargauge | table | heatmap | traces
    title: str
    description: str
    unit: str
    targets: tuple[Query | TraceSearch, ...]
    width: int = 12
    height: int = 8
    stack: bool = False
    links: tuple[tuple[str, str], ...] = ()  # (title, url) data links, e.g. to Tempo
    min: float | None = None
    max: float | None = None
    time_from: str | None = None  # a panel-relative range, like "now/d" for "today so far"
    # Colour steps above a base colour, e.g. ((0.5, "red"),): a target or an alert's threshold, drawn
    # as a dashed line on time series and as the value's colour on stats. From SignalsSpec only.
    thresholds: tuple[tuple[float, str], ...] = ()
    threshold_base: str = "green"

    def __post_init__(self) -> None:
        if not self.description or not self.unit:
            raise ValueError(f"panel {self.title!r} needs a description naming its metric and a unit")

    @property
    def queries(self) -> tuple[Query, ...]:
        return tuple(t for t in self.targets if isinstance(t, Query))


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass
class _Grid:
    """Fills rows left to right; a panel that does not fit starts a new line."""

    x: int = 0
    y: int = 0
    line_height: int = 0
    next_id: int = 1
    placed: list[tuple[int, model.GridPos]] = field(default_factory=list)

    def newline(self) -> None:
        self.y += self.line_height
        self.x, self.line_height = 0, 0

    def place(self, width: int, height: int) -> tuple[int, model.GridPos]:
        if self.x + width > GRID_WIDTH:
            self.newline()
        pos = model.GridPos(h=height, w=width, x=self.x, y=self.y)
        self.x += width
        self.line_height = max(self.line_height, height)
        panel_id = self.next_id
        self.next_id += 1
        return panel_id, pos


def _prometheus_target(query: Query, ref: str, kind: str) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(query.expr).ref_id(ref).legend_format(query.legend or "__auto")
    if kind == "heatmap":
        target = target.format(PromQueryFormat.HEATMAP)
    elif kind == "table":
        target = target.format(PromQueryFormat.TABLE)
    if query.instant:
        target = target.instant()
    else:
        target = target.range()
    if query.exemplars:
        target = target.exemplar(True)
    if query.min_interval:
        target = target.interval(query.min_interval)
    return target


def _builder(panel: Panel):
    kind = panel.kind
    if kind == "timeseries":
        builder = timeseries.Panel().fill_opacity(10 if not panel.stack else 60).line_width(1)
        if panel.stack:
            builder = builder.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        builder = builder.legend(
            common_builders.VizLegendOptions().display_mode(common.LegendDisplayMode.LIST).placement(common.LegendPlacement.BOTTOM).show_legend(True)
        ).tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING))
    elif kind == "stat":
        builder = stat.Panel().graph_mode(common.BigValueGraphMode.AREA).reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
        )
    elif kind == "bargauge":
        builder = bargauge.Panel().orientation(common.VizOrientation.HORIZONTAL).reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
        )
    elif kind == "heatmap":
        builder = heatmap.Panel().calculate(False)
    elif kind in ("table", "traces"):
        builder = table.Panel()
    else:
        raise ValueError(f"unknown panel kind {kind!r}")
    return builder


def _panel(panel: Panel, panel_id: int, pos: model.GridPos):
    builder = _builder(panel).title(panel.title).description(panel.description).unit(panel.unit)
    builder = builder.id(panel_id).grid_pos(pos)
    if panel.min is not None:
        builder = builder.min(panel.min)
    if panel.max is not None:
        builder = builder.max(panel.max)
    if panel.time_from:
        builder = builder.time_from(panel.time_from)
    if panel.thresholds:
        steps = [model.Threshold(None, panel.threshold_base), *(model.Threshold(v, c) for v, c in panel.thresholds)]
        builder = builder.thresholds(dashboard.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
        if panel.kind == "timeseries":
            builder = builder.thresholds_style(
                common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.DASHED))
        if panel.kind == "stat":
            builder = builder.color_mode(common.BigValueColorMode.BACKGROUND)
    if panel.kind == "traces":
        builder = builder.datasource(TEMPO)
        for index, search in enumerate(panel.targets):
            assert isinstance(search, TraceSearch)
            builder = builder.with_target(
                tempo.TempoQuery().query_type("traceql").query(search.traceql).limit(search.limit).ref_id(chr(65 + index))
            )
    else:
        builder = builder.datasource(PROMETHEUS)
        for index, query in enumerate(panel.queries):
            builder = builder.with_target(_prometheus_target(query, chr(65 + index), panel.kind))
        if panel.kind == "table":
            builder = builder.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    if panel.links:
        builder = builder.data_links(
            [dashboard.DashboardLink(title).url(url).target_blank(True) for title, url in panel.links]
        )
    return builder


def place(rows: list[Row]) -> list[Any]:
    """Row headers and panels with ids and grid positions, in reading order."""
    grid = _Grid()
    builders: list[Any] = []
    for row in rows:
        grid.newline()
        row_id, row_pos = grid.place(GRID_WIDTH, 1)
        builders.append(dashboard.Row(row.title).id(row_id).grid_pos(row_pos).collapsed(False))
        grid.newline()
        for panel in row.panels:
            panel_id, pos = grid.place(panel.width, panel.height)
            builders.append(_panel(panel, panel_id, pos))
    return builders


def to_json(built: Any) -> dict[str, Any]:
    """The SDK's model as plain JSON, without the nulls Grafana does not need: stable and diffable."""

    def prune(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: prune(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [prune(v) for v in value]
        return value

    return prune(json.loads(json.dumps(built, cls=JSONEncoder, sort_keys=True)))
