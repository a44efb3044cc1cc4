"""Prometheus queries for the Operations dashboard: the datasource, and each panel's
PromQL with the legend of every series.

The expressions read the metrics ingest and the API export (README: Metrics) and
`tests/dashboards/test_operations_prometheus.py` runs every one of them against a real
Prometheus scraping a running ingest worker and API, so a renamed metric fails a
test, not a dashboard. `$__rate_interval` is Grafana's; the tests put in a window.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import prometheus as prometheus_builders
from grafana_foundation_sdk.models import dashboard as dashboard_model

PROMETHEUS_PLUGIN_ID = "prometheus"
# Fixed so the provisioned dashboard can reference it before it exists.
PROMETHEUS_DATASOURCE_UID = "smartpole-prometheus"
PROMETHEUS_DATASOURCE_NAME = "smartpole-prometheus"


def prometheus_ref() -> dashboard_model.DataSourceRef:
    return dashboard_model.DataSourceRef(
        type_val=PROMETHEUS_PLUGIN_ID, uid=PROMETHEUS_DATASOURCE_UID
    )


@dataclass(frozen=True, slots=True)
class PromSeries:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class PanelPromql:
    series: tuple[PromSeries, ...]
    unit: str | None = None

    def targets(self) -> list[prometheus_builders.Dataquery]:
        return [
            prometheus_builders.Dataquery()
            .ref_id(chr(ord("A") + n))
            .datasource(prometheus_ref())
            .expr(s.expr)
            .legend_format(s.legend)
            for n, s in enumerate(self.series)
        ]


def promql(*series: tuple[str, str], unit: str | None = None) -> PanelPromql:
    return PanelPromql(tuple(PromSeries(expr, legend) for expr, legend in series), unit)
