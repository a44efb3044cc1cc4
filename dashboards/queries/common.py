"""What the queries of several dashboards share: the district and pole filters of the
template variables, local days, the sun's elevation, and the variables' own queries."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dashboards.domain import (
    GROUP_DISTRICT,
    GROUP_NO_DISTRICT,
    LOCAL_ZONE_SETTING,
    READMODEL_SETTINGS,
    duration_text,
    env_rollup_column,
    literal,
)
from models.catalogue.families import LIGHT, Aggregation, FieldSpec

# How long a lamp reading stands for (gaps in the data are not burn time): the
# catalogue's, which the light rollup's burn seconds use too.
LIGHT_READING_VALID_FOR = duration_text(LIGHT.state_times[0].holds_for)
# Dashboard choices, not domain rules: up to which range panels that need more than
# hourly resolution read raw rows (rollups beyond), and up to which range per-pole
# environment series are hourly (daily means beyond: 1,000 poles x 7 days of hours
# is 168,000 rows, seconds on two busy cores; of days 7,000).
RAW_RANGE_LIMIT = "2 days"
HOURLY_RANGE_LIMIT = "2 days"

UNASSIGNED = "unassigned"
DISTRICT = f"coalesce(p.district, {literal(UNASSIGNED)})"
IN_DISTRICTS = f"{DISTRICT} IN ($district)"
IN_POLES = "p.pole_id IN ($pole)"
ONE_POLE = "p.pole_id = '$pole'"
LOCAL_DAY = "date_trunc('day', {ts} AT TIME ZONE '$tz') AT TIME ZONE '$tz'"

_SPAN = "$__timeTo()::timestamptz - $__timeFrom()::timestamptz"
# Constant for a query: PostgreSQL plans both branches of a UNION and runs only the one
# whose test holds (EXPLAIN shows the other "never executed").
RAW_RANGE = f"{_SPAN} <= interval '{RAW_RANGE_LIMIT}'"
ROLLUP_RANGE = f"{_SPAN} > interval '{RAW_RANGE_LIMIT}'"
HOURLY_RANGE = f"{_SPAN} <= interval '{HOURLY_RANGE_LIMIT}'"
DAILY_RANGE = f"{_SPAN} > interval '{HOURLY_RANGE_LIMIT}'"
# The daily rollups' local days are those of the zone `smartpole db migrate` recorded;
# a dashboard built for another $tz reads raw rows instead.
ROLLUP_ZONE = (
    f"(SELECT z.value FROM {READMODEL_SETTINGS} z WHERE z.name = {literal(LOCAL_ZONE_SETTING)})"
)
IN_ROLLUP_ZONE = f"'$tz' = {ROLLUP_ZONE}"
NOT_IN_ROLLUP_ZONE = f"NOT coalesce({IN_ROLLUP_ZONE}, false)"
# A group rollup row's district as the `district` variable names it.
GROUP_DISTRICT_NAME = (
    f"coalesce(nullif(g.group_key, {literal(GROUP_NO_DISTRICT)}), {literal(UNASSIGNED)})"
)
IS_DISTRICT_ROW = f"g.group_kind = {literal(GROUP_DISTRICT)}"
IN_GROUP_DISTRICTS = f"{IS_DISTRICT_ROW} AND {GROUP_DISTRICT_NAME} IN ($district)"
# Every pole of the picked districts is picked (the `pole` variable on All): district
# totals can come from the group rollups instead of one row per pole. Tested once per
# query (a CTE: the `pole` list of a city has thousands of values), as `EVERY_POLE`.
ALL_POLES_PICKED = f"NOT EXISTS (SELECT FROM poles p WHERE {IN_DISTRICTS} AND NOT {IN_POLES})"
PICKED_CTE = f"picked AS (SELECT {ALL_POLES_PICKED} AS every_pole)"
EVERY_POLE = "(SELECT every_pole FROM picked)"


def local_day(ts: str) -> str:
    return LOCAL_DAY.format(ts=ts)


def rollup_day_end(bucket: str) -> str:
    """The end of a daily rollup row's local day (23, 24 or 25 hours after its start)."""
    return f"(({bucket} AT TIME ZONE {ROLLUP_ZONE}) + interval '1 day') AT TIME ZONE {ROLLUP_ZONE}"


def days_of_range(bucket: str) -> str:
    """Daily rollup rows of every local day the range touches."""
    return (
        f"{bucket} >= date_trunc('day', $__timeFrom()::timestamptz, '$tz')"
        f" AND {bucket} <= $__timeTo()::timestamptz"
    )


def sun_elevation_deg(ts: str, lat: str = "p.latitude", lon: str = "p.longitude") -> str:
    """Solar elevation in degrees at a pole and instant (declination and hour angle from
    the day of year and UTC time; ignores the equation of time, < 0.5° at 6°: plenty to
    tell day from night)."""
    doy = f"extract(doy FROM {ts} AT TIME ZONE 'UTC')"
    utc_hours = f"(mod(extract(epoch FROM {ts})::numeric, 86400) / 3600)::float8"
    declination = f"radians(23.44 * sin(radians(360.0 / 365.0 * ({doy} - 81))))"
    hour_angle = f"radians(15 * ({utc_hours} + {lon} / 15 - 12))"
    return (
        f"degrees(asin(sin(radians({lat})) * sin({declination})"
        f" + cos(radians({lat})) * cos({declination}) * cos({hour_angle})))"
    )


def hourly_mean(field: FieldSpec, table: str = "h") -> str:
    """The mean of an env metric over rollup rows, by the catalogue's aggregation rule."""
    count = f"nullif(sum({table}.{env_rollup_column(field, 'count')}), 0)"
    if field.aggregation is Aggregation.ENERGY_MEAN:
        # decibels average on energy: 10·log10(mean of 10^(L/10))
        return f"10 * log(sum({table}.{env_rollup_column(field, 'energy_sum')}) / {count})"
    if field.aggregation is Aggregation.MEAN:
        return f"sum({table}.{env_rollup_column(field, 'sum')}) / {count}"
    if field.aggregation is Aggregation.MAX:
        return f"max({table}.{env_rollup_column(field, 'max')})"
    raise ValueError(f"{field.column}: no rollup aggregate for {field.aggregation}")


def raw_aggregate(field: FieldSpec, table: str = "e") -> str:
    """The same aggregate over raw readings."""
    column = f"{table}.{field.column}"
    if field.aggregation is Aggregation.ENERGY_MEAN:
        return f"10 * log(avg(10 ^ ({column} / 10)))"
    if field.aggregation is Aggregation.MEAN:
        return f"avg({column})"
    if field.aggregation is Aggregation.MAX:
        return f"max({column})"
    raise ValueError(f"{field.column}: no aggregate for {field.aggregation}")


# --- template variable queries -----------------------------------------------------------
VAR_DISTRICTS = f"SELECT DISTINCT {DISTRICT} FROM poles p ORDER BY 1"
VAR_POLES_IN_DISTRICTS = f"SELECT p.pole_id FROM poles p WHERE {IN_DISTRICTS} ORDER BY 1"
VAR_ALL_POLES = "SELECT pole_id FROM poles ORDER BY 1"
