"""Pole detail: everything one pole reports (`$pole` is single-valued, so it is quoted
in the SQL)."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import (
    ENV_HOURLY,
    ENV_TABLE,
    EV_TABLE,
    LIGHT_TABLE,
    POLE_HEALTH,
    STATUS_TABLE,
    WIFI_HOURLY,
    WIFI_TABLE,
    grafana_unit,
    pollutants,
    rollup_column,
)
from dashboards.queries.common import (
    DISTRICT,
    ONE_POLE,
    RAW_RANGE,
    ROLLUP_RANGE,
    hourly_mean,
    raw_aggregate,
)
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind
from models.catalogue import units
from models.catalogue.families import ENV, EV, LIGHT, WIFI, FieldSpec

_RAW_RANGE = RAW_RANGE
_ROLLUP_RANGE = ROLLUP_RANGE


def _metric(field: FieldSpec, name: str | None = None) -> Column:
    return num(name or field.column, grafana_unit(field))


def pole_env(measures: tuple[FieldSpec, ...]) -> PanelSql:
    """Raw env readings for short ranges, the hourly rollup for long ones: both branches
    are planned, PostgreSQL runs only the one whose constant range test holds. Each
    metric aggregates by its catalogue rule (mean, energy mean for dB, max)."""
    raw = ", ".join(f"{raw_aggregate(m)} AS {m.column}" for m in measures)
    rolled = ", ".join(f"{hourly_mean(m)} AS {m.column}" for m in measures)
    return PanelSql(
        f"""SELECT $__timeGroupAlias(e.observed_at, $__interval), {raw}
FROM {ENV_TABLE} e
WHERE e.pole_id = '$pole' AND $__timeFilter(e.observed_at) AND {_RAW_RANGE}
GROUP BY 1
UNION ALL
SELECT $__timeGroupAlias(h.bucket, $__interval), {rolled}
FROM {ENV_HOURLY} h
WHERE h.pole_id = '$pole' AND $__timeFilter(h.bucket) AND {_ROLLUP_RANGE}
GROUP BY 1
ORDER BY 1""",
        Shape.TIME_SERIES,
        (time_col(), *(_metric(m) for m in measures)),
    )


# The registry entry, and the health verdict the API gives for the pole.
POLE_INFO = PanelSql(
    f"""SELECT p.pole_id, coalesce(p.name, '') AS name, {DISTRICT} AS district,
       p.status, p.status_since, r.firmware_version,
       array_to_string(p.capabilities, ', ') AS capabilities,
       p.last_seen, p.last_observed_at, p.latitude, p.longitude,
       p.connection, array_to_string(p.stale_sensors, ', ') AS stale_sensors
FROM {POLE_HEALTH} p JOIN poles r ON r.pole_id = p.pole_id
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
        text("connection"),
        text("stale_sensors"),
    ),
)

AIR = pollutants()
NOISE = tuple(f for f in ENV.metrics if f.unit is units.DECIBEL_A)
WEATHER = tuple(f for f in ENV.metrics if f not in AIR and f not in NOISE)
POLE_AIR = pole_env(AIR)
POLE_NOISE = pole_env(NOISE)
POLE_WEATHER = pole_env(WEATHER)

POLE_LIGHT = PanelSql(
    f"""SELECT $__timeGroupAlias(l.observed_at, $__interval),
       avg(l.active_power) AS active_power, avg(l.illuminance_level) AS dim_level
FROM {LIGHT_TABLE} l
WHERE l.pole_id = '$pole' AND $__timeFilter(l.observed_at)
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (
        time_col(),
        _metric(LIGHT.field("active_power")),
        _metric(LIGHT.field("illuminance_level"), "dim_level"),
    ),
)

POLE_LAMP_STATE = PanelSql(
    f"""SELECT l.observed_at AS time, l.power_state, coalesce(l.lamp_status, 'unknown')
         AS lamp_status
FROM {LIGHT_TABLE} l
WHERE l.pole_id = '$pole' AND $__timeFilter(l.observed_at)
ORDER BY 1""",
    Shape.TIME_TABLE,
    (time_col(), text("power_state"), text("lamp_status")),
)

_CLIENTS = WIFI.field("connected_clients")
_CLIENTS_SUM = rollup_column(_CLIENTS, "sum")
_CLIENTS_COUNT = rollup_column(_CLIENTS, "count")
_ROLLED_CLIENTS = f"sum(h.{_CLIENTS_SUM}) / nullif(sum(h.{_CLIENTS_COUNT}), 0)"
POLE_WIFI = PanelSql(
    f"""SELECT $__timeGroupAlias(w.observed_at, $__interval),
       avg(w.connected_clients) AS clients
FROM {WIFI_TABLE} w
WHERE w.pole_id = '$pole' AND $__timeFilter(w.observed_at) AND {_RAW_RANGE}
GROUP BY 1
UNION ALL
SELECT $__timeGroupAlias(h.bucket, $__interval),
       {_ROLLED_CLIENTS}
FROM {WIFI_HOURLY} h
WHERE h.pole_id = '$pole' AND $__timeFilter(h.bucket) AND {_ROLLUP_RANGE}
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), _metric(WIFI.field("connected_clients"), "clients")),
)

POLE_EV_POWER = PanelSql(
    f"""SELECT $__timeGroupAlias(e.observed_at, $__interval),
       'connector ' || e.connector_id AS metric, avg(e.charging_power) AS power
FROM {EV_TABLE} e
WHERE e.pole_id = '$pole' AND $__timeFilter(e.observed_at)
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), _metric(EV.field("charging_power"), "power")),
)

POLE_EV_STATUS = PanelSql(
    f"""SELECT e.observed_at AS time, 'connector ' || e.connector_id AS connector, e.status
FROM {EV_TABLE} e
WHERE e.pole_id = '$pole' AND $__timeFilter(e.observed_at)
ORDER BY 1, 2""",
    Shape.TIME_TABLE,
    (time_col(), text("connector"), text("status")),
)

POLE_STATUS_EVENTS = PanelSql(
    f"""SELECT s.observed_at AS time, s.status, coalesce(s.firmware_version, '') AS firmware
FROM {STATUS_TABLE} s
WHERE s.pole_id = '$pole' AND $__timeFilter(s.observed_at)
ORDER BY 1""",
    Shape.TIME_TABLE,
    (time_col(), text("status"), text("firmware")),
)
