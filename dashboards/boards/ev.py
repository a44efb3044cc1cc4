"""The EV charging dashboard."""

from __future__ import annotations

from dashboards.boards.common import (
    DEFAULT_TIMEZONE,
    BuiltDashboard,
    DashboardSpec,
    assemble,
    variables,
)
from dashboards.domain import OCCUPIED_CONNECTOR_STATES, duration_text
from dashboards.panels import (
    Layout,
    bar_gauge,
    table_panel,
    time_series,
)
from dashboards.queries import ev as q
from dashboards.queries.common import RAW_RANGE_LIMIT
from models.catalogue.families import EV
from models.catalogue.health import CONNECTOR_STATUS_HORIZON

SPEC = DashboardSpec(
    "smartpole-ev",
    "EV charging",
    "ev-charging.json",
    (
        "connector status now (latest readings), utilisation, sessions and energy per day "
        "(district rollup), faults by OCPP error code"
    ),
)


def build(timezone: str = DEFAULT_TIMEZONE) -> BuiltDashboard:
    layout = Layout()
    layout.add(
        bar_gauge(
            "Connectors by status now",
            q.EV_STATUS_COUNTS,
            "Newest OCPP status of every connector that reported in the last "
            f"{duration_text(CONNECTOR_STATUS_HORIZON)}.",
        ),
        8,
        8,
        q.EV_STATUS_COUNTS,
    )
    layout.add(
        table_panel(
            "Connector status now",
            q.EV_STATUS_NOW,
            "Faulted connectors (status Faulted or an error code) first.",
            None,
        ),
        16,
        8,
        q.EV_STATUS_NOW,
    )
    layout.add(
        time_series(
            "Utilisation",
            q.EV_UTILISATION,
            "Share of connector time in "
            + ", ".join(s.value for s in OCCUPIED_CONNECTOR_STATES)
            + "; each status holds until the connector's next report. Beyond a "
            + f"{RAW_RANGE_LIMIT} range per local day from the connector rollup (a status "
            + f"holds for at most {duration_text(EV.state_times[0].holds_for)} there), of "
            + "the connectors that reported that day.",
        ),
        12,
        8,
        q.EV_UTILISATION,
    )
    layout.add(
        time_series(
            "Sessions and energy per day",
            q.EV_DAILY,
            "Per local day: charging sessions started (a new transaction id) and energy from "
            "the connector meters, from the district rollup (raw readings when $tz is not "
            "the rollups' zone).",
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
    return assemble(
        SPEC,
        layout,
        variables(timezone, None),
        "now-7d",
        "EV chargers: connector status, utilisation, sessions, energy and faults.",
    )
