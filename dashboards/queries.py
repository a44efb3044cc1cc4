"""The SQL every panel and alert rule runs, written against the smartpole schema.

Grafana runs these, not the API, so they live here as data (the API's SQL stays in
`storage/`). They use Grafana's macros so the time picker works: `$__timeFilter(col)`,
`$__timeFrom()`/`$__timeTo()`, `$__timeGroupAlias(col, $__interval)`, and the dashboard
variables `$district`, `$pole` (multi-value, quoted by Grafana) and `$tz` (a constant).

Speed on long ranges: fleet-wide environment panels read the hourly rollup `env_hourly`
(the panel's min interval is 1h, so `$__interval` never asks for less); per-pole panels
read raw rows for short ranges and switch to the rollup past `RAW_RANGE_LIMIT`.
"Current state" panels read the newest row per pole through the primary key
(`LATERAL ... ORDER BY observed_at DESC LIMIT 1`) instead of scanning a time range.
Other families have no rollup: they aggregate raw rows inside `$__timeFilter`.

Every query works with both expansions of `$__timeGroup`: epoch seconds on plain
PostgreSQL, `time_bucket()` with the datasource's TimescaleDB option.
"""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass

from dashboards.sql import Column, PanelSql, Shape, num, text, time_col
from dashboards.sql import ColumnKind as Kind

# --- thresholds the queries and the panels share ---------------------------------------
OFFLINE_AFTER = "15 minutes"  # no message at all for this long: the pole missed its cadence
SENSOR_STALE_AFTER = "30 minutes"  # pole talks, but its env sensor has gone quiet
EV_STATUS_HORIZON = "7 days"  # a connector silent for longer drops out of "status now"
LIGHT_READING_VALID_FOR = "1 hour"  # a lamp reading counts for at most this long (gaps)
DAYLIGHT_SUN_ELEVATION_DEG = 6  # above civil twilight: a burning lamp is a day burner
RAW_RANGE_LIMIT = "2 days"  # per-pole env panels use raw rows up to this range

# EU ambient air quality limit / target values (Directive 2008/50/EC), µg/m³.
PM10_DAILY_LIMIT = 50.0  # daily mean, at most 35 days a year
PM10_DAYS_ALLOWED = 35
PM25_ANNUAL_LIMIT = 25.0  # annual mean
NO2_HOURLY_LIMIT = 200.0  # hourly mean, at most 18 hours a year
NO2_HOURS_ALLOWED = 18
NO2_ANNUAL_LIMIT = 40.0
O3_TARGET_8H = 120.0  # max daily 8-hour mean, at most 25 days a year (3-year average)
O3_DAYS_ALLOWED = 25
O3_INFORMATION_THRESHOLD = 180.0  # hourly

DISTRICT = "coalesce(p.district, 'unassigned')"
IN_DISTRICTS = f"{DISTRICT} IN ($district)"
IN_POLES = "p.pole_id IN ($pole)"
ONE_POLE = "p.pole_id = '$pole'"
LOCAL_DAY = "date_trunc('day', {ts} AT TIME ZONE '$tz') AT TIME ZONE '$tz'"


def local_day(ts: str) -> str:
    return LOCAL_DAY.format(ts=ts)


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


