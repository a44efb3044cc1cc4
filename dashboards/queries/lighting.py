"""Lighting and energy: burn hours, energy, dimming, day burners, defective lamps."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import (
    LIGHT_DAILY_GROUP,
    LIGHT_TABLE,
    grafana_unit,
    literals,
    rollup_column,
    state_seconds_column,
)
from dashboards.queries.common import (
    DISTRICT,
    GROUP_DISTRICT_NAME,
    IN_DISTRICTS,
    IN_GROUP_DISTRICTS,
    IN_ROLLUP_ZONE,
    LIGHT_READING_VALID_FOR,
    NOT_IN_ROLLUP_ZONE,
    days_of_range,
    local_day,
    sun_elevation_deg,
)
from dashboards.queries.health import FROM_HEALTH
from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind
from models.catalogue.families import LIGHT
from models.catalogue.health import DAY_BURNER_SUN_ELEVATION_DEG, LIT_POWER_STATES

_ENERGY = grafana_unit(LIGHT.field("total_active_energy_import"))
_DIM_LEVEL = grafana_unit(LIGHT.field("illuminance_level"))
_LIT = f"power_state IN ({literals(LIT_POWER_STATES)})"

# Each light reading holds until the next one, for at most LIGHT_READING_VALID_FOR (a gap
# in the data is not burn time) and never past the end of the range.
_LIGHT_SPANS = f"""SELECT l.pole_id, {DISTRICT} AS district, p.latitude, p.longitude,
       l.observed_at, l.power_state, l.illuminance_level, l.total_active_energy_import,
       extract(epoch FROM least(
         lead(l.observed_at) OVER pole_lamp,
         l.observed_at + interval '{LIGHT_READING_VALID_FOR}',
         $__timeTo()::timestamptz) - l.observed_at) AS seconds,
       l.total_active_energy_import - lag(l.total_active_energy_import) OVER pole_lamp AS kwh
FROM {LIGHT_TABLE} l JOIN poles p ON p.pole_id = l.pole_id
WHERE $__timeFilter(l.observed_at) AND {IN_DISTRICTS}
WINDOW pole_lamp AS (PARTITION BY l.pole_id ORDER BY l.observed_at)"""

# Per local day and district: the district totals the writer keeps (burn seconds in the
# day of the reading that starts the span, the meter's increase in the day of the later
# reading), or the same from raw rows for a $tz other than the rollups' zone.
_BURN_S = state_seconds_column(LIGHT, "burn")
_ENERGY_INCREASE = rollup_column(LIGHT.field("total_active_energy_import"), "increase")


def _per_district_day(rolled: str, raw: str, column: str) -> str:
    return f"""SELECT g.bucket AS time, {GROUP_DISTRICT_NAME} AS metric, {rolled} AS {column}
FROM {LIGHT_DAILY_GROUP} g
WHERE {IN_GROUP_DISTRICTS} AND {days_of_range("g.bucket")} AND {IN_ROLLUP_ZONE}
GROUP BY 1, 2
UNION ALL
SELECT {local_day("observed_at")}, district, {raw}
FROM ({_LIGHT_SPANS}) spans
WHERE {NOT_IN_ROLLUP_ZONE}
GROUP BY 1, 2
ORDER BY 1, 2"""


LIGHT_BURN_HOURS = PanelSql(
    _per_district_day(
        f"sum(g.{_BURN_S}) / 3600",
        f"coalesce(sum(seconds) FILTER (WHERE {_LIT}), 0) / 3600",
        "burn_hours",
    ),
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("burn_hours", "h")),
)

LIGHT_ENERGY = PanelSql(
    _per_district_day(
        f"sum(g.{_ENERGY_INCREASE})", "coalesce(sum(kwh) FILTER (WHERE kwh > 0), 0)", "energy"
    ),
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("energy", _ENERGY)),
)

LIGHT_DIMMING = PanelSql(
    f"""SELECT $__timeGroupAlias(l.observed_at, $__interval), {DISTRICT} AS metric,
       avg(l.illuminance_level) AS dim_level
FROM {LIGHT_TABLE} l JOIN poles p ON p.pole_id = l.pole_id
WHERE $__timeFilter(l.observed_at) AND l.{_LIT}
  AND l.illuminance_level IS NOT NULL AND {IN_DISTRICTS}
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("dim_level", _DIM_LEVEL)),
)

LIGHT_DAY_BURNERS = PanelSql(
    f"""SELECT pole_id, district,
       sum(seconds) / 60 AS daylight_minutes,
       max(observed_at) AS last_seen_burning
FROM ({_LIGHT_SPANS}) spans
WHERE {_LIT} AND latitude IS NOT NULL AND longitude IS NOT NULL
  AND {sun_elevation_deg("observed_at", "latitude", "longitude")}
      > {DAY_BURNER_SUN_ELEVATION_DEG:g}
GROUP BY pole_id, district
ORDER BY daylight_minutes DESC, pole_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("district"),
        num("daylight_minutes", "m"),
        Column("last_seen_burning", Kind.TIME),
    ),
)

LIGHT_DEFECTIVE = PanelSql(
    f"""SELECT p.pole_id, {DISTRICT} AS district, p.lamp_status, p.power_state,
       p.light_observed_at AS since
{FROM_HEALTH}
WHERE p.lamp_fault AND {IN_DISTRICTS}
ORDER BY p.lamp_status, p.pole_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("district"),
        text("lamp_status"),
        text("power_state"),
        Column("since", Kind.TIME),
    ),
)
