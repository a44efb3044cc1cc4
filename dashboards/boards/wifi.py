"""The Wi-Fi dashboard."""

from __future__ import annotations

from dashboards.boards.common import (
    DEFAULT_TIMEZONE,
    BuiltDashboard,
    DashboardSpec,
    assemble,
    variables,
)
from dashboards.panels import (
    Layout,
    bar_chart,
    stat_panel,
    table_panel,
    time_series,
)
from dashboards.queries import wifi as q
from dashboards.queries.common import RAW_RANGE_LIMIT
from models.vocabulary import WifiStatus

SPEC = DashboardSpec(
    "smartpole-wifi",
    "Wi-Fi",
    "wifi.json",
    (
        "clients and traffic by hotspot and clients by hour of day (raw readings up to "
        f"{RAW_RANGE_LIMIT}, hourly rollup beyond), hotspots down (latest readings)"
    ),
)


_SOURCE = f"Raw readings up to a {RAW_RANGE_LIMIT} range, hourly rollup beyond."


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        stat_panel(
            "Hotspots by status now",
            q.WIFI_DOWN_COUNT,
            "Newest status of every hotspot.",
            {
                WifiStatus.DOWN.value: "red",
                WifiStatus.DEGRADED.value: "orange",
                WifiStatus.UP.value: "green",
            },
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
        time_series("Clients by hotspot", q.WIFI_CLIENTS, f"Mean connected clients. {_SOURCE}"),
        12,
        8,
        q.WIFI_CLIENTS,
    )
    layout.add(
        time_series(
            "Traffic by hotspot",
            q.WIFI_TRAFFIC,
            "Bytes per interval from the access points' counters (a reboot restarts them). "
            + _SOURCE,
        ),
        12,
        8,
        q.WIFI_TRAFFIC,
    )
    layout.add(
        bar_chart(
            "Clients by hour of day",
            q.WIFI_HOUR_OF_DAY,
            f"Mean connected clients per local hour over the range. {_SOURCE}",
            "hour",
        ),
        24,
        8,
        q.WIFI_HOUR_OF_DAY,
    )
    return assemble(
        SPEC,
        layout,
        variables(timezone, "multi"),
        "now-7d",
        "Public Wi-Fi: clients and traffic per hotspot, daily pattern, hotspots down.",
    )