# --- pole health: one definition for the map, the counts, the problem list -------------
POLE_HEALTH = f"""
WITH latest AS (
  SELECT p.pole_id, p.name, {DISTRICT} AS district, p.latitude, p.longitude,
         p.last_seen, p.status, 'env' = ANY(p.capabilities) AS has_env,
         p.status = 'offline' OR p.last_seen IS NULL
           OR p.last_seen < now() - interval '{OFFLINE_AFTER}' AS offline,
         env.observed_at AS env_at,
         light.lamp_status, light.observed_at AS light_at,
         wifi.status AS wifi_status,
         coalesce(ev.faulted, 0) AS faulted_connectors
  FROM poles p
  LEFT JOIN LATERAL (SELECT e.observed_at FROM env_readings e WHERE e.pole_id = p.pole_id
                     ORDER BY e.observed_at DESC LIMIT 1) env ON true
  LEFT JOIN LATERAL (SELECT l.lamp_status, l.observed_at FROM light_readings l
                     WHERE l.pole_id = p.pole_id ORDER BY l.observed_at DESC LIMIT 1) light ON true
  LEFT JOIN LATERAL (SELECT w.status FROM wifi_readings w WHERE w.pole_id = p.pole_id
                     ORDER BY w.observed_at DESC LIMIT 1) wifi ON true
  LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE c.status = 'Faulted') AS faulted
    FROM (SELECT DISTINCT ON (e.connector_id) e.status FROM ev_readings e
          WHERE e.pole_id = p.pole_id AND e.observed_at > now() - interval '{EV_STATUS_HORIZON}'
          ORDER BY e.connector_id, e.observed_at DESC) c) ev ON true
), health AS (
  SELECT *,
         NOT offline AND has_env
           AND (env_at IS NULL OR env_at < now() - interval '{SENSOR_STALE_AFTER}')
           AS sensor_stale,
         coalesce(lamp_status, 'ok') <> 'ok' OR faulted_connectors > 0
           OR wifi_status = 'down' AS faulted
  FROM latest
)
"""

OVERVIEW_COUNTS = PanelSql(
    POLE_HEALTH
    + """SELECT count(*) FILTER (WHERE NOT offline) AS online,
       count(*) FILTER (WHERE offline) AS offline,
       count(*) FILTER (WHERE NOT offline AND faulted) AS faulted,
       count(*) FILTER (WHERE sensor_stale) AS sensor_stale
FROM health""",
    Shape.SINGLE_ROW,
    (num("online"), num("offline"), num("faulted"), num("sensor_stale")),
)

