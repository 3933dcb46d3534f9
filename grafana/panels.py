"""Panel helpers shared by every ``grafana/*.dashboard.py`` module.

A dashboard module lists rows of panels; :func:`layout` gives them grid positions and
:func:`build_dashboard` assembles, numbers and tags them.  Queries are given as ``(expr, legend)`` pairs
built with :mod:`grafana.promql` from the names of :mod:`streams.metric_names`.

Examples
--------
>>> p = timeseries("Throughput", [("sum(rate(monitor_events_total[1m]))", "events/s")], unit="ops")
>>> [t.refId for t in p.targets], p.targets[0].legendFormat
(['A'], 'events/s')
>>> d = build_dashboard("T", "t-uid", layout([row("Traffic"), [p, p]]))
>>> [(q.gridPos.x, q.gridPos.w, q.id) for q in d.panels]
[(0, 24, 1), (0, 12, 2), (12, 12, 3)]
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

import attr
from grafanalib.core import (
    REFRESH_ON_TIME_RANGE_CHANGE,
    Dashboard,
    GridPos,
    Panel,
    RowPanel,
    Stat,
    StateTimeline,
    Target,
    Template,
    Templating,
    Time,
    TimeSeries,
)

from .promql import selector

#: The Prometheus data source the provisioning file declares; panels refer to it by uid.
DATASOURCE_UID = "predwatch-prometheus"
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
PANEL_HEIGHT = 8
TAGS = ["predwatch"]

Query = tuple[str, str]  # (PromQL expr, legend format)

GREEN_RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def targets(queries: Sequence[Query]) -> list[Target]:
    """Prometheus targets with ref ids A, B, C, ..."""
    if len(queries) > len(string.ascii_uppercase):
        raise ValueError(f"at most 26 queries per panel, got {len(queries)}")
    return [Target(expr=expr, legendFormat=legend, refId=ref, datasource=DATASOURCE)
            for (expr, legend), ref in zip(queries, string.ascii_uppercase)]


def timeseries(title: str, queries: Sequence[Query], *, unit: str, description: str = "",
               stacked: bool = False, value_min: int | None = None,
               value_max: int | None = None) -> TimeSeries:
    """A time-series panel with a table legend showing last and max."""
    return TimeSeries(
        title=title, description=description, dataSource=DATASOURCE, targets=targets(queries),
        unit=unit, legendDisplayMode="table", legendPlacement="bottom",
        legendCalcs=["lastNotNull", "max"], tooltipMode="multi",
        stacking={"mode": "normal", "group": "A"} if stacked else {},
        fillOpacity=20 if stacked else 0, valueMin=value_min, valueMax=value_max,
    )


def stat(title: str, queries: Sequence[Query], *, unit: str, description: str = "",
         thresholds: list[dict] | None = None, decimals: int | None = None) -> Stat:
    """A stat panel showing the last value of each series (one tile per series)."""
    return Stat(
        title=title, description=description, dataSource=DATASOURCE, targets=targets(queries),
        format=unit, reduceCalc="lastNotNull", graphMode="area", colorMode="value",
        decimals=decimals, thresholds=thresholds or [{"color": "green", "value": None}],
    )


def state_timeline(title: str, queries: Sequence[Query], *, description: str = "") -> StateTimeline:
    """Verdicts over time: 0 green, 1 red."""
    panel = StateTimeline(
        title=title, description=description, dataSource=DATASOURCE, targets=targets(queries),
        mappings=[{"type": "value", "options": {"0": {"text": "ok", "color": "green"},
                                                "1": {"text": "drift", "color": "red"}}}],
    )
    return attr.evolve(panel, thresholds=GREEN_RED)


def row(title: str) -> RowPanel:
    return RowPanel(title=title)


def layout(rows: Iterable[RowPanel | Sequence[Panel]], *, height: int = PANEL_HEIGHT) -> list[Panel]:
    """Grid positions: a ``RowPanel`` takes a full-width line, a list shares 24 columns equally."""
    placed: list[Panel] = []
    y = 0
    for item in rows:
        if isinstance(item, RowPanel):
            placed.append(attr.evolve(item, gridPos=GridPos(h=1, w=24, x=0, y=y)))
            y += 1
            continue
        if not item or len(item) > 24:
            raise ValueError(f"a line holds 1-24 panels, got {len(item)}")
        w = 24 // len(item)
        for i, panel in enumerate(item):
            placed.append(attr.evolve(panel, gridPos=GridPos(h=height, w=w, x=i * w, y=y)))
        y += height
    return placed


def query_variable(name: str, label: str, metric: str, *, depends_on: Sequence[str] = ()) -> Template:
    """A template variable listing the values of ``label`` on ``metric`` (filtered by earlier
    variables)."""
    series = selector(metric, **{v: f"${v}" for v in depends_on})
    return Template(
        name=name, label=name, query=f"label_values({series}, {label})", dataSource=DATASOURCE,
        refresh=REFRESH_ON_TIME_RANGE_CHANGE, type="query", includeAll=False, multi=False,
    )


def build_dashboard(title: str, uid: str, panels: list[Panel], *, description: str = "",
              variables: Sequence[Template] = ()) -> Dashboard:
    """A dashboard with the predwatch defaults, its panels numbered."""
    return Dashboard(
        title=title, uid=uid, description=description, tags=list(TAGS), panels=panels,
        templating=Templating(list=list(variables)), time=Time("now-1h", "now"), refresh="10s",
        timezone="utc", editable=True,
    ).auto_panel_ids()


def histogram_quantile(metric: str, q: float, *, by: Sequence[str] = (), **labels: str) -> str:
    """``histogram_quantile`` of the histogram ``metric`` over 5 minutes, grouped by ``by``."""
    buckets = selector(f"{metric}_bucket", **labels)
    return f"histogram_quantile({q}, sum by ({', '.join([*by, 'le'])}) (rate({buckets}[5m])))"
