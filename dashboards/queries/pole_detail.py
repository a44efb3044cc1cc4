"""Pole detail: everything one pole reports (`$pole` is single-valued, so it is quoted
in the SQL)."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.queries.common import DISTRICT, ONE_POLE, RAW_RANGE_LIMIT
from dashboards.queries.environment import hourly_mean
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind

# --- pole detail (one pole: `$pole` is single-valued, so it is quoted in the SQL) -------
_RAW_RANGE = (
    f"$__timeTo()::timestamptz - $__timeFrom()::timestamptz <= interval '{RAW_RANGE_LIMIT}'"
)
_ROLLUP_RANGE = (
    f"$__timeTo()::timestamptz - $__timeFrom()::timestamptz > interval '{RAW_RANGE_LIMIT}'"
)


def _raw_aggregate(key: str) -> str:
    if key == "laeq":
        return "10 * log(avg(10 ^ (e.laeq / 10)))"
    if key == "lamax":
        return "max(e.lamax)"
    return f"avg(e.{key})"


def _rollup_aggregate(key: str) -> str:
    return "max(h.lamax_max)" if key == "lamax" else hourly_mean(key)


def pole_env(measures: tuple[str, ...]) -> PanelSql:
    """Raw env readings for short ranges, the hourly rollup for long ones: both branches
    are planned, PostgreSQL runs only the one whose constant range test holds."""
    raw = ", ".join(f"{_raw_aggregate(m)} AS {m}" for m in measures)
    rolled = ", ".join(f"{_rollup_aggregate(m)} AS {m}" for m in measures)
    return PanelSql(
        f"""SELECT $__timeGroupAlias(e.observed_at, $__interval), {raw}
FROM env_readings e
WHERE e.pole_id = '$pole' AND $__timeFilter(e.observed_at) AND {_RAW_RANGE}
GROUP BY 1
UNION ALL
SELECT $__timeGroupAlias(h.bucket, $__interval), {rolled}
FROM env_hourly h
WHERE h.pole_id = '$pole' AND $__timeFilter(h.bucket) AND {_ROLLUP_RANGE}
GROUP BY 1
ORDER BY 1""",
        Shape.TIME_SERIES,
        (time_col(), *(num(m) for m in measures)),
    )


POLE_INFO = PanelSql(
    f"""SELECT p.pole_id, coalesce(p.name, '') AS name, {DISTRICT} AS district,
       p.status, p.status_since, p.firmware_version,
       array_to_string(p.capabilities, ', ') AS capabilities,
       p.last_seen, p.last_observed_at, p.latitude, p.longitude
FROM poles p
WHERE {ONE_POLE}""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("name"),
        text("district"),
        text("status"),
        Column("status_since", Kind.TIME),
        text("firmware_version"),
        text("capabilities"),
        Column("last_seen", Kind.TIME),
        Column("last_observed_at", Kind.TIME),
        num("latitude"),
        num("longitude"),
    ),
)

POLE_AIR = pole_env(("pm25", "pm10", "no2", "o3"))
POLE_NOISE = pole_env(("laeq", "lamax"))
POLE_WEATHER = pole_env(("temperature", "relative_humidity", "atmospheric_pressure"))

POLE_LIGHT = PanelSql(
    """SELECT $__timeGroupAlias(l.observed_at, $__interval),
       avg(l.active_power) AS active_power, 100 * avg(l.illuminance_level) AS dim_level
FROM light_readings l
WHERE l.pole_id = '$pole' AND $__timeFilter(l.observed_at)
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("active_power", "watt"), num("dim_level", "percent")),
)

POLE_LAMP_STATE = PanelSql(
    """SELECT l.observed_at AS time, l.power_state, coalesce(l.lamp_status, 'unknown')
         AS lamp_status
FROM light_readings l
WHERE l.pole_id = '$pole' AND $__timeFilter(l.observed_at)
ORDER BY 1""",
    Shape.TIME_TABLE,
    (time_col(), text("power_state"), text("lamp_status")),
)

POLE_WIFI = PanelSql(
    """SELECT $__timeGroupAlias(w.observed_at, $__interval),
       avg(w.connected_clients) AS clients
FROM wifi_readings w
WHERE w.pole_id = '$pole' AND $__timeFilter(w.observed_at)
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("clients")),
)

POLE_EV_POWER = PanelSql(
    """SELECT $__timeGroupAlias(e.observed_at, $__interval),
       'connector ' || e.connector_id AS metric, avg(e.charging_power) AS power
FROM ev_readings e
WHERE e.pole_id = '$pole' AND $__timeFilter(e.observed_at)
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("power", "kwatt")),
)

POLE_EV_STATUS = PanelSql(
    """SELECT e.observed_at AS time, 'connector ' || e.connector_id AS connector, e.status
FROM ev_readings e
WHERE e.pole_id = '$pole' AND $__timeFilter(e.observed_at)
ORDER BY 1, 2""",
    Shape.TIME_TABLE,
    (time_col(), text("connector"), text("status")),
)

POLE_STATUS_EVENTS = PanelSql(
    """SELECT s.observed_at AS time, s.status, coalesce(s.firmware_version, '') AS firmware
FROM status_events s
WHERE s.pole_id = '$pole' AND $__timeFilter(s.observed_at)
ORDER BY 1""",
    Shape.TIME_TABLE,
    (time_col(), text("status"), text("firmware")),
)