OVERVIEW_MAP = PanelSql(
    POLE_HEALTH
    + """SELECT pole_id, coalesce(name, pole_id) AS name, district, latitude, longitude,
       CASE WHEN offline THEN 'offline' WHEN faulted THEN 'faulted'
            WHEN sensor_stale THEN 'sensor stale' ELSE 'ok' END AS health,
       CASE WHEN offline THEN 3 WHEN faulted THEN 2 WHEN sensor_stale THEN 1 ELSE 0 END
         AS health_code,
       last_seen
FROM health
WHERE latitude IS NOT NULL AND longitude IS NOT NULL
ORDER BY pole_id""",
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

OVERVIEW_PROBLEMS = PanelSql(
    POLE_HEALTH
    + """SELECT pole_id, district, problem, since FROM (
  SELECT pole_id, district, 'pole offline' AS problem, last_seen AS since FROM health
   WHERE offline
  UNION ALL
  SELECT pole_id, district, 'env sensor stale', env_at FROM health WHERE sensor_stale
  UNION ALL
  SELECT pole_id, district, 'lamp ' || lamp_status, light_at FROM health
   WHERE NOT offline AND coalesce(lamp_status, 'ok') <> 'ok'
  UNION ALL
  SELECT pole_id, district, faulted_connectors || ' charger(s) Faulted', NULL FROM health
   WHERE NOT offline AND faulted_connectors > 0
  UNION ALL
  SELECT pole_id, district, 'Wi-Fi down', NULL FROM health
   WHERE NOT offline AND wifi_status = 'down'
) problems
ORDER BY problem, pole_id""",
    Shape.TABLE,
    (text("pole_id"), text("district"), text("problem"), Column("since", Kind.TIME)),
)

OVERVIEW_FRESHNESS = PanelSql(
    f"""SELECT extract(epoch FROM now() - max(last_seen))::float8 AS newest_message_age,
       extract(epoch FROM now() - max(last_observed_at))::float8 AS newest_reading_age,
       count(*) FILTER (WHERE last_seen IS NULL
                        OR last_seen < now() - interval '{OFFLINE_AFTER}') AS silent_poles
FROM poles""",
    Shape.SINGLE_ROW,
    (num("newest_message_age", "s"), num("newest_reading_age", "s"), num("silent_poles")),
)

OVERVIEW_ENV_READINGS = PanelSql(
    """SELECT $__timeGroupAlias(h.bucket, $__interval), sum(h.readings) AS env_readings
FROM env_hourly h
WHERE $__timeFilter(h.bucket)
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("env_readings")),
)


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


def _hourly_mean(key: str, table: str = "h") -> str:
    if key == "laeq":
        # decibels average on energy: 10·log10(mean of 10^(L/10))
        return f"10 * log(sum({table}.laeq_energy_sum) / nullif(sum({table}.laeq_count), 0))"
    return f"sum({table}.{key}_sum) / nullif(sum({table}.{key}_count), 0)"


def env_by(pollutant: Pollutant, series: str) -> PanelSql:
    """Hourly-rollup time series of one measure, one series per pole or per district."""
    label = "h.pole_id" if series == "pole" else DISTRICT
    return PanelSql(
        f"""SELECT $__timeGroupAlias(h.bucket, $__interval), {label} AS metric,
       {_hourly_mean(pollutant.key)} AS {pollutant.key}
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

# --- EV charging --------------------------------------------------------------------------
_LATEST_CONNECTOR = f"""SELECT DISTINCT ON (e.pole_id, e.connector_id)
       e.pole_id, {DISTRICT} AS district, e.connector_id, e.status, e.error_code,
       e.charging_power, e.observed_at
FROM ev_readings e JOIN poles p ON p.pole_id = e.pole_id
WHERE e.observed_at > now() - interval '{EV_STATUS_HORIZON}' AND {IN_DISTRICTS}
ORDER BY e.pole_id, e.connector_id, e.observed_at DESC"""

EV_STATUS_NOW = PanelSql(
    f"""SELECT pole_id, district, connector_id AS connector, status, error_code,
       charging_power AS power, observed_at AS last_report
FROM ({_LATEST_CONNECTOR}) latest
ORDER BY status = 'Faulted' DESC, pole_id, connector_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("district"),
        num("connector"),
        text("status"),
        text("error_code"),
        num("power", "kwatt"),
        Column("last_report", Kind.TIME),
    ),
)

EV_STATUS_COUNTS = PanelSql(
    f"""SELECT status, count(*) AS connectors
FROM ({_LATEST_CONNECTOR}) latest
GROUP BY status
ORDER BY connectors DESC, status""",
    Shape.TABLE,
    (text("status"), num("connectors")),
)

EV_OCCUPIED_STATES = "('Charging', 'SuspendedEV', 'SuspendedEVSE', 'Finishing')"

EV_UTILISATION = PanelSql(
    f"""WITH spans AS (
  SELECT e.observed_at, e.status,
         extract(epoch FROM least(
           lead(e.observed_at) OVER (PARTITION BY e.pole_id, e.connector_id
                                     ORDER BY e.observed_at),
           $__timeTo()::timestamptz, now()) - e.observed_at) AS seconds
  FROM ev_readings e JOIN poles p ON p.pole_id = e.pole_id
  WHERE $__timeFilter(e.observed_at) AND {IN_DISTRICTS}
)
SELECT $__timeGroupAlias(observed_at, $__interval),
       100 * sum(seconds) FILTER (WHERE status IN {EV_OCCUPIED_STATES})
         / nullif(sum(seconds), 0) AS occupied
FROM spans
WHERE seconds > 0
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("occupied", "percent")),
)

EV_DAILY = PanelSql(
    f"""WITH deltas AS (
  SELECT e.observed_at, e.transaction_id,
         e.total_active_energy_import - lag(e.total_active_energy_import) OVER (
           PARTITION BY e.pole_id, e.connector_id ORDER BY e.observed_at) AS kwh
  FROM ev_readings e JOIN poles p ON p.pole_id = e.pole_id
  WHERE $__timeFilter(e.observed_at) AND {IN_DISTRICTS}
)
SELECT {local_day("observed_at")} AS time,
       count(DISTINCT transaction_id) AS sessions,
       coalesce(sum(kwh) FILTER (WHERE kwh > 0), 0) AS energy
FROM deltas
GROUP BY 1
ORDER BY 1""",
    Shape.TIME_SERIES,
    (time_col(), num("sessions"), num("energy", "kwatth")),
)

EV_FAULTS = PanelSql(
    f"""SELECT e.error_code, count(*) AS reports,
       count(DISTINCT (e.pole_id, e.connector_id)) AS connectors
FROM ev_readings e JOIN poles p ON p.pole_id = e.pole_id
WHERE $__timeFilter(e.observed_at) AND e.error_code <> 'NoError' AND {IN_DISTRICTS}
GROUP BY e.error_code
ORDER BY reports DESC, e.error_code""",
    Shape.TABLE,
    (text("error_code"), num("reports"), num("connectors")),
)

# --- Wi-Fi -----------------------------------------------------------------------------
WIFI_CLIENTS = PanelSql(
    f"""SELECT $__timeGroupAlias(w.observed_at, $__interval), w.pole_id AS metric,
       avg(w.connected_clients) AS clients
FROM wifi_readings w JOIN poles p ON p.pole_id = w.pole_id
WHERE $__timeFilter(w.observed_at) AND {IN_DISTRICTS} AND {IN_POLES}
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("clients")),
)

# Byte counters run since the access point booted: a drop means a reboot, and the new
# value is then the traffic since that reboot.
WIFI_TRAFFIC = PanelSql(
    f"""WITH deltas AS (
  SELECT w.observed_at, w.pole_id,
         w.bytes_in, w.bytes_in - lag(w.bytes_in) OVER hotspot AS in_delta,
         w.bytes_out, w.bytes_out - lag(w.bytes_out) OVER hotspot AS out_delta
  FROM wifi_readings w JOIN poles p ON p.pole_id = w.pole_id
  WHERE $__timeFilter(w.observed_at) AND {IN_DISTRICTS} AND {IN_POLES}
  WINDOW hotspot AS (PARTITION BY w.pole_id ORDER BY w.observed_at)
)
SELECT $__timeGroupAlias(observed_at, $__interval), pole_id AS metric,
       sum(CASE WHEN in_delta < 0 THEN bytes_in ELSE in_delta END) AS received,
       sum(CASE WHEN out_delta < 0 THEN bytes_out ELSE out_delta END) AS sent
FROM deltas
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("received", "decbytes"), num("sent", "decbytes")),
)

