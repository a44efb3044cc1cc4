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
from dashboards.domain import (
    DEFAULT_OFFLINE_AFTER,
    DEFAULT_STALE_SENSOR_AFTER,
    OFFLINE_AFTER_VARIABLE,
    STALE_SENSOR_AFTER_VARIABLE,
)
from dashboards.panels import (
    Layout,
    alert_list,
    pole_map,
    stat_panel,
    table_panel,
    time_series,
)
from dashboards.queries import overview as q

SPEC = DashboardSpec(
    "smartpole-overview",
    "City overview",
    "overview.json",
    (
        "map of poles coloured by health, online / offline / faulted / sensor-stale / "
        "never-heard counts, active alerts, current problems, data freshness and the health "
        "thresholds in force; all from the `pole_health` view that `/v1/health/poles` reads"
    ),
)


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        stat_panel(
            "Poles",
            q.OVERVIEW_COUNTS,
            "The pole_health view's verdict, the same as /v1/health/poles. Online: talked "
            "within the offline threshold. Offline: last-will or status offline, or no "
            "message for the offline threshold (Data freshness shows the one in force; "
            f"default {DEFAULT_OFFLINE_AFTER}). Faulted: online with a defective lamp, a "
            "faulted charger (Faulted or an error code) or Wi-Fi down. Sensor stale: online, "
            "but an installed sensor sent nothing for the stale threshold (default "
            f"{DEFAULT_STALE_SENSOR_AFTER}). Never heard: registered, no message yet.",
            {
                "online": "green",
                "offline": "red",
                "faulted": "orange",
                "sensor_stale": "yellow",
                "never_heard": "blue",
            },
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
            "clock) over all poles, how many poles are not online, and the thresholds in "
            f"force ({OFFLINE_AFTER_VARIABLE} and {STALE_SENSOR_AFTER_VARIABLE}, written into "
            "the database by smartpole db migrate).",
        ),
        12,
        5,
        q.OVERVIEW_FRESHNESS,
    )
    layout.add(
        pole_map(
            "Poles by health",
            q.OVERVIEW_MAP,
            ", ".join(
                f"{s.colour} {s.label}"
                for s in sorted((q.HEALTHY, *q.HEALTH_STATES), key=lambda s: s.code)
            ).capitalize()
            + ".",
            [(s.code, s.label, s.colour) for s in (q.HEALTHY, *q.HEALTH_STATES)],
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
            "faulted chargers, Wi-Fi down (faults of online poles).",
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
