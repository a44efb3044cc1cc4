"""EU air-quality limit exceedances per pole and year, counted from the hourly
rollup in local days of the requested time zone, with the limit values and
data-capture rules of the domain catalogue (`models.catalogue.air_quality`,
the rule set in force for the year):
- PM10: days whose daily mean exceeds the daily limit value. A daily mean
  needs MIN_HOURS_FOR_DAILY_MEAN hourly means.
- NO2: hours whose hourly mean exceeds the hourly limit value.
- O3: days whose maximum 8-hour running mean exceeds the target value. Each
  8-hour mean needs MIN_HOURS_FOR_8H_MEAN of its 8 hourly means and belongs
  to the day it ends in, so the day's windows run from 17:00-01:00 to
  16:00-24:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from models.catalogue.air_quality import (
    MIN_HOURS_FOR_8H_MEAN,
    MIN_HOURS_FOR_DAILY_MEAN,
    AirQualityStandard,
    Indicator,
    Objective,
    rule_set_in_force,
    standard,
)


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


EXCEEDANCES_SQL = """
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
), hourly AS (
    -- from 7 hours before the year: the first 8-hour windows of 1 January reach back
    SELECT h.pole_id, h.bucket,
           CASE WHEN h.pm10_count > 0 THEN h.pm10_sum / h.pm10_count END AS pm10,
           CASE WHEN h.no2_count > 0 THEN h.no2_sum / h.no2_count END AS no2,
           CASE WHEN h.o3_count > 0 THEN h.o3_sum / h.o3_count END AS o3
    FROM env_hourly h, bounds b
    WHERE h.pole_id IN (SELECT pole_id FROM page)
      AND h.bucket >= b.year_start - interval '7 hours' AND h.bucket < b.year_end
), pm10_days AS (
    SELECT pole_id, count(*) AS days FROM (
        SELECT pole_id, date_trunc('day', bucket, %(tz)s) AS day,
               avg(pm10) AS mean, count(pm10) AS hours
        FROM hourly, bounds b WHERE bucket >= b.year_start
        GROUP BY 1, 2
    ) d
    WHERE hours >= %(min_daily_hours)s AND mean > %(pm10_limit)s
    GROUP BY pole_id
), no2_hours AS (
    SELECT pole_id, count(*) AS hours
    FROM hourly, bounds b WHERE bucket >= b.year_start AND no2 > %(no2_limit)s
    GROUP BY pole_id
), o3_windows AS (
    SELECT pole_id, bucket,
           avg(o3) OVER w AS mean_8h, count(o3) OVER w AS hours
    FROM hourly
    WINDOW w AS (PARTITION BY pole_id ORDER BY bucket
                 RANGE BETWEEN INTERVAL '7 hours' PRECEDING AND CURRENT ROW)
), o3_days AS (
    SELECT pole_id, count(*) AS days FROM (
        SELECT pole_id, date_trunc('day', bucket, %(tz)s) AS day,
               max(mean_8h) FILTER (WHERE hours >= %(min_8h_hours)s) AS max_8h
        FROM o3_windows, bounds b WHERE bucket >= b.year_start
        GROUP BY 1, 2
    ) d
    WHERE max_8h > %(o3_target)s
    GROUP BY pole_id
)
SELECT page.pole_id, page.district,
       coalesce(pm10_days.days, 0) AS pm10_days_over_limit,
       coalesce(no2_hours.hours, 0) AS no2_hours_over_limit,
       coalesce(o3_days.days, 0) AS o3_days_over_target
FROM page
LEFT JOIN pm10_days USING (pole_id)
LEFT JOIN no2_hours USING (pole_id)
LEFT JOIN o3_days USING (pole_id)
ORDER BY page.pole_id
"""


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
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(EXCEEDANCES_SQL, params)
        return cur.fetchall()
