"""City overview: pole health counts, map, problems, data freshness."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dashboards.domain import ENV_HOURLY_GROUP, GROUP_CITY, literal
from dashboards.queries.common import DISTRICT
from dashboards.queries.health import (
    FROM_HEALTH,
    HAS_STALE_SENSOR,
    IS_FAULTED,
    IS_OFFLINE,
    IS_ONLINE,
    NEVER_HEARD,
    stale_since,
)
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind


@dataclass(frozen=True, slots=True)
class HealthState:
    """One colour of the map: the first state whose condition holds wins."""

    code: int
    label: str
    colour: str
    condition: str


HEALTH_STATES = (
    HealthState(3, "offline", "red", IS_OFFLINE),
    HealthState(4, "never heard from", "blue", NEVER_HEARD),
    HealthState(2, "faulted", "orange", IS_FAULTED),
    HealthState(1, "sensor stale", "yellow", HAS_STALE_SENSOR),
)
HEALTHY = HealthState(0, "ok", "green", "true")


def _case(value: Callable[[HealthState], str]) -> str:
    whens = "".join(f"\n         WHEN {s.condition} THEN {value(s)}" for s in HEALTH_STATES)
    return f"CASE{whens}\n         ELSE {value(HEALTHY)} END"


OVERVIEW_COUNTS = PanelSql(
    f"""SELECT count(*) FILTER (WHERE {IS_ONLINE}) AS online,
       count(*) FILTER (WHERE {IS_OFFLINE}) AS offline,
       count(*) FILTER (WHERE {IS_FAULTED}) AS faulted,
       count(*) FILTER (WHERE {HAS_STALE_SENSOR}) AS sensor_stale,
       count(*) FILTER (WHERE {NEVER_HEARD}) AS never_heard
{FROM_HEALTH}""",
    Shape.SINGLE_ROW,
    (num("online"), num("offline"), num("faulted"), num("sensor_stale"), num("never_heard")),
)

OVERVIEW_MAP = PanelSql(
    f"""SELECT p.pole_id, coalesce(p.name, p.pole_id) AS name, {DISTRICT} AS district,
       p.latitude, p.longitude,
       {_case(lambda s: literal(s.label))} AS health,
       {_case(lambda s: str(s.code))} AS health_code,
       p.last_seen
{FROM_HEALTH}
WHERE p.latitude IS NOT NULL AND p.longitude IS NOT NULL
ORDER BY p.pole_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("name"),
        text("district"),
        num("latitude"),
        num("longitude"),
        text("health"),
        num("health_code"),
        Column("last_seen", Kind.TIME),
    ),
)

# One row per problem the alert rules watch; the view is read once (a CTE used five
# times is materialised).
OVERVIEW_PROBLEMS = PanelSql(
    f"""WITH p AS (SELECT * {FROM_HEALTH})
SELECT pole_id, district, problem, since FROM (
  SELECT p.pole_id, {DISTRICT} AS district, 'pole offline' AS problem, p.last_seen AS since
  FROM p WHERE {IS_OFFLINE}
  UNION ALL
  SELECT p.pole_id, {DISTRICT}, s.sensor || ' sensor stale', {stale_since("s.sensor")}
  FROM p CROSS JOIN LATERAL unnest(p.stale_sensors) AS s(sensor)
  UNION ALL
  SELECT p.pole_id, {DISTRICT}, 'lamp ' || p.lamp_status, p.light_observed_at
  FROM p WHERE {IS_ONLINE} AND p.lamp_fault
  UNION ALL
  SELECT p.pole_id, {DISTRICT},
         'connector ' || (f ->> 'connector_id') || ': ' || (f ->> 'status')
           || ' (' || (f ->> 'error_code') || ')',
         (f ->> 'observed_at')::timestamptz
  FROM p CROSS JOIN LATERAL jsonb_array_elements(p.charger_faults) AS f
  WHERE {IS_ONLINE}
  UNION ALL
  SELECT p.pole_id, {DISTRICT}, 'Wi-Fi ' || p.wifi_status, p.wifi_observed_at
  FROM p WHERE {IS_ONLINE} AND p.hotspot_fault
) problems
ORDER BY problem, pole_id""",
    Shape.TABLE,
    (text("pole_id"), text("district"), text("problem"), Column("since", Kind.TIME)),
)

OVERVIEW_FRESHNESS = PanelSql(
    f"""SELECT min(p.silent_s) AS newest_message_age,
       extract(epoch FROM min(p.checked_at - p.last_observed_at))::float8 AS newest_reading_age,
       count(*) FILTER (WHERE NOT {IS_ONLINE}) AS silent_poles,
       max(p.offline_after_s) AS offline_after,
       max(p.stale_sensor_after_s) AS stale_sensor_after
{FROM_HEALTH}""",
    Shape.SINGLE_ROW,
    (
        num("newest_message_age", "s"),
        num("newest_reading_age", "s"),
        num("silent_poles", "none"),
        num("offline_after", "s"),
        num("stale_sensor_after", "s"),
    ),
)

OVERVIEW_ENV_READINGS = PanelSql(
    f"""SELECT $__timeGroupAlias(g.bucket, $__interval), sum(g.readings) AS env_readings
FROM {ENV_HOURLY_GROUP} g
WHERE g.group_kind = {literal(GROUP_CITY)} AND $__timeFilter(g.bucket)
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("env_readings")),
)
