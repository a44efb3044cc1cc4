"""EU air-quality limit exceedances (Directive 2008/50/EC), per pole and year.

Counted from the hourly rollup, in local days of the requested time zone:
- PM10: days whose daily mean exceeds 50 µg/m³ (35 allowed a year). A daily
  mean needs 18 hourly means (75 % coverage, Annex VII).
- NO2: hours whose hourly mean exceeds 200 µg/m³ (18 allowed a year).
- O3: days whose maximum 8-hour running mean exceeds 120 µg/m³ (target value:
  25 days a year averaged over 3 years). Each 8-hour mean needs 6 of its 8
  hourly means and belongs to the day it ends in, so the day's windows run
  from 17:00-01:00 to 16:00-24:00 (Annex VII).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

PM10_DAILY_LIMIT = 50.0
NO2_HOURLY_LIMIT = 200.0
O3_8H_TARGET = 120.0
PM10_DAYS_ALLOWED = 35
NO2_HOURS_ALLOWED = 18
O3_DAYS_ALLOWED = 25
MIN_HOURS_FOR_DAILY_MEAN = 18
MIN_HOURS_FOR_8H_MEAN = 6

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
    params = {
        "year": year,
        "tz": tz,
        "district": district,
        "pole_id": pole_id,
        "after": after,
        "limit": limit,
        "min_daily_hours": MIN_HOURS_FOR_DAILY_MEAN,
        "min_8h_hours": MIN_HOURS_FOR_8H_MEAN,
        "pm10_limit": PM10_DAILY_LIMIT,
        "no2_limit": NO2_HOURLY_LIMIT,
        "o3_target": O3_8H_TARGET,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(EXCEEDANCES_SQL, params)
        return cur.fetchall()
