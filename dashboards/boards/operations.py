"""The Operations dashboard: ingest and API health, from Prometheus (the metrics
each ingest worker and the API serve; README: Metrics). The alerts on the same
metrics are Prometheus rules in deploy/prometheus/alerts.yml."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.models import common

from dashboards.boards.common import DEFAULT_TIMEZONE, BuiltDashboard, DashboardSpec, assemble
from dashboards.panels import Layout
from dashboards.promql import PanelPromql, prometheus_ref
from dashboards.queries import operations as q

SPEC = DashboardSpec(
    "smartpole-operations",
    "Operations",
    "operations.json",
    (
        "for operators, from Prometheus: ingest workers up, time since the last commit, "
        "backlog, messages received / stored / duplicate, quarantined by reason, lag and "
        "commit time, reconnects, database size against its disk, API requests and latency"
    ),
)


def _with_promql(panel: Any, title: str, query: PanelPromql, description: str) -> Any:
    panel.title(title).description(description).datasource(prometheus_ref())
    for target in query.targets():
        panel.with_target(target)
    return panel.unit(query.unit or "short")


def _series(title: str, query: PanelPromql, description: str) -> timeseries.Panel:
    panel: timeseries.Panel = _with_promql(timeseries.Panel(), title, query, description)
    return panel.legend(
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["mean", "max"])
    )


def _stat(title: str, query: PanelPromql, description: str) -> stat.Panel:
    panel: stat.Panel = _with_promql(stat.Panel(), title, query, description)
    return (
        panel.reduce_options(
            common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
        )
        .graph_mode(common.BigValueGraphMode.AREA)
        .color_mode(common.BigValueColorMode.VALUE)
    )


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(_stat("Ingest workers up", q.WORKERS_UP, "Workers Prometheus scrapes."), 6, 5, None)
    layout.add(
        _stat(
            "Since the last commit",
            q.SINCE_LAST_COMMIT,
            "Alert SmartpoleIngestNotCommitting: over 10 min while messages arrive.",
        ),
        6,
        5,
        None,
    )
    layout.add(
        _stat("Backlog in memory", q.BACKLOG, "Received, not yet committed, per worker."),
        6,
        5,
        None,
    )
    layout.add(
        _stat(
            "Database size",
            q.DATABASE_SIZE,
            "pg_database_size, and the disk as configured (alert above 80 %).",
        ),
        6,
        5,
        None,
    )
    layout.add(
        _series("Messages and readings", q.THROUGHPUT, "Per second, all workers."), 12, 8, None
    )
    layout.add(
        _series(
            "Quarantined by reason",
            q.QUARANTINED,
            "Per second; `smartpole quarantine list --reason ...` shows them.",
        ),
        12,
        8,
        None,
    )
    layout.add(
        _series("Lag: arrival to commit", q.LAG, "Per batch, its oldest message."), 12, 8, None
    )
    layout.add(_series("Commit time and batch size", q.COMMIT, "What a batch costs."), 12, 8, None)
    layout.add(
        _series(
            "Reconnects (last hour) and database up",
            q.RECONNECTS,
            "Broker and database reconnections of all workers.",
        ),
        8,
        8,
        None,
    )
    layout.add(_series("API requests by status", q.API_REQUESTS, "Per second."), 8, 8, None)
    layout.add(_series("API latency", q.API_LATENCY, "Time to the response headers."), 8, 8, None)
    return assemble(
        SPEC,
        layout,
        [],
        "now-6h",
        "Operators' view of the platform from Prometheus: ingest and API health.",
    )
