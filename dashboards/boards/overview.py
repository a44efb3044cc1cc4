"""The City overview dashboard."""

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
    alert_list,
    pole_map,
    stat_panel,
    table_panel,
    time_series,
)
from dashboards.queries import common
from dashboards.queries import overview as q

SPEC = DashboardSpec("smartpole-overview", "Smartpole · City overview", "overview.json")


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        stat_panel(
            "Poles",
            q.OVERVIEW_COUNTS,
            "Online: talked within the offline window. Offline: last-will fired or no message "
            f"for {common.OFFLINE_AFTER}. Faulted: online with a defective lamp, a Faulted charger "
            "or Wi-Fi down. Sensor stale: online, but no env reading for "
            f"{common.SENSOR_STALE_AFTER}.",
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
    return assemble(
        SPEC,
        layout,
        variables(timezone, None),
        "now-24h",
        "Fleet health at a glance: where poles are, which are offline or faulted, "
        "what is alerting and how fresh the data is.",
    )
