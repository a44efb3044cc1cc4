"""Sun position and sunrise/sunset after NOAA's "General Solar Position
Calculations" (fractional-year series). Accurate to about a minute at mid
latitudes, which is what a lamp's twilight switch needs; no dependency."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

# Sunrise/sunset are defined by the sun's upper limb touching a horizon seen
# through average refraction: the centre is 0.833° below the horizon then.
HORIZON_DEGREES = -0.833


def _fractional_year(at: datetime) -> float:
    day_of_year = at.timetuple().tm_yday
    days_in_year = 366 if _is_leap(at.year) else 365
    return 2 * math.pi / days_in_year * (day_of_year - 1 + (at.hour - 12) / 24)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _equation_of_time_and_declination(gamma: float) -> tuple[float, float]:
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    declination = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    return eqtime, declination


def solar_elevation(at: datetime, latitude: float, longitude: float) -> float:
    """Elevation of the sun's centre above the horizon, degrees (no refraction)."""
    at = at.astimezone(UTC)
    eqtime, declination = _equation_of_time_and_declination(_fractional_year(at))
    true_solar_minutes = at.hour * 60 + at.minute + at.second / 60 + eqtime + 4 * longitude
    hour_angle = math.radians(true_solar_minutes / 4 - 180)
    lat = math.radians(latitude)
    cos_zenith = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(hour_angle)
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def is_daylight(at: datetime, latitude: float, longitude: float) -> bool:
    """True between sunrise and sunset (what a streetlight's twilight switch sees)."""
    return solar_elevation(at, latitude, longitude) > HORIZON_DEGREES


def sunrise_sunset(
    day: date, latitude: float, longitude: float
) -> tuple[datetime, datetime] | None:
    """Sunrise and sunset (UTC) of a date; None in polar day or polar night."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    eqtime, declination = _equation_of_time_and_declination(_fractional_year(noon))
    lat = math.radians(latitude)
    cos_hour_angle = math.cos(math.radians(90 - HORIZON_DEGREES)) / (
        math.cos(lat) * math.cos(declination)
    ) - math.tan(lat) * math.tan(declination)
    if not -1 <= cos_hour_angle <= 1:
        return None
    hour_angle = math.degrees(math.acos(cos_hour_angle))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    sunrise = midnight + timedelta(minutes=720 - 4 * (longitude + hour_angle) - eqtime)
    sunset = midnight + timedelta(minutes=720 - 4 * (longitude - hour_angle) - eqtime)
    return sunrise, sunset
