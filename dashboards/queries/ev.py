"""EV charging: connector status, utilisation, sessions and energy, faults."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import (
    EV_TABLE,
    OCCUPIED_CONNECTOR_STATES,
    grafana_unit,
    interval,
    is_charger_fault,
    literal,
    literals,
)
from dashboards.queries.common import DISTRICT, IN_DISTRICTS, local_day
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind
from models.catalogue.families import EV
from models.catalogue.health import CHARGER_NO_ERROR, CONNECTOR_STATUS_HORIZON
from models.catalogue.units import PERCENT

_POWER = grafana_unit(EV.field("charging_power"))
_ENERGY = grafana_unit(EV.field("total_active_energy_import"))

_LATEST_CONNECTOR = f"""SELECT DISTINCT ON (e.pole_id, e.connector_id)
       e.pole_id, {DISTRICT} AS district, e.connector_id, e.status, e.error_code,
       e.charging_power, e.observed_at
FROM {EV_TABLE} e JOIN poles p ON p.pole_id = e.pole_id
WHERE e.observed_at > now() - {interval(CONNECTOR_STATUS_HORIZON)} AND {IN_DISTRICTS}
ORDER BY e.pole_id, e.connector_id, e.observed_at DESC"""

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

EV_UTILISATION = PanelSql(
    f"""WITH spans AS (
  SELECT e.observed_at, e.status,
         extract(epoch FROM least(
           lead(e.observed_at) OVER (PARTITION BY e.pole_id, e.connector_id
                                     ORDER BY e.observed_at),
           $__timeTo()::timestamptz, now()) - e.observed_at) AS seconds
  FROM {EV_TABLE} e JOIN poles p ON p.pole_id = e.pole_id
  WHERE $__timeFilter(e.observed_at) AND {IN_DISTRICTS}
)
SELECT $__timeGroupAlias(observed_at, $__interval),
       100 * sum(seconds) FILTER (WHERE status IN ({literals(OCCUPIED_CONNECTOR_STATES)}))
         / nullif(sum(seconds), 0) AS occupied
FROM spans
WHERE seconds > 0
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("occupied", PERCENT.grafana)),
)

EV_DAILY = PanelSql(
    f"""WITH deltas AS (
  SELECT e.observed_at, e.transaction_id,
         e.total_active_energy_import - lag(e.total_active_energy_import) OVER (
           PARTITION BY e.pole_id, e.connector_id ORDER BY e.observed_at) AS kwh
  FROM {EV_TABLE} e JOIN poles p ON p.pole_id = e.pole_id
  WHERE $__timeFilter(e.observed_at) AND {IN_DISTRICTS}
)
SELECT {local_day("observed_at")} AS time,
       count(DISTINCT transaction_id) AS sessions,
       coalesce(sum(kwh) FILTER (WHERE kwh > 0), 0) AS energy
FROM deltas
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
