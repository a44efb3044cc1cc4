"""EV charging: connector status, utilisation, sessions and energy, faults."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import (
    EV_DAILY_GROUP,
    EV_DAILY_ROLLUP,
    EV_LATEST,
    EV_TABLE,
    OCCUPIED_CONNECTOR_STATES,
    grafana_unit,
    interval,
    is_charger_fault,
    literal,
    literals,
    rollup_column,
    sessions_column,
    state_seconds_column,
)
from dashboards.queries.common import (
    DISTRICT,
    IN_DISTRICTS,
    IN_GROUP_DISTRICTS,
    IN_ROLLUP_ZONE,
    NOT_IN_ROLLUP_ZONE,
    RAW_RANGE,
    ROLLUP_RANGE,
    days_of_range,
    local_day,
    rollup_day_end,
)
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind
from models.catalogue.families import EV
from models.catalogue.health import CHARGER_NO_ERROR, CONNECTOR_STATUS_HORIZON
from models.catalogue.units import PERCENT

_POWER = grafana_unit(EV.field("charging_power"))
_ENERGY = grafana_unit(EV.field("total_active_energy_import"))

# The newest reading of each connector, kept by the writer (one row per connector).
_LATEST_CONNECTOR = f"""SELECT e.pole_id, {DISTRICT} AS district, e.connector_id, e.status,
       e.error_code, e.charging_power, e.observed_at
FROM {EV_LATEST} e JOIN poles p ON p.pole_id = e.pole_id
WHERE e.observed_at > now() - {interval(CONNECTOR_STATUS_HORIZON)} AND {IN_DISTRICTS}"""

EV_STATUS_NOW = PanelSql(
    f"""SELECT pole_id, district, connector_id AS connector, status, error_code,
       charging_power AS power, observed_at AS last_report
FROM ({_LATEST_CONNECTOR}) latest
ORDER BY {is_charger_fault("status", "error_code")} DESC, pole_id, connector_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("district"),
        num("connector"),
        text("status"),
        text("error_code"),
        num("power", _POWER),
        Column("last_report", Kind.TIME),
    ),
)

EV_STATUS_COUNTS = PanelSql(
    f"""SELECT status, count(*) AS connectors
FROM ({_LATEST_CONNECTOR}) latest
GROUP BY status
ORDER BY connectors DESC, status""",
    Shape.TABLE,
    (text("status"), num("connectors")),
)

# Each status holds until the connector's next report. Up to RAW_RANGE_LIMIT from the raw
# rows per $__interval; beyond, per local day from the per-connector rollup: occupied
# seconds (a status holds for at most the catalogue's hold time there) over the day's
# length (up to now) for every connector that reported that day.
_OCCUPIED_S = state_seconds_column(EV, "occupied")
EV_UTILISATION = PanelSql(
    f"""WITH spans AS (
  SELECT e.observed_at, e.status,
         extract(epoch FROM least(
           lead(e.observed_at) OVER (PARTITION BY e.pole_id, e.connector_id
                                     ORDER BY e.observed_at),
           $__timeTo()::timestamptz, now()) - e.observed_at) AS seconds
  FROM {EV_TABLE} e JOIN poles p ON p.pole_id = e.pole_id
  WHERE $__timeFilter(e.observed_at) AND {IN_DISTRICTS} AND {RAW_RANGE}
)
SELECT $__timeGroupAlias(observed_at, $__interval),
       100 * sum(seconds) FILTER (WHERE status IN ({literals(OCCUPIED_CONNECTOR_STATES)}))
         / nullif(sum(seconds), 0) AS occupied
FROM spans
WHERE seconds > 0
GROUP BY 1
UNION ALL
SELECT $__timeGroupAlias(d.bucket, 1h),
       100 * sum(d.{_OCCUPIED_S}) / nullif(sum(extract(epoch FROM least(
         {rollup_day_end("d.bucket")}, $__timeTo()::timestamptz, now()) - d.bucket)), 0)
FROM {EV_DAILY_ROLLUP} d JOIN poles p ON p.pole_id = d.pole_id
WHERE {days_of_range("d.bucket")} AND {IN_DISTRICTS} AND {ROLLUP_RANGE}
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("occupied", PERCENT.grafana)),
)

# Sessions started (a reading whose transaction id differs from the connector's previous
# reading's) and the meters' increase (a meter going back counts nothing), per local day:
# the district totals the writer keeps, or, for a $tz other than the rollups' zone, the
# same measures from raw rows (a step is counted on the day of its later reading).
_SESSIONS = sessions_column(EV)
_ENERGY_INCREASE = rollup_column(EV.field("total_active_energy_import"), "increase")
EV_DAILY = PanelSql(
    f"""SELECT g.bucket AS time, sum(g.{_SESSIONS})::bigint AS sessions,
       sum(g.{_ENERGY_INCREASE}) AS energy
FROM {EV_DAILY_GROUP} g
WHERE {IN_GROUP_DISTRICTS} AND {days_of_range("g.bucket")} AND {IN_ROLLUP_ZONE}
GROUP BY 1
UNION ALL
SELECT {local_day("observed_at")},
       count(*) FILTER (WHERE transaction_id IS NOT NULL AND (previous_transaction_id IS NULL
                          OR transaction_id <> previous_transaction_id)),
       coalesce(sum(kwh) FILTER (WHERE kwh > 0), 0)
FROM (
  SELECT e.observed_at, e.transaction_id,
         lag(e.transaction_id) OVER connector AS previous_transaction_id,
         e.total_active_energy_import - lag(e.total_active_energy_import) OVER connector AS kwh
  FROM {EV_TABLE} e JOIN poles p ON p.pole_id = e.pole_id
  WHERE $__timeFilter(e.observed_at) AND {IN_DISTRICTS} AND {NOT_IN_ROLLUP_ZONE}
  WINDOW connector AS (PARTITION BY e.pole_id, e.connector_id ORDER BY e.observed_at)
) steps
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("sessions"), num("energy", _ENERGY)),
)

EV_FAULTS = PanelSql(
    f"""SELECT e.error_code, count(*) AS reports,
       count(DISTINCT (e.pole_id, e.connector_id)) AS connectors
FROM {EV_TABLE} e JOIN poles p ON p.pole_id = e.pole_id
WHERE $__timeFilter(e.observed_at) AND e.error_code <> {literal(CHARGER_NO_ERROR.value)}
  AND {IN_DISTRICTS}
GROUP BY e.error_code
ORDER BY reports DESC, e.error_code""",
    Shape.TABLE,
    (text("error_code"), num("reports"), num("connectors")),
)
