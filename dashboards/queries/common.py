"""What the queries of several dashboards share: the district and pole filters of the
template variables, local days, the sun's elevation, and the variables' own queries."""

# S608: these strings are SQL *text* assembled from constant fragments (no values ever
# enter them); Grafana runs them after expanding its own macros and variables.
# ruff: noqa: S608

from __future__ import annotations

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


# --- template variable queries -----------------------------------------------------------
VAR_DISTRICTS = f"SELECT DISTINCT {DISTRICT} FROM poles p ORDER BY 1"
VAR_POLES_IN_DISTRICTS = f"SELECT p.pole_id FROM poles p WHERE {IN_DISTRICTS} ORDER BY 1"
VAR_ALL_POLES = "SELECT pole_id FROM poles ORDER BY 1"
