"""The smartpole dashboards, as code (grafana-foundation-sdk).

Each `*_dashboard()` returns a finished SDK `Dashboard`; `all_dashboards()` lists them in a
fixed order. Panels get explicit, stable ids and grid positions (left to right, wrapping at
Grafana's 24 columns), so regenerating gives byte-identical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_model

from dashboards import queries as q
from dashboards.sql import PanelSql, datasource_ref

GRID_COLUMNS = 24
FOLDER_UID = "smartpole"
FOLDER_TITLE = "Smartpole"
TAGS = ["smartpole"]
DEFAULT_TIMEZONE = "Europe/Berlin"
# Rollup panels never ask for buckets finer than the rollup holds.
ROLLUP_MIN_INTERVAL = "1h"


@dataclass(frozen=True, slots=True)
class DashboardSpec:
    uid: str
    title: str
    file_name: str


OVERVIEW = DashboardSpec("smartpole-overview", "Smartpole · City overview", "overview.json")
ENVIRONMENT = DashboardSpec("smartpole-environment", "Smartpole · Environment", "environment.json")
EV = DashboardSpec("smartpole-ev", "Smartpole · EV charging", "ev-charging.json")
WIFI = DashboardSpec("smartpole-wifi", "Smartpole · Wi-Fi", "wifi.json")
LIGHTING = DashboardSpec("smartpole-lighting", "Smartpole · Lighting and energy", "lighting.json")
POLE = DashboardSpec("smartpole-pole", "Smartpole · Pole detail", "pole-detail.json")


@dataclass(frozen=True, slots=True)
class BuiltDashboard:
    spec: DashboardSpec
    board: dashboard_builders.Dashboard
    # each panel with the query it runs (None: panels without SQL)
    layout: Layout


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
        # Limits are drawn as dashed lines; the series stay in the palette colours.
        colors = ["orange", "red", "dark-red"]
        panel.thresholds(
            _thresholds((None, "transparent"), *((v, colors[i]) for i, (v, _) in enumerate(limits)))
        ).thresholds_style(
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
    return _with_query(barchart.Panel(), title, sql, description).x_field(x_field)


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


def pole_map(title: str, sql: PanelSql, description: str) -> geomap.Panel:
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
                for code, label, color in (
                    (0, "ok", "green"),
                    (1, "sensor stale", "yellow"),
                    (2, "faulted", "orange"),
                    (3, "offline", "red"),
                )
            }
        )
    ]
    return (
        _with_query(geomap.Panel(), title, sql, description)
        .view(geomap.MapViewConfig().id("fit").zoom(12))
        .basemap(common_builders.MapLayerOptions().type("default").name("Basemap"))
        .layers([markers])
        .thresholds(_thresholds((None, "green"), (1, "yellow"), (2, "orange"), (3, "red")))
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


def _variables(timezone: str, poles: str | None) -> list[cogbuilder.Builder[Any]]:
    """$tz always; with poles="multi" also $district and $pole (multi, All); "single": one pole."""
    ds = datasource_ref()
    tz = dashboard_builders.ConstantVariable("tz").label("Time zone of local days").value(timezone)
    if poles == "single":
        return [
            tz,
            dashboard_builders.QueryVariable("pole")
            .label("Pole")
            .datasource(ds)
            .query(q.VAR_ALL_POLES)
            .refresh(dashboard_model.VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
            .multi(False)
            .include_all(False),
        ]
    district = (
        dashboard_builders.QueryVariable("district")
        .label("District")
        .datasource(ds)
        .query(q.VAR_DISTRICTS)
        .refresh(dashboard_model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(dashboard_model.VariableOption(text="All", value="$__all", selected=True))
    )
    if poles is None:
        return [tz, district]
    pole = (
        dashboard_builders.QueryVariable("pole")
        .label("Pole")
        .datasource(ds)
        .query(q.VAR_POLES_IN_DISTRICTS)
        .refresh(dashboard_model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(dashboard_model.VariableOption(text="All", value="$__all", selected=True))
    )
    return [tz, district, pole]


def _dashboard(
    spec: DashboardSpec,
    layout: Layout,
    variables: list[cogbuilder.Builder[Any]],
    time_from: str,
    description: str,
) -> BuiltDashboard:
    board = (
        dashboard_builders.Dashboard(spec.title)
        .uid(spec.uid)
        .description(description)
        .tags(TAGS)
        .time(time_from, "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR)
        .editable()
        .link(
            dashboard_builders.DashboardLink("Smartpole")
            .type(dashboard_model.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )
    for variable in variables:
        board.with_variable(variable)
    for panel, _ in layout.panels:
        board.with_panel(panel)
    return BuiltDashboard(spec, board, layout)


def overview_dashboard(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        stat_panel(
            "Poles",
            q.OVERVIEW_COUNTS,
            "Online: talked within the offline window. Offline: last-will fired or no message "
            f"for {q.OFFLINE_AFTER}. Faulted: online with a defective lamp, a Faulted charger "
            "or Wi-Fi down. Sensor stale: online, but no env reading for "
            f"{q.SENSOR_STALE_AFTER}.",
            {"online": "green", "offline": "red", "faulted": "orange", "sensor_stale": "yellow"},
        ),
        12,
        5,
        q.OVERVIEW_COUNTS,
    )
    layout.add(
        stat_panel(
            "Data freshness",
            q.OVERVIEW_FRESHNESS,
            "Age of the newest message (platform clock) and the newest reading (device "
            "clock) over all poles, and how many poles have been silent.",
        ),
        12,
        5,
        q.OVERVIEW_FRESHNESS,
    )
    layout.add(
        pole_map(
            "Poles by health",
            q.OVERVIEW_MAP,
            "Green ok, yellow env sensor stale, orange faulted, red offline.",
        ),
        14,
        14,
        q.OVERVIEW_MAP,
    )
    layout.add(
        alert_list(
            "Active alerts", "Firing and pending alerts of the provisioned smartpole rules."
        ),
        10,
        7,
        None,
    )
    layout.add(
        table_panel(
            "Current problems",
            q.OVERVIEW_PROBLEMS,
            "What the alert rules look at, now: offline poles, stale sensors, lamp faults, "
            "Faulted chargers, Wi-Fi down.",
        ),
        10,
        7,
        q.OVERVIEW_PROBLEMS,
    )
    layout.add(
        time_series(
            "Env readings per interval",
            q.OVERVIEW_ENV_READINGS,
            "Readings arriving (from the hourly rollup): a drop means poles or ingest stopped.",
            bars=True,
            min_interval=ROLLUP_MIN_INTERVAL,
        ),
        24,
        7,
        q.OVERVIEW_ENV_READINGS,
    )
    return _dashboard(
        OVERVIEW,
        layout,
        _variables(timezone, None),
        "now-24h",
        "Fleet health at a glance: where poles are, which are offline or faulted, "
        "what is alerting and how fresh the data is.",
    )


def environment_dashboard(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    for pollutant in q.POLLUTANTS:
        limit_text = (
            "Dashed lines: " + ", ".join(f"{label} {value:g}" for value, label in pollutant.limits)
            if pollutant.limits
            else "No EU limit value applies."
        )
        for series in ("district", "pole"):
            sql = q.env_by(pollutant, series)
            layout.add(
                time_series(
                    f"{pollutant.title} by {series}",
                    sql,
                    f"Hourly means from the env_hourly rollup. {limit_text}",
                    limits=pollutant.limits,
                    min_interval=ROLLUP_MIN_INTERVAL,
                ),
                12,
                8,
                sql,
            )
    layout.add(
        table_panel(
            "EU limit exceedances this year",
            q.ENV_EXCEEDANCES,
            f"Calendar year (local time) of the range's end. PM10: days with a daily mean over "
            f"{q.PM10_DAILY_LIMIT:g} µg/m³ ({q.PM10_DAYS_ALLOWED} allowed). NO₂: hours over "
            f"{q.NO2_HOURLY_LIMIT:g} µg/m³ ({q.NO2_HOURS_ALLOWED} allowed). O₃: days whose max "
            f"8-hour mean exceeds {q.O3_TARGET_8H:g} µg/m³ ({q.O3_DAYS_ALLOWED} allowed, "
            "averaged over 3 years).",
            {
                "pm10_days_over_limit": q.PM10_DAYS_ALLOWED + 1,
                "no2_hours_over_limit": q.NO2_HOURS_ALLOWED + 1,
                "o3_days_over_target": q.O3_DAYS_ALLOWED + 1,
            },
        ),
        24,
        10,
        q.ENV_EXCEEDANCES,
    )
    return _dashboard(
        ENVIRONMENT,
        layout,
        _variables(timezone, "multi"),
        "now-7d",
        "Air quality and noise by district and pole against the EU limit values.",
    )


def ev_dashboard(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        bar_gauge(
            "Connectors by status now",
            q.EV_STATUS_COUNTS,
            "Newest OCPP status of every connector that reported in the last "
            f"{q.EV_STATUS_HORIZON}.",
        ),
        8,
        8,
        q.EV_STATUS_COUNTS,
    )
    layout.add(
        table_panel("Connector status now", q.EV_STATUS_NOW, "Faulted connectors first.", None),
        16,
        8,
        q.EV_STATUS_NOW,
    )
    layout.add(
        time_series(
            "Utilisation",
            q.EV_UTILISATION,
            "Share of connector time in Charging, SuspendedEV/EVSE or Finishing; each status "
            "holds until the connector's next report.",
        ),
        12,
        8,
        q.EV_UTILISATION,
    )
    layout.add(
        time_series(
            "Sessions and energy per day",
            q.EV_DAILY,
            "Per local day: distinct charging sessions (transaction ids) and energy from the "
            "connector meters.",
            bars=True,
        ),
        12,
        8,
        q.EV_DAILY,
    )
    layout.add(
        table_panel(
            "Faults by OCPP error code",
            q.EV_FAULTS,
            "Reports with an error code other than NoError in the range.",
        ),
        24,
        7,
        q.EV_FAULTS,
    )
    return _dashboard(
        EV,
        layout,
        _variables(timezone, None),
        "now-7d",
        "EV chargers: connector status, utilisation, sessions, energy and faults.",
    )


def wifi_dashboard(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        stat_panel(
            "Hotspots by status now",
            q.WIFI_DOWN_COUNT,
            "Newest status of every hotspot.",
            {"down": "red", "degraded": "orange", "up": "green"},
        ),
        8,
        6,
        q.WIFI_DOWN_COUNT,
    )
    layout.add(
        table_panel("Hotspots down or degraded", q.WIFI_DOWN_LIST, "Since their newest report."),
        16,
        6,
        q.WIFI_DOWN_LIST,
    )
    layout.add(
        time_series("Clients by hotspot", q.WIFI_CLIENTS, "Mean connected clients."),
        12,
        8,
        q.WIFI_CLIENTS,
    )
    layout.add(
        time_series(
            "Traffic by hotspot",
            q.WIFI_TRAFFIC,
            "Bytes per interval from the access points' counters (a reboot restarts them).",
        ),
        12,
        8,
        q.WIFI_TRAFFIC,
    )
    layout.add(
        bar_chart(
            "Clients by hour of day",
            q.WIFI_HOUR_OF_DAY,
            "Mean connected clients per local hour over the range.",
            "hour",
        ),
        24,
        8,
        q.WIFI_HOUR_OF_DAY,
    )
    return _dashboard(
        WIFI,
        layout,
        _variables(timezone, "multi"),
        "now-7d",
        "Public Wi-Fi: clients and traffic per hotspot, daily pattern, hotspots down.",
    )


def lighting_dashboard(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        time_series(
            "Burn hours per day by district",
            q.LIGHT_BURN_HOURS,
            "Lamp hours on or dimmed per local day. A reading holds until the next one, for at "
            f"most {q.LIGHT_READING_VALID_FOR}.",
            bars=True,
        ),
        12,
        8,
        q.LIGHT_BURN_HOURS,
    )
    layout.add(
        time_series(
            "Energy per day by district",
            q.LIGHT_ENERGY,
            "From the lamp meters (totalActiveEnergyImport) per local day.",
            bars=True,
        ),
        12,
        8,
        q.LIGHT_ENERGY,
    )
    layout.add(
        time_series(
            "Dimming by district",
            q.LIGHT_DIMMING,
            "Mean dim level of burning lamps (100 % = full output).",
        ),
        24,
        7,
        q.LIGHT_DIMMING,
    )
    layout.add(
        table_panel(
            "Day burners",
            q.LIGHT_DAY_BURNERS,
            "Lamps on or dimmed while the sun stood more than "
            f"{q.DAYLIGHT_SUN_ELEVATION_DEG}° above the horizon at the pole.",
        ),
        12,
        8,
        q.LIGHT_DAY_BURNERS,
    )
    layout.add(
        table_panel(
            "Defective lamps", q.LIGHT_DEFECTIVE, "Poles whose newest lamp status is not ok."
        ),
        12,
        8,
        q.LIGHT_DEFECTIVE,
    )
    return _dashboard(
        LIGHTING,
        layout,
        _variables(timezone, None),
        "now-7d",
        "Street lighting: burn hours, energy, dimming, day burners and defective lamps.",
    )


def pole_dashboard(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(table_panel("Pole", q.POLE_INFO, "Registry entry."), 24, 4, q.POLE_INFO)
    env_note = f"Raw readings up to a {q.RAW_RANGE_LIMIT} range, hourly rollup beyond."
    layout.add(
        time_series(
            "Air quality",
            q.POLE_AIR,
            env_note,
            limits=((q.PM10_DAILY_LIMIT, "PM10"), (q.NO2_HOURLY_LIMIT, "NO2")),
        ),
        12,
        8,
        q.POLE_AIR,
    )
    layout.add(time_series("Noise", q.POLE_NOISE, env_note), 12, 8, q.POLE_NOISE)
    layout.add(time_series("Weather", q.POLE_WEATHER, env_note), 12, 8, q.POLE_WEATHER)
    layout.add(
        time_series("Lamp power and dimming", q.POLE_LIGHT, "Mean power and dim level."),
        12,
        8,
        q.POLE_LIGHT,
    )
    layout.add(
        state_timeline("Lamp state", q.POLE_LAMP_STATE, "Power state and lamp status."),
        24,
        5,
        q.POLE_LAMP_STATE,
    )
    layout.add(time_series("Wi-Fi clients", q.POLE_WIFI, "Mean clients."), 12, 8, q.POLE_WIFI)
    layout.add(
        time_series("Charging power", q.POLE_EV_POWER, "Per connector."), 12, 8, q.POLE_EV_POWER
    )
    layout.add(
        state_timeline(
            "Connector status", q.POLE_EV_STATUS, "OCPP status per connector.", "connector"
        ),
        24,
        6,
        q.POLE_EV_STATUS,
    )
    layout.add(
        state_timeline(
            "Online / offline", q.POLE_STATUS_EVENTS, "Status topic history (incl. last-wills)."
        ),
        24,
        4,
        q.POLE_STATUS_EVENTS,
    )
    return _dashboard(
        POLE,
        layout,
        _variables(timezone, "single"),
        "now-24h",
        "Everything one pole reports; pick it with the Pole variable.",
    )


BUILDERS: tuple[Callable[[str], BuiltDashboard], ...] = (
    overview_dashboard,
    environment_dashboard,
    ev_dashboard,
    wifi_dashboard,
    lighting_dashboard,
    pole_dashboard,
)


def dashboard_json(board: dashboard_builders.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores)."""
    data: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return data


def built_dashboards(timezone: str = DEFAULT_TIMEZONE) -> list[BuiltDashboard]:
    return [build(timezone) for build in BUILDERS]


def all_dashboards(timezone: str = DEFAULT_TIMEZONE) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON, in a fixed order."""
    return {
        built.spec.file_name: dashboard_json(built.board) for built in built_dashboards(timezone)
    }


def render_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
