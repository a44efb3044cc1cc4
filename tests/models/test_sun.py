"""Sunrise and sunset after NOAA, against published times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from models.sun import is_daylight, solar_elevation, sunrise_sunset

LAT, LON = 51.55, 7.31  # Castrop-Rauxel


@pytest.mark.parametrize(
    ("day", "sunrise_utc", "sunset_utc"),
    [
        # Published times for Dortmund (51.51 N, 7.47 E), a few km away: within minutes.
        (date(2024, 6, 21), "03:13", "19:52"),
        (date(2024, 12, 21), "07:33", "15:23"),
        (date(2024, 3, 20), "05:34", "17:44"),
    ],
)
def test_sunrise_and_sunset_match_published_times(
    day: date, sunrise_utc: str, sunset_utc: str
) -> None:
    times = sunrise_sunset(day, LAT, LON)
    assert times is not None
    for computed, published in zip(times, (sunrise_utc, sunset_utc), strict=True):
        hour, minute = map(int, published.split(":"))
        expected = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        assert abs(computed - expected) < timedelta(minutes=4)


def test_polar_day_and_night_have_no_sunrise() -> None:
    assert sunrise_sunset(date(2024, 6, 21), 78.2, 15.6) is None
    assert sunrise_sunset(date(2024, 12, 21), 78.2, 15.6) is None


def test_daylight_flips_at_sunrise_and_sunset() -> None:
    times = sunrise_sunset(date(2024, 12, 21), LAT, LON)
    assert times is not None
    sunrise, sunset = times
    minute = timedelta(minutes=1)
    assert not is_daylight(sunrise - minute, LAT, LON) and is_daylight(sunrise + minute, LAT, LON)
    assert is_daylight(sunset - minute, LAT, LON) and not is_daylight(sunset + minute, LAT, LON)
    noon = datetime(2024, 6, 21, 11, 30, tzinfo=UTC)
    assert 60 < solar_elevation(noon, LAT, LON) < 63  # 90 - 51.55 + 23.44
