"""Lighting and energy: burn hours, energy, dimming, day burners, defective lamps."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import LIGHT_TABLE, grafana_unit, literals
from dashboards.queries.common import (
    DISTRICT,
    IN_DISTRICTS,
    LIGHT_READING_VALID_FOR,
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

LIGHT_BURN_HOURS = PanelSql(
    f"""SELECT {local_day("observed_at")} AS time, district AS metric,
       sum(seconds) FILTER (WHERE {_LIT}) / 3600 AS burn_hours
FROM ({_LIGHT_SPANS}) spans
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("burn_hours", "h")),
)

LIGHT_ENERGY = PanelSql(
    f"""SELECT {local_day("observed_at")} AS time, district AS metric,
       coalesce(sum(kwh) FILTER (WHERE kwh > 0), 0) AS energy
FROM ({_LIGHT_SPANS}) spans
GROUP BY 1, 2
ORDER BY 1, 2""",
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
