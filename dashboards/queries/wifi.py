"""Public Wi-Fi: clients, traffic, daily pattern, hotspots down."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import WIFI_TABLE, grafana_unit, identifier, literal
from dashboards.queries.common import DISTRICT, IN_DISTRICTS, IN_POLES
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind
from models.catalogue.families import WIFI
from models.vocabulary import WifiStatus

_CLIENTS = grafana_unit(WIFI.field("connected_clients"))
_BYTES_IN = grafana_unit(WIFI.field("bytes_in"))
_BYTES_OUT = grafana_unit(WIFI.field("bytes_out"))
# Worst first, as the stat panel lists them.
STATUS_ORDER = (WifiStatus.DOWN, WifiStatus.DEGRADED, WifiStatus.UP)

WIFI_CLIENTS = PanelSql(
    f"""SELECT $__timeGroupAlias(w.observed_at, $__interval), w.pole_id AS metric,
       avg(w.connected_clients) AS clients
FROM {WIFI_TABLE} w JOIN poles p ON p.pole_id = w.pole_id
WHERE $__timeFilter(w.observed_at) AND {IN_DISTRICTS} AND {IN_POLES}
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("clients", _CLIENTS)),
)

# Byte counters run since the access point booted: a drop means a reboot, and the new
# value is then the traffic since that reboot.
WIFI_TRAFFIC = PanelSql(
    f"""WITH deltas AS (
  SELECT w.observed_at, w.pole_id,
         w.bytes_in, w.bytes_in - lag(w.bytes_in) OVER hotspot AS in_delta,
         w.bytes_out, w.bytes_out - lag(w.bytes_out) OVER hotspot AS out_delta
  FROM {WIFI_TABLE} w JOIN poles p ON p.pole_id = w.pole_id
  WHERE $__timeFilter(w.observed_at) AND {IN_DISTRICTS} AND {IN_POLES}
  WINDOW hotspot AS (PARTITION BY w.pole_id ORDER BY w.observed_at)
)
SELECT $__timeGroupAlias(observed_at, $__interval), pole_id AS metric,
       sum(CASE WHEN in_delta < 0 THEN bytes_in ELSE in_delta END) AS received,
       sum(CASE WHEN out_delta < 0 THEN bytes_out ELSE out_delta END) AS sent
FROM deltas
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("received", _BYTES_IN), num("sent", _BYTES_OUT)),
)

WIFI_HOUR_OF_DAY = PanelSql(
    f"""SELECT to_char(w.observed_at AT TIME ZONE '$tz', 'HH24') AS hour,
       avg(w.connected_clients) AS clients
FROM {WIFI_TABLE} w JOIN poles p ON p.pole_id = w.pole_id
WHERE $__timeFilter(w.observed_at) AND {IN_DISTRICTS} AND {IN_POLES}
GROUP BY 1
ORDER BY 1""",
    Shape.TABLE,
    (text("hour"), num("clients", _CLIENTS)),
)

_LATEST_WIFI = f"""SELECT p.pole_id, {DISTRICT} AS district, w.status, w.connected_clients,
       w.observed_at
FROM poles p
CROSS JOIN LATERAL (SELECT w.status, w.connected_clients, w.observed_at
                    FROM {WIFI_TABLE} w WHERE w.pole_id = p.pole_id
                    ORDER BY w.observed_at DESC LIMIT 1) w
WHERE {IN_DISTRICTS}"""

WIFI_DOWN_COUNT = PanelSql(
    "SELECT "
    + ",\n       ".join(
        f"count(*) FILTER (WHERE status = {literal(s.value)}) AS {identifier(s.value)}"
        for s in STATUS_ORDER
    )
    + f"\nFROM ({_LATEST_WIFI}) latest",
    Shape.SINGLE_ROW,
    tuple(num(s.value) for s in STATUS_ORDER),
)

WIFI_DOWN_LIST = PanelSql(
    f"""SELECT pole_id, district, status, observed_at AS since
FROM ({_LATEST_WIFI}) latest
WHERE status <> {literal(WifiStatus.UP.value)}
ORDER BY status, pole_id""",
    Shape.TABLE,
    (text("pole_id"), text("district"), text("status"), Column("since", Kind.TIME)),
)
