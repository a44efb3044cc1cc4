"""Panel builders and the grid layout every dashboard uses (grafana-foundation-sdk).

Each builder takes a title, the `PanelSql` the panel runs and a description, and derives
the field configuration (units, overrides) from the query's declared columns. `Layout`
gives panels explicit, stable ids and grid positions (left to right, wrapping at Grafana's
24 columns), so regenerating gives byte-identical JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    geomap,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_model

from dashboards.sql import PanelSql, datasource_ref

GRID_COLUMNS = 24
# The folder every dashboard and alert rule lives in (the alert list panel names it).
FOLDER_UID = "smartpole"
FOLDER_TITLE = "Smartpole"


# The SDK's panel builders share no base class; each is a Builder[Panel] with these methods.
PanelBuilder = Any
P = TypeVar("P")


@dataclass
class Layout:
    """Places panels row by row and numbers them; ids and positions follow insertion order."""

    panels: list[tuple[PanelBuilder, PanelSql | None]] = field(default_factory=list)
    x: int = 0
    y: int = 0
    row_height: int = 0

    def add(self, panel: PanelBuilder, width: int, height: int, sql: PanelSql | None) -> None:
        if not 0 < width <= GRID_COLUMNS:
            raise ValueError(f"panel width {width} outside 1..{GRID_COLUMNS}")
        if self.x + width > GRID_COLUMNS:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel.id(len(self.panels) + 1).grid_pos(
            dashboard_model.GridPos(h=height, w=width, x=self.x, y=self.y)
        )
        self.x += width
        self.row_height = max(self.row_height, height)
        self.panels.append((panel, sql))


def _with_query(panel: P, title: str, sql: PanelSql, description: str) -> P:
    builder: Any = panel  # the SDK's panel builders share these methods, not a base class
    builder.title(title).description(description).datasource(datasource_ref()).with_target(
        sql.target("A")
    )
    return panel


def _thresholds(*steps: tuple[float | None, str]) -> dashboard_builders.ThresholdsConfig:
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_model.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_model.Threshold(color=color, value=value) for value, color in steps])
    )


def _unit_overrides(panel: PanelBuilder, sql: PanelSql, panel_unit: str | None) -> None:
    for column in sql.columns:
        if column.unit and column.unit != panel_unit:
            panel.override_by_name(
                column.name, [dashboard_model.DynamicConfigValue(id_val="unit", value=column.unit)]
            )


def _first_unit(sql: PanelSql) -> str | None:
    return next((c.unit for c in sql.columns if c.unit), None)


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.RIGHT)
        .show_legend(True)
        .calcs(["mean", "max"])
    )


def time_series(
    title: str,
    sql: PanelSql,
    description: str,
    *,
    limits: tuple[tuple[float, str], ...] = (),
    bars: bool = False,
    min_interval: str | None = None,
) -> timeseries.Panel:
    unit = _first_unit(sql)
    panel = _with_query(timeseries.Panel(), title, sql, description).legend(_legend())
    if unit:
        panel.unit(unit)
    _unit_overrides(panel, sql, unit)
    if bars:
        panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(60)
    if min_interval:
        panel.interval(min_interval)
    if limits:
        # (value, colour) pairs drawn as dashed lines; the series keep the palette colours.
        panel.thresholds(_thresholds((None, "transparent"), *limits)).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
    return panel


def stat_panel(
    title: str, sql: PanelSql, description: str, colors: dict[str, str] | None = None
) -> stat.Panel:
    panel = (
        _with_query(stat.Panel(), title, sql, description)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
    )
    unit = _first_unit(sql)
    if unit:
        panel.unit(unit)
    _unit_overrides(panel, sql, unit)
    for name, color in (colors or {}).items():
        panel.override_by_name(
            name,
            [
                dashboard_model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": color}
                )
            ],
        )
    return panel


def table_panel(
    title: str,
    sql: PanelSql,
    description: str,
    column_thresholds: dict[str, float] | None = None,
) -> table.Panel:
    panel = _with_query(table.Panel(), title, sql, description).filterable(True)
    _unit_overrides(panel, sql, None)
    for name, over in (column_thresholds or {}).items():
        panel.override_by_name(
            name,
            [
                dashboard_model.DynamicConfigValue(
                    id_val="thresholds",
                    value={
                        "mode": "absolute",
                        "steps": [
                            {"color": "green", "value": None},
                            {"color": "red", "value": over},
                        ],
                    },
                ),
                dashboard_model.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                ),
            ],
        )
    return panel


def bar_gauge(title: str, sql: PanelSql, description: str) -> bargauge.Panel:
    return (
        _with_query(bargauge.Panel(), title, sql, description)
        .reduce_options(common_builders.ReduceDataOptions().values(True).calcs(["lastNotNull"]))
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .orientation(common.VizOrientation.HORIZONTAL)
    )


def bar_chart(title: str, sql: PanelSql, description: str, x_field: str) -> barchart.Panel:
    panel = _with_query(barchart.Panel(), title, sql, description).x_field(x_field)
    unit = _first_unit(sql)
    if unit:
        panel.unit(unit)
    _unit_overrides(panel, sql, unit)
    return panel


def state_timeline(
    title: str, sql: PanelSql, description: str, partition_by: str | None = None
) -> statetimeline.Panel:
    panel = _with_query(statetimeline.Panel(), title, sql, description).merge_values(True)
    if partition_by:
        # one timeline row per connector from a long table
        panel.with_transformation(
            dashboard_model.DataTransformerConfig(
                id_val="partitionByValues", options={"fields": [partition_by]}
            )
        )
    return panel


def pole_map(
    title: str, sql: PanelSql, description: str, states: list[tuple[int, str, str]]
) -> geomap.Panel:
    """Poles as markers coloured by the query's `health_code`; `states` maps each code to
    its label and colour."""
    markers = (
        common_builders.MapLayerOptions()
        .type("markers")
        .name("Poles")
        .location(
            common_builders.FrameGeometrySource()
            .mode(common.FrameGeometrySourceMode.COORDS)
            .latitude("latitude")
            .longitude("longitude")
        )
        .config(
            {
                "showLegend": True,
                "style": {
                    "color": {"field": "health_code", "fixed": "green"},
                    "opacity": 0.9,
                    "size": {"fixed": 7},
                    "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                },
            }
        )
        .tooltip(True)
    )
    mappings: list[dashboard_model.ValueMapping] = [
        dashboard_model.ValueMap(
            options={
                str(code): dashboard_model.ValueMappingResult(text=label, color=color)
                for code, label, color in sorted(states)
            }
        )
    ]
    return (
        _with_query(geomap.Panel(), title, sql, description)
        .view(geomap.MapViewConfig().id("fit").zoom(12))
        .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
        .layers([markers])
        .thresholds(
            _thresholds(
                *(
                    (None if i == 0 else code, color)
                    for i, (code, _, color) in enumerate(sorted(states))
                )
            )
        )
        .mappings(mappings)
    )


def alert_list(title: str, description: str) -> dashboard_builders.Panel:
    # Grafana's own alert list: shows the provisioned rules' firing instances. It runs no
    # SQL, so it is the one panel without the datasource.
    return (
        dashboard_builders.Panel()
        .type("alertlist")
        .title(title)
        .description(description)
        .options(
            {
                "viewMode": "list",
                "groupMode": "default",
                "maxItems": 50,
                "sortOrder": 1,
                "dashboardAlerts": False,
                "folder": {"uid": FOLDER_UID, "title": FOLDER_TITLE},
                "stateFilter": {"firing": True, "pending": True, "error": True},
            }
        )
    )