WIFI_HOUR_OF_DAY = PanelSql(
    f"""SELECT to_char(w.observed_at AT TIME ZONE '$tz', 'HH24') AS hour,
       avg(w.connected_clients) AS clients
FROM wifi_readings w JOIN poles p ON p.pole_id = w.pole_id
WHERE $__timeFilter(w.observed_at) AND {IN_DISTRICTS} AND {IN_POLES}
GROUP BY 1
ORDER BY 1""",
    Shape.TABLE,
    (text("hour"), num("clients")),
)

_LATEST_WIFI = f"""SELECT p.pole_id, {DISTRICT} AS district, w.status, w.connected_clients,
       w.observed_at
FROM poles p
CROSS JOIN LATERAL (SELECT w.status, w.connected_clients, w.observed_at
                    FROM wifi_readings w WHERE w.pole_id = p.pole_id
                    ORDER BY w.observed_at DESC LIMIT 1) w
WHERE {IN_DISTRICTS}"""

WIFI_DOWN_COUNT = PanelSql(
    f"""SELECT count(*) FILTER (WHERE status = 'down') AS down,
       count(*) FILTER (WHERE status = 'degraded') AS degraded,
       count(*) FILTER (WHERE status = 'up') AS up
FROM ({_LATEST_WIFI}) latest""",
    Shape.SINGLE_ROW,
    (num("down"), num("degraded"), num("up")),
)

