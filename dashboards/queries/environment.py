"""Environment: pollutants and noise by district and pole, EU limit exceedances."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass

from dashboards.queries.common import (
    DISTRICT,
    IN_DISTRICTS,
    IN_POLES,
    NO2_ANNUAL_LIMIT,
    NO2_HOURLY_LIMIT,
    O3_INFORMATION_THRESHOLD,
    O3_TARGET_8H,
    PM10_DAILY_LIMIT,
    PM25_ANNUAL_LIMIT,
)
from dashboards.sql import PanelSql, Shape, num, text, time_col


# --- environment ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Pollutant:
    key: str  # column prefix in env_hourly / env_readings
    title: str
    unit: str  # Grafana unit id
    limits: tuple[tuple[float, str], ...] = ()  # (value, label) drawn as thresholds


POLLUTANTS = (
    Pollutant("pm25", "PM2.5", "conµgm3", ((PM25_ANNUAL_LIMIT, "EU annual limit"),)),
    Pollutant("pm10", "PM10", "conµgm3", ((PM10_DAILY_LIMIT, "EU daily limit"),)),
    Pollutant(
        "no2",
        "NO₂",
        "conµgm3",
        ((NO2_ANNUAL_LIMIT, "EU annual limit"), (NO2_HOURLY_LIMIT, "EU hourly limit")),
    ),
    Pollutant(
        "o3",
        "O₃",
        "conµgm3",
        ((O3_TARGET_8H, "EU 8h target"), (O3_INFORMATION_THRESHOLD, "information threshold")),
    ),
    # No EU limit value for noise (the Environmental Noise Directive maps, it does not cap).
    Pollutant("laeq", "Noise LAeq", "dB"),
)


def hourly_mean(key: str, table: str = "h") -> str:
    if key == "laeq":
        # decibels average on energy: 10·log10(mean of 10^(L/10))
        return f"10 * log(sum({table}.laeq_energy_sum) / nullif(sum({table}.laeq_count), 0))"
    return f"sum({table}.{key}_sum) / nullif(sum({table}.{key}_count), 0)"


def env_by(pollutant: Pollutant, series: str) -> PanelSql:
    """Hourly-rollup time series of one measure, one series per pole or per district."""
    label = "h.pole_id" if series == "pole" else DISTRICT
    return PanelSql(
        f"""SELECT $__timeGroupAlias(h.bucket, $__interval), {label} AS metric,
       {hourly_mean(pollutant.key)} AS {pollutant.key}
FROM env_hourly h JOIN poles p ON p.pole_id = h.pole_id
WHERE $__timeFilter(h.bucket) AND h.{pollutant.key}_count > 0
  AND {IN_DISTRICTS} AND {IN_POLES}
GROUP BY 1, 2
ORDER BY 1, 2""",
        Shape.TIME_SERIES,
        (time_col(), text("metric"), num(pollutant.key, pollutant.unit)),
    )


ENV_EXCEEDANCES = PanelSql(
    f"""WITH year_hours AS (
  SELECT h.* FROM env_hourly h JOIN poles p ON p.pole_id = h.pole_id
  WHERE h.bucket >= date_trunc('year', $__timeTo()::timestamptz AT TIME ZONE '$tz')
                    AT TIME ZONE '$tz'
    AND h.bucket < $__timeTo()::timestamptz
    AND {IN_DISTRICTS} AND {IN_POLES}
), pm10_days AS (
  SELECT pole_id, count(*) AS days FROM (
    SELECT pole_id FROM year_hours
    GROUP BY pole_id, date_trunc('day', bucket AT TIME ZONE '$tz')
    HAVING sum(pm10_count) > 0 AND sum(pm10_sum) / sum(pm10_count) > {PM10_DAILY_LIMIT}
  ) d GROUP BY pole_id
), no2_hours AS (
  SELECT pole_id, count(*) AS hours FROM year_hours
  WHERE no2_count > 0 AND no2_sum / no2_count > {NO2_HOURLY_LIMIT}
  GROUP BY pole_id
), o3_days AS (
  SELECT pole_id, count(DISTINCT date_trunc('day', bucket AT TIME ZONE '$tz')) AS days
  FROM (
    SELECT pole_id, bucket,
           avg(o3_sum / o3_count) OVER (
             PARTITION BY pole_id ORDER BY bucket
             RANGE BETWEEN interval '7 hours' PRECEDING AND CURRENT ROW) AS o3_8h
    FROM year_hours WHERE o3_count > 0
  ) running
  WHERE o3_8h > {O3_TARGET_8H}
  GROUP BY pole_id
)
SELECT p.pole_id, {DISTRICT} AS district,
       coalesce(pm10_days.days, 0) AS pm10_days_over_limit,
       coalesce(no2_hours.hours, 0) AS no2_hours_over_limit,
       coalesce(o3_days.days, 0) AS o3_days_over_target
FROM poles p
LEFT JOIN pm10_days ON pm10_days.pole_id = p.pole_id
LEFT JOIN no2_hours ON no2_hours.pole_id = p.pole_id
LEFT JOIN o3_days ON o3_days.pole_id = p.pole_id
WHERE {IN_DISTRICTS} AND {IN_POLES}
ORDER BY pm10_days_over_limit DESC, no2_hours_over_limit DESC, p.pole_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("district"),
        num("pm10_days_over_limit"),
        num("no2_hours_over_limit"),
        num("o3_days_over_target"),
    ),
)
