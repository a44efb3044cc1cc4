"""EU air-quality limit exceedances per pole and year, in days of the requested
time zone, with the limit values and data-capture rules of the domain
catalogue (`models.catalogue.air_quality`, the rule set in force for the year).
An hourly mean counts only for a valid hour (MIN_HOUR_COVERAGE of the hour's
expected readings, storage/readmodels):
- PM10: days whose daily mean (of the valid hourly means) exceeds the daily
  limit value. A daily mean needs MIN_HOURS_FOR_DAILY_MEAN valid hours.
- NO2: valid hours whose mean exceeds the hourly limit value.
- O3: days whose maximum 8-hour running mean exceeds the target value. Each
  8-hour mean needs MIN_HOURS_FOR_8H_MEAN of its 8 hourly means and belongs
  to the day it ends in, so the day's windows run from 17:00-01:00 to
  16:00-24:00.

PM10 and NO2 come from the daily rollups (local zone or CET; other zones: the
hourly rollup, grouped here); O3 reads the hourly rollup only for the days
that have, or follow a day that has, a valid hour over the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.catalogue.air_quality import (
    MIN_HOURS_FOR_8H_MEAN,
    MIN_HOURS_FOR_DAILY_MEAN,
    STATISTICS_TIME_ZONE,
    AirQualityStandard,
    Indicator,
    Objective,
    rule_set_in_force,
    standard,
)
from models.catalogue.families import ENV
from storage.queries.rollups import local_zone
from storage.readmodels.spec import ENV_DAILY, ENV_DAILY_CET, over_column
from storage.readmodels.sql import need_per_hour, valid_measures, valid_names


@dataclass(frozen=True, slots=True)
class ExceedanceRules:
    """The three standards the exceedance counts are judged against in one year."""

    pm10_daily: AirQualityStandard
    no2_hourly: AirQualityStandard
    o3_8h: AirQualityStandard

    @classmethod
    def for_year(cls, year: int) -> ExceedanceRules:
        rules = rule_set_in_force(year)
        return cls(
            pm10_daily=standard("pm10", Indicator.DAILY_MEAN, rules),
            no2_hourly=standard("no2", Indicator.HOURLY_MEAN, rules),
            o3_8h=standard("o3", Indicator.MAX_DAILY_8H_MEAN, rules, Objective.TARGET_VALUE),
        )


def _days_source(tz: str, zone: str | None) -> sql.Composable:
    """The env days of `tz` with their valid-hour measures: the daily rollup the
    writer keeps for the local zone or CET, else computed from the hourly rollup."""
    if tz == zone:
        return sql.Identifier(ENV_DAILY.table)
    if tz == STATISTICS_TIME_ZONE:
        return sql.Identifier(ENV_DAILY_CET.table)
    need = need_per_hour(ENV, sql.SQL("h.pole_id"))
    valid = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(v, sql.Identifier(n))
        for v, n in zip(valid_measures(ENV_DAILY, "h", need), valid_names(ENV_DAILY), strict=True)
    )
    return sql.SQL(
        "(SELECT hours.pole_id, date_trunc('day', hours.bucket, %(tz)s) AS bucket, {sums} "
        "FROM (SELECT h.pole_id, h.bucket, {valid} FROM env_hourly h"
        " WHERE h.pole_id IN (SELECT pole_id FROM page)"
        " AND h.bucket >= (SELECT year_start FROM bounds) - interval '1 day'"
        " AND h.bucket < (SELECT year_end FROM bounds)) hours GROUP BY 1, 2)"
    ).format(
        valid=valid,
        sums=sql.SQL(", ").join(
            sql.SQL("sum(hours.{c}) AS {c}").format(c=sql.Identifier(n))
            for n in valid_names(ENV_DAILY)
        ),
    )


def exceedances_sql(rules: ExceedanceRules, tz: str, zone: str | None) -> sql.Composed:
    pm10, no2, o3 = "pm10", "no2", "o3"
    no2_over = over_column(no2, rules.no2_hourly.threshold)
    o3_over = over_column(o3, rules.o3_8h.threshold)
    names = {c for c, _ in ENV_DAILY.columns()}
    assert {no2_over, o3_over} <= names, "the daily rollup counts hours over every hourly standard"
    need = need_per_hour(ENV, sql.SQL("h.pole_id"))
    return sql.SQL(
        """
