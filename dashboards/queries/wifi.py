"""Public Wi-Fi: clients, traffic, daily pattern, hotspots down."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import (
    WIFI_HOURLY,
    WIFI_HOURLY_GROUP,
    WIFI_LATEST,
    WIFI_TABLE,
    grafana_unit,
    identifier,
    literal,
    rollup_column,
)
from dashboards.queries.common import (
    DISTRICT,
    EVERY_POLE,
    IN_DISTRICTS,
    IN_GROUP_DISTRICTS,
    IN_POLES,
    PICKED_CTE,
    RAW_RANGE,
    ROLLUP_RANGE,
)
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind
from models.catalogue.families import WIFI
from models.vocabulary import WifiStatus

_CLIENTS = grafana_unit(WIFI.field("connected_clients"))
_BYTES_IN = grafana_unit(WIFI.field("bytes_in"))
_BYTES_OUT = grafana_unit(WIFI.field("bytes_out"))
# Worst first, as the stat panel lists them.
STATUS_ORDER = (WifiStatus.DOWN, WifiStatus.DEGRADED, WifiStatus.UP)

_COUNT = rollup_column(WIFI.field("connected_clients"), "count")
_SUM = rollup_column(WIFI.field("connected_clients"), "sum")
_IN_INCREASE = rollup_column(WIFI.field("bytes_in"), "increase")
_OUT_INCREASE = rollup_column(WIFI.field("bytes_out"), "increase")
_ROLLED_CLIENTS = f"sum(h.{_SUM}) / nullif(sum(h.{_COUNT}), 0)"
# Raw readings up to RAW_RANGE_LIMIT (finer than hours), the hourly rollup beyond.
_PICKED_RAW = f"$__timeFilter(w.observed_at) AND {IN_DISTRICTS} AND {IN_POLES}"
_PICKED_ROLLED = f"$__timeFilter(h.bucket) AND {IN_DISTRICTS} AND {IN_POLES} AND {ROLLUP_RANGE}"

WIFI_CLIENTS = PanelSql(
    f"""SELECT $__timeGroupAlias(w.observed_at, $__interval), w.pole_id AS metric,
       avg(w.connected_clients) AS clients
FROM {WIFI_TABLE} w JOIN poles p ON p.pole_id = w.pole_id
WHERE {_PICKED_RAW} AND {RAW_RANGE}
GROUP BY 1, 2
UNION ALL
SELECT $__timeGroupAlias(h.bucket, $__interval), h.pole_id, {_ROLLED_CLIENTS}
FROM {WIFI_HOURLY} h JOIN poles p ON p.pole_id = h.pole_id
WHERE {_PICKED_ROLLED} AND h.{_COUNT} > 0
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("clients", _CLIENTS)),
)

# Byte counters run since the access point booted: a drop means a reboot, and the new
# value is then the traffic since that reboot (the rollup's increase counts the same).
WIFI_TRAFFIC = PanelSql(
    f"""WITH deltas AS (
  SELECT w.observed_at, w.pole_id,
         w.bytes_in, w.bytes_in - lag(w.bytes_in) OVER hotspot AS in_delta,
         w.bytes_out, w.bytes_out - lag(w.bytes_out) OVER hotspot AS out_delta
  FROM {WIFI_TABLE} w JOIN poles p ON p.pole_id = w.pole_id
  WHERE {_PICKED_RAW} AND {RAW_RANGE}
  WINDOW hotspot AS (PARTITION BY w.pole_id ORDER BY w.observed_at)
)
SELECT $__timeGroupAlias(observed_at, $__interval), pole_id AS metric,
       sum(CASE WHEN in_delta < 0 THEN bytes_in ELSE in_delta END)::float8 AS received,
       sum(CASE WHEN out_delta < 0 THEN bytes_out ELSE out_delta END)::float8 AS sent
FROM deltas
GROUP BY 1, 2
UNION ALL
SELECT $__timeGroupAlias(h.bucket, $__interval), h.pole_id,
       sum(h.{_IN_INCREASE}), sum(h.{_OUT_INCREASE})
FROM {WIFI_HOURLY} h JOIN poles p ON p.pole_id = h.pole_id
WHERE {_PICKED_ROLLED}
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("received", _BYTES_IN), num("sent", _BYTES_OUT)),
)

# Hours of the day in $tz: the rollups' UTC hours are whole hours of every zone with
# whole-hour offsets. Beyond RAW_RANGE_LIMIT, the district totals while every hotspot of
# the picked districts is picked, else the picked hotspots' hourly rows.
WIFI_HOUR_OF_DAY = PanelSql(
    f"""SELECT to_char(w.observed_at AT TIME ZONE '$tz', 'HH24') AS hour,
       avg(w.connected_clients) AS clients
FROM {WIFI_TABLE} w JOIN poles p ON p.pole_id = w.pole_id
WHERE {_PICKED_RAW} AND {RAW_RANGE}
GROUP BY 1
UNION ALL
SELECT hour, sum(clients_sum) / nullif(sum(clients_count), 0) FROM (
  WITH {PICKED_CTE}
  SELECT to_char(g.bucket AT TIME ZONE '$tz', 'HH24') AS hour,
         sum(g.{_SUM}) AS clients_sum, sum(g.{_COUNT}) AS clients_count
  FROM {WIFI_HOURLY_GROUP} g
  WHERE {IN_GROUP_DISTRICTS} AND $__timeFilter(g.bucket) AND {ROLLUP_RANGE} AND {EVERY_POLE}
  GROUP BY 1
  UNION ALL
  SELECT to_char(h.bucket AT TIME ZONE '$tz', 'HH24'), sum(h.{_SUM}), sum(h.{_COUNT})
  FROM poles p CROSS JOIN LATERAL (
    SELECT h.bucket, h.{_SUM}, h.{_COUNT} FROM {WIFI_HOURLY} h
    WHERE h.pole_id = p.pole_id AND $__timeFilter(h.bucket)) h
  WHERE {IN_DISTRICTS} AND {IN_POLES} AND {ROLLUP_RANGE} AND NOT {EVERY_POLE}
  GROUP BY 1
) hours
GROUP BY 1
ORDER BY 1""",
    Shape.TABLE,
    (text("hour"), num("clients", _CLIENTS)),
)

# The newest reading of each hotspot, kept by the writer.
_LATEST_WIFI = f"""SELECT p.pole_id, {DISTRICT} AS district, l.status, l.connected_clients,
       l.observed_at
FROM {WIFI_LATEST} l JOIN poles p ON p.pole_id = l.pole_id
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
