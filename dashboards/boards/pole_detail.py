"""The Pole detail dashboard."""

from __future__ import annotations

from dashboards.boards.common import (
    DEFAULT_TIMEZONE,
    BuiltDashboard,
    DashboardSpec,
    assemble,
    variables,
)
from dashboards.domain import RULE_SET_IN_FORCE, counted_standards, limit_lines, limits_text
from dashboards.panels import (
    Layout,
    state_timeline,
    table_panel,
    time_series,
)
from dashboards.queries import pole_detail as q
from dashboards.queries.common import RAW_RANGE_LIMIT

# The short-term standards in force of the pollutants shown: what an hourly series
# of one pole can be held against.
SHORT_TERM_LIMITS = tuple(
    s
    for s in counted_standards()
    if s.rule_set is RULE_SET_IN_FORCE and any(s.pollutant == f.column for f in q.AIR)
)

SPEC = DashboardSpec(
    "smartpole-pole",
    "Pole detail",
    "pole-detail.json",
    (
        "every family of the pole picked in the `pole` variable (raw readings up to "
        f"{RAW_RANGE_LIMIT}, hourly rollup beyond) and its health verdict"
    ),
)


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        table_panel(
            "Pole", q.POLE_INFO, "Registry entry, and its health as /v1/health/poles reports it."
        ),
        24,
        4,
        q.POLE_INFO,
    )
    env_note = f"Raw readings up to a {RAW_RANGE_LIMIT} range, hourly rollup beyond."
    layout.add(
        time_series(
            "Air quality",
            q.POLE_AIR,
            f"{env_note} {limits_text(SHORT_TERM_LIMITS)}",
            limits=limit_lines(SHORT_TERM_LIMITS),
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
    layout.add(
        time_series("Wi-Fi clients", q.POLE_WIFI, f"Mean clients. {env_note}"), 12, 8, q.POLE_WIFI
    )
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
    return assemble(
        SPEC,
        layout,
        variables(timezone, "single"),
        "now-24h",
        "Everything one pole reports; pick it with the Pole variable.",
    )