WITH page AS (
    SELECT pole_id, district FROM poles
    WHERE (%(district)s::text IS NULL OR district = %(district)s)
      AND (%(pole_id)s::text IS NULL OR pole_id = %(pole_id)s)
      AND (%(after)s::text IS NULL OR pole_id > %(after)s)
    ORDER BY pole_id
    LIMIT %(limit)s
), bounds AS (
    SELECT make_timestamptz(%(year)s, 1, 1, 0, 0, 0, %(tz)s) AS year_start,
           make_timestamptz(%(year)s + 1, 1, 1, 0, 0, 0, %(tz)s) AS year_end
), days AS MATERIALIZED (
    -- from the day before the year: its hours over the 8-hour target make
    -- 1 January a candidate day
    SELECT d.pole_id, d.bucket, d.{pm10_hours} AS pm10_hours, d.{pm10_sum} AS pm10_sum,
           d.{no2_over} AS no2_over, d.{o3_over} AS o3_over
    FROM {days} d, bounds b
    WHERE d.pole_id IN (SELECT pole_id FROM page)
      AND d.bucket >= b.year_start - interval '1 day' AND d.bucket < b.year_end
), counts AS (
    -- one pass over the days: PM10 days over the limit, NO2 hours over it
    SELECT pole_id,
           count(*) FILTER (WHERE bucket >= b.year_start AND pm10_hours >= %(min_daily_hours)s
                            AND pm10_sum / pm10_hours > %(pm10_limit)s) AS pm10_days,
           sum(no2_over) FILTER (WHERE bucket >= b.year_start) AS no2_hours
    FROM days, bounds b GROUP BY pole_id
), hot AS (
    SELECT pole_id, bucket FROM days WHERE o3_over > 0
), candidates AS (
    -- an 8-hour mean over the target needs an hourly mean over it, in its day or
    -- in the 7 hours before (the day before): only those days' hours are read
    SELECT DISTINCT c.pole_id, c.day,
           (c.day AT TIME ZONE %(tz)s + interval '1 day') AT TIME ZONE %(tz)s AS day_end
    FROM (SELECT pole_id, bucket AS day FROM hot
          UNION ALL
          SELECT pole_id, (bucket AT TIME ZONE %(tz)s + interval '1 day') AT TIME ZONE %(tz)s
          FROM hot) c, bounds b
    WHERE c.day >= b.year_start AND c.day < b.year_end
), o3_windows AS (
    SELECT c.pole_id, c.day, h.bucket,
           avg(h.o3_sum / h.o3_count) OVER w AS mean_8h, count(*) OVER w AS hours
    FROM candidates c JOIN env_hourly h ON h.pole_id = c.pole_id
         AND h.bucket >= c.day - interval '7 hours' AND h.bucket < c.day_end
    WHERE h.o3_count >= {need}
    WINDOW w AS (PARTITION BY c.pole_id, c.day ORDER BY h.bucket
                 RANGE BETWEEN INTERVAL '7 hours' PRECEDING AND CURRENT ROW)
), o3_days AS (
    SELECT pole_id, count(*) AS days FROM (
        SELECT pole_id, day, max(mean_8h) FILTER (WHERE hours >= %(min_8h_hours)s) AS max_8h
        FROM o3_windows WHERE bucket >= day GROUP BY 1, 2
    ) d
    WHERE max_8h > %(o3_target)s
    GROUP BY pole_id
)
SELECT page.pole_id, page.district,
       coalesce(counts.pm10_days, 0) AS pm10_days_over_limit,
       coalesce(counts.no2_hours, 0)::bigint AS no2_hours_over_limit,
       coalesce(o3_days.days, 0) AS o3_days_over_target
FROM page
LEFT JOIN counts USING (pole_id)
LEFT JOIN o3_days USING (pole_id)
ORDER BY page.pole_id
"""
    ).format(
        pm10_hours=sql.Identifier(f"{pm10}_valid_hours"),
        pm10_sum=sql.Identifier(f"{pm10}_valid_sum"),
        no2_over=sql.Identifier(no2_over),
        o3_over=sql.Identifier(o3_over),
        days=_days_source(tz, zone),
        need=need,
    )


def exceedances(
    conn: psycopg.Connection[Any],
    *,
    year: int,
    tz: str,
    district: str | None,
    pole_id: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    rules = ExceedanceRules.for_year(year)
    params = {
        "year": year,
        "tz": tz,
        "district": district,
        "pole_id": pole_id,
        "after": after,
        "limit": limit,
        "min_daily_hours": MIN_HOURS_FOR_DAILY_MEAN,
        "min_8h_hours": MIN_HOURS_FOR_8H_MEAN,
        "pm10_limit": rules.pm10_daily.threshold,
        "no2_limit": rules.no2_hourly.threshold,
        "o3_target": rules.o3_8h.threshold,
    }
    query = exceedances_sql(rules, tz, local_zone(conn))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()