WIFI_DOWN_LIST = PanelSql(
    f"""SELECT pole_id, district, status, observed_at AS since
FROM ({_LATEST_WIFI}) latest
WHERE status <> 'up'
ORDER BY status, pole_id""",
    Shape.TABLE,
    (text("pole_id"), text("district"), text("status"), Column("since", Kind.TIME)),
)

# --- lighting and energy ------------------------------------------------------------
# Each light reading holds until the next one, for at most LIGHT_READING_VALID_FOR (a gap
# in the data is not burn time) and never past the end of the range.
_LIGHT_SPANS = f"""SELECT l.pole_id, {DISTRICT} AS district, p.latitude, p.longitude,
       l.observed_at, l.power_state, l.illuminance_level, l.total_active_energy_import,
       extract(epoch FROM least(
         lead(l.observed_at) OVER pole_lamp,
         l.observed_at + interval '{LIGHT_READING_VALID_FOR}',
         $__timeTo()::timestamptz) - l.observed_at) AS seconds,
       l.total_active_energy_import - lag(l.total_active_energy_import) OVER pole_lamp AS kwh
FROM light_readings l JOIN poles p ON p.pole_id = l.pole_id
WHERE $__timeFilter(l.observed_at) AND {IN_DISTRICTS}
WINDOW pole_lamp AS (PARTITION BY l.pole_id ORDER BY l.observed_at)"""

LIGHT_BURN_HOURS = PanelSql(
    f"""SELECT {local_day("observed_at")} AS time, district AS metric,
       sum(seconds) FILTER (WHERE power_state IN ('on', 'low')) / 3600 AS burn_hours
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
    (time_col(), text("metric"), num("energy", "kwatth")),
)

LIGHT_DIMMING = PanelSql(
    f"""SELECT $__timeGroupAlias(l.observed_at, $__interval), {DISTRICT} AS metric,
       100 * avg(l.illuminance_level) AS dim_level
FROM light_readings l JOIN poles p ON p.pole_id = l.pole_id
WHERE $__timeFilter(l.observed_at) AND l.power_state IN ('on', 'low')
  AND l.illuminance_level IS NOT NULL AND {IN_DISTRICTS}
GROUP BY 1, 2
ORDER BY 1, 2""",
    Shape.TIME_SERIES,
    (time_col(), text("metric"), num("dim_level", "percent")),
)

LIGHT_DAY_BURNERS = PanelSql(
    f"""SELECT pole_id, district,
       sum(seconds) / 60 AS daylight_minutes,
       max(observed_at) AS last_seen_burning
FROM ({_LIGHT_SPANS}) spans
WHERE power_state IN ('on', 'low') AND latitude IS NOT NULL AND longitude IS NOT NULL
  AND {sun_elevation_deg("observed_at", "latitude", "longitude")}
      > {DAYLIGHT_SUN_ELEVATION_DEG}
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
    f"""SELECT p.pole_id, {DISTRICT} AS district, l.lamp_status, l.power_state,
       l.observed_at AS since
FROM poles p
CROSS JOIN LATERAL (SELECT l.lamp_status, l.power_state, l.observed_at
                    FROM light_readings l WHERE l.pole_id = p.pole_id
                    ORDER BY l.observed_at DESC LIMIT 1) l
WHERE l.lamp_status IS NOT NULL AND l.lamp_status <> 'ok' AND {IN_DISTRICTS}
ORDER BY l.lamp_status, p.pole_id""",
    Shape.TABLE,
    (
        text("pole_id"),
        text("district"),
        text("lamp_status"),
        text("power_state"),
        Column("since", Kind.TIME),
    ),
)

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
    return "max(h.lamax_max)" if key == "lamax" else _hourly_mean(key)


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

# --- template variable queries -----------------------------------------------------------
VAR_DISTRICTS = f"SELECT DISTINCT {DISTRICT} FROM poles p ORDER BY 1"
VAR_POLES_IN_DISTRICTS = f"SELECT p.pole_id FROM poles p WHERE {IN_DISTRICTS} ORDER BY 1"
VAR_ALL_POLES = "SELECT pole_id FROM poles ORDER BY 1"
