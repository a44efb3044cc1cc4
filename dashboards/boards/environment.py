"""The Environment dashboard."""

from __future__ import annotations

from dashboards.boards.common import (
    DEFAULT_TIMEZONE,
    ROLLUP_MIN_INTERVAL,
    BuiltDashboard,
    DashboardSpec,
    assemble,
    variables,
)
from dashboards.panels import (
    Layout,
    table_panel,
    time_series,
)
from dashboards.queries import common
from dashboards.queries import environment as q

SPEC = DashboardSpec("smartpole-environment", "Smartpole · Environment", "environment.json")


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
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
            f"{common.PM10_DAILY_LIMIT:g} µg/m³ ({common.PM10_DAYS_ALLOWED} allowed). "
            f"NO₂: hours over {common.NO2_HOURLY_LIMIT:g} µg/m³ "
            f"({common.NO2_HOURS_ALLOWED} allowed). O₃: days whose max "
            f"8-hour mean exceeds {common.O3_TARGET_8H:g} µg/m³ ({common.O3_DAYS_ALLOWED} allowed, "
            "averaged over 3 years).",
            {
                "pm10_days_over_limit": common.PM10_DAYS_ALLOWED + 1,
                "no2_hours_over_limit": common.NO2_HOURS_ALLOWED + 1,
                "o3_days_over_target": common.O3_DAYS_ALLOWED + 1,
            },
        ),
        24,
        10,
        q.ENV_EXCEEDANCES,
    )
    return assemble(
        SPEC,
        layout,
        variables(timezone, "multi"),
        "now-7d",
        "Air quality and noise by district and pole against the EU limit values.",
    )
