"""Known answers for each rule of the official computation (airquality.official)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from airquality.official import (
    Series,
    Verdict,
    aot40,
    aot40_hours,
    cet_day,
    daily_max_8h_means,
    daily_means,
    evaluate,
    hour_is_valid,
    hours_in_year,
    publish,
    running_8h_means,
    year_bounds,
    zone,
)
from airquality.service import judged_standards
from models.catalogue.air_quality import Indicator, Objective, RuleSet, standard

H = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def year_hours(year: int, value: float = 10.0) -> dict[datetime, float]:
    start, end = year_bounds(year)
    hours: dict[datetime, float] = {}
    at = start
    while at < end:
        hours[at] = value
        at += H
    return hours


PM10_DAY = standard("pm10", Indicator.DAILY_MEAN, RuleSet.EU_2008)
PM10_DAY_2030 = standard("pm10", Indicator.DAILY_MEAN, RuleSet.EU_2030)
NO2_YEAR = standard("no2", Indicator.ANNUAL_MEAN, RuleSet.EU_2008)
NO2_YEAR_2030 = standard("no2", Indicator.ANNUAL_MEAN, RuleSet.EU_2030)
NO2_HOUR = standard("no2", Indicator.HOURLY_MEAN, RuleSet.EU_2008)
NO2_HOUR_2030 = standard("no2", Indicator.HOURLY_MEAN, RuleSet.EU_2030)
O3 = standard("o3", Indicator.MAX_DAILY_8H_MEAN, RuleSet.EU_2008, Objective.TARGET_VALUE)
AOT40 = standard("o3", Indicator.AOT40, RuleSet.EU_2008, Objective.TARGET_VALUE)


# --- CET days and years --------------------------------------------------------------------------


def test_cet_years_start_at_2300_utc_and_new_year_hour_belongs_to_the_new_year() -> None:
    assert year_bounds(2023) == (utc("2022-12-31T23:00"), utc("2023-12-31T23:00"))
    assert cet_day(utc("2023-12-31T22:00")) == date(2023, 12, 31)  # 23:00-24:00 CET
    assert cet_day(utc("2023-12-31T23:00")) == date(2024, 1, 1)  # 00:00-01:00 CET
    # An annual mean of 2023 leaves out 2023-12-31 23:00 UTC and takes 2022-12-31 23:00 UTC.
    hours = year_hours(2023)
    hours[utc("2023-12-31T23:00")] = 1000.0
    hours[utc("2022-12-31T23:00")] = 10.0
    assert evaluate(NO2_YEAR, Series(hours), 2023).value == pytest.approx(10.0)


@pytest.mark.parametrize("day", [date(2023, 3, 26), date(2023, 10, 29), date(2023, 1, 1)])
def test_every_cet_day_has_24_hours_even_when_the_local_day_has_23_or_25(day: date) -> None:
    means = daily_means(year_hours(2023), 2023)
    assert means[day].valid_hours == 24
    local_hours = sum(1 for h in year_hours(2023) if h.astimezone(BERLIN).date() == day)
    assert local_hours == {date(2023, 3, 26): 23, date(2023, 10, 29): 25}.get(day, 24)
    assert len(means) == 365


def test_a_summer_hour_near_midnight_is_on_the_cet_day_not_the_local_one() -> None:
    hour = utc("2023-07-01T22:00")  # 23:00-24:00 CET, but 00:00-01:00 CEST on 2 July
    assert hour.astimezone(BERLIN).date() == date(2023, 7, 2)
    assert cet_day(hour) == date(2023, 7, 1)
    hours = {utc("2023-06-30T23:00") + i * H: 60.0 for i in range(24)}  # CET 1 July
    means = daily_means(hours, 2023)
    assert means[date(2023, 7, 1)].valid and means[date(2023, 7, 1)].value == 60.0
    assert not means[date(2023, 7, 2)].valid


# --- coverage rules ----------


def test_a_valid_hour_needs_75_percent_of_its_expected_readings() -> None:
    assert hour_is_valid(45, 60) and not hour_is_valid(44, 60)
    assert hour_is_valid(1, 1) and not hour_is_valid(0, 1)
    assert hour_is_valid(3, 4) and not hour_is_valid(2, 4)  # 15-minute reporting


@pytest.mark.parametrize(("hours", "valid"), [(17, False), (18, True)])
def test_a_daily_mean_needs_18_valid_hours(hours: int, valid: bool) -> None:
    start = datetime(2023, 2, 1, tzinfo=UTC) - H  # 00:00 CET
    series = {start + i * H: 80.0 for i in range(hours)}
    day = daily_means(series, 2023)[date(2023, 2, 1)]
    assert day.valid is valid and day.valid_hours == hours
    assert day.value == (80.0 if valid else None)
    assert evaluate(PM10_DAY, Series(series), 2023).exceedances == (1 if valid else 0)


@pytest.mark.parametrize(("present", "valid"), [(5, False), (6, True)])
def test_an_8_hour_mean_needs_6_of_its_8_hours(present: int, valid: bool) -> None:
    last = utc("2023-06-01T12:00")
    hours = {last - i * H: 100.0 + i for i in range(present)}
    means = running_8h_means(hours, last, last + H)
    assert (last in means) is valid
    if valid:
        assert means[last] == pytest.approx(sum(100.0 + i for i in range(6)) / 6)


def test_an_8_hour_mean_belongs_to_the_day_it_ends_in() -> None:
    # Ozone high from 17:00 CET to 01:00 CET: the window ending 01:00 is the next day's.
    day = date(2023, 6, 10)
    base = datetime(2023, 6, 9, tzinfo=UTC) - H  # 9 June 00:00 CET
    hours = {base + i * H: 60.0 for i in range(72)}
    for i in range(17, 25):  # 17:00-01:00 CET
        hours[base + i * H] = 200.0
    maxima = daily_max_8h_means(hours, 2023)
    assert maxima[day].value == pytest.approx(200.0)  # the window 17:00-01:00 ends on 10 June
    assert maxima[date(2023, 6, 9)].value == pytest.approx((7 * 200 + 60) / 8)


@pytest.mark.parametrize(("means", "valid"), [(17, False), (18, True)])
def test_a_max_daily_8_hour_mean_needs_18_running_means(means: int, valid: bool) -> None:
    day_start = datetime(2023, 6, 10, tzinfo=UTC) - H  # 00:00 CET
    # Hours from 7 before the day; a running mean ending at hour k needs 6 of 8.
    hours = {day_start - 7 * H + i * H: 130.0 for i in range(7 + means)}
    result = daily_max_8h_means(hours, 2023)[date(2023, 6, 10)]
    assert result.valid_means == means + 2  # 2 more windows still hold 6 of 8 hours
    hours = {day_start - 7 * H + i * H: 130.0 for i in range(7 + means - 2)}
    result = daily_max_8h_means(hours, 2023)[date(2023, 6, 10)]
    assert result.valid_means == means and result.valid is valid


@pytest.mark.parametrize(
    ("share", "valid"), [(0.89, False), (7883 / 8760, False), (0.90, True), (1.0, True)]
)
def test_an_annual_statistic_needs_90_percent_capture(share: float, valid: bool) -> None:
    hours = year_hours(2023, 30.0)
    keep = round(share * hours_in_year(2023))
    series = dict(list(hours.items())[:keep])
    result = evaluate(NO2_YEAR, Series(series), 2023)
    assert result.valid is valid
    assert result.capture == pytest.approx(keep / 8760)
    assert result.verdict is (Verdict.MET if valid else Verdict.CANNOT_BE_JUDGED)
    assert result.value == pytest.approx(30.0)  # reported, but not as valid


def test_an_incomplete_count_already_over_the_allowance_is_exceeded_as_a_lower_bound() -> None:
    hours = dict(list(year_hours(2023, 20.0).items())[:4000])  # 46 % capture
    for h in list(hours)[:19]:
        hours[h] = 250.0
    result = evaluate(NO2_HOUR, Series(hours), 2023)
    assert not result.valid and result.lower_bound
    assert result.exceedances == 19 and result.verdict is Verdict.EXCEEDED
    few = dict(list(hours.items())[:3000])
    assert evaluate(NO2_HOUR, Series({h: 20.0 for h in few}), 2023).verdict is (
        Verdict.CANNOT_BE_JUDGED
    )


# --- thresholds and rounding ----------


def _days_at(values: list[float]) -> Series:
    hours = year_hours(2023, 20.0)
    for i, value in enumerate(values):
        start = datetime(2023, 1, 10, tzinfo=UTC) - H + timedelta(days=i)
        for k in range(24):
            hours[start + k * H] = value
    return Series(hours)


@pytest.mark.parametrize(
    ("value", "over"), [(50.0, 0), (50.4, 0), (50.49, 0), (50.5, 1), (51.0, 1)]
)
def test_exceedances_are_strictly_over_the_limit_after_rounding_half_up(
    value: float, over: int
) -> None:
    assert evaluate(PM10_DAY, _days_at([value]), 2023).exceedances == over


def test_publish_rounds_half_up_to_whole_micrograms() -> None:
    assert [publish(v) for v in (40.5, 40.49, 2.5, 3.5, 0.5, 39.999)] == [41, 40, 3, 4, 1, 40]


@pytest.mark.parametrize(("mean", "verdict"), [(40.4, Verdict.MET), (40.5, Verdict.EXCEEDED)])
def test_an_annual_mean_is_judged_as_published(mean: float, verdict: Verdict) -> None:
    result = evaluate(NO2_YEAR, Series(year_hours(2023, mean)), 2023)
    assert result.value == pytest.approx(mean) and result.published == publish(mean)
    assert result.verdict is verdict


def test_35_days_are_allowed_and_the_36th_exceeds() -> None:
    assert evaluate(PM10_DAY, _days_at([60.0] * 35), 2023).verdict is Verdict.MET
    assert evaluate(PM10_DAY, _days_at([60.0] * 36), 2023).verdict is Verdict.EXCEEDED


def test_the_2030_values() -> None:
    series = _days_at([46.0] * 19)  # over 45 on 19 days, never over 50
    assert evaluate(PM10_DAY, series, 2023).verdict is Verdict.MET
    later = evaluate(PM10_DAY_2030, series, 2023)
    assert later.exceedances == 19 and later.verdict is Verdict.EXCEEDED  # 18 allowed
    assert evaluate(PM10_DAY_2030, _days_at([46.0] * 18), 2023).verdict is Verdict.MET
    mean25 = Series(year_hours(2023, 25.0))
    assert evaluate(NO2_YEAR, mean25, 2023).verdict is Verdict.MET
    assert evaluate(NO2_YEAR_2030, mean25, 2023).verdict is Verdict.EXCEEDED
    hours = year_hours(2023, 20.0)
    for h in list(hours)[:4]:
        hours[h] = 201.0
    assert evaluate(NO2_HOUR, Series(hours), 2023).verdict is Verdict.MET
    assert evaluate(NO2_HOUR_2030, Series(hours), 2023).verdict is Verdict.EXCEEDED  # 3 allowed
    no2_day = standard("no2", Indicator.DAILY_MEAN, RuleSet.EU_2030)
    assert evaluate(no2_day, _days_at([51.0] * 19), 2023).verdict is Verdict.EXCEEDED
    pm25_day = standard("pm25", Indicator.DAILY_MEAN, RuleSet.EU_2030)
    assert evaluate(pm25_day, _days_at([26.0] * 18), 2023).verdict is Verdict.MET


def test_each_year_is_judged_by_the_rules_in_force_and_against_2030() -> None:
    judged_2023 = judged_standards(2023)
    assert {s.rule_set for s, in_force in judged_2023 if in_force} == {RuleSet.EU_2008}
    assert {s.rule_set for s, in_force in judged_2023 if not in_force} == {RuleSet.EU_2030}
    assert {(s.rule_set, f) for s, f in judged_standards(2030)} == {(RuleSet.EU_2030, True)}
    assert all(s.objective in (Objective.LIMIT_VALUE, Objective.TARGET_VALUE)
               for s, _ in judged_2023)  # fmt: skip


# --- ozone ----------


def _ozone_years(years: range, high_days: dict[int, int]) -> dict[datetime, float]:
    hours: dict[datetime, float] = {}
    for year in years:
        hours.update(year_hours(year, 60.0))
        for d in range(high_days.get(year, 0)):
            start = datetime(year, 6, 1, tzinfo=UTC) - H + timedelta(days=d)
            for k in range(24):
                hours[start + k * H] = 125.0  # the next day's first window: 117
    return hours


def test_ozone_days_are_averaged_over_three_years_and_the_single_year_reported() -> None:
    hours = _ozone_years(range(2021, 2024), {2021: 20, 2022: 30, 2023: 28})
    result = evaluate(O3, Series(hours), 2023)
    assert result.single_year == 28 and result.single_year_valid
    assert result.years_averaged == (2021, 2022, 2023)
    assert result.value == pytest.approx(26.0) and result.verdict is Verdict.EXCEEDED
    # With one valid year only (the minimum), the average is that year.
    only = evaluate(O3, Series(_ozone_years(range(2023, 2024), {2023: 24})), 2023)
    assert only.years_averaged == (2023,) and only.verdict is Verdict.MET


def test_an_ozone_year_needs_five_of_six_summer_months() -> None:
    hours = _ozone_years(range(2023, 2024), {2023: 30})
    for h in list(hours):
        if h.astimezone(UTC).month in (4, 5) and h.day > 10:  # April and May lose most days
            del hours[h]
    result = evaluate(O3, Series(hours), 2023)
    assert result.single_year_valid is False and result.verdict is Verdict.CANNOT_BE_JUDGED
    hours = _ozone_years(range(2023, 2024), {2023: 30})
    for h in list(hours):
        if h.month == 4 and h.day > 10:  # only April
            del hours[h]
    assert evaluate(O3, Series(hours), 2023).single_year_valid is True


def test_aot40_sums_the_excess_over_80_from_0800_to_2000_cet_in_may_to_july() -> None:
    window = aot40_hours(2023)
    assert len(window) == 92 * 12
    assert window[0] == utc("2023-05-01T07:00")  # 08:00 CET
    assert window[11] == utc("2023-05-01T18:00")  # the hour 19:00-20:00 CET
    hours = {h: 100.0 for h in window}
    hours[utc("2023-05-01T06:00")] = 500.0  # 07:00 CET: outside the window
    assert aot40(hours, 2023).value == pytest.approx(20.0 * 1104)
    missing = dict(list(hours.items())[:994])  # 90 % (993.6): estimated, still valid
    result = aot40(missing, 2023)
    assert result.valid and result.value == pytest.approx(20.0 * 1104)
    assert not aot40(dict(list(hours.items())[:900]), 2023).valid


def test_aot40_target_needs_three_valid_years_of_five() -> None:
    def years(n: int) -> dict[datetime, float]:
        return {h: 100.0 for y in range(2024 - n, 2024) for h in aot40_hours(y)}

    assert evaluate(AOT40, Series(years(2)), 2023).verdict is Verdict.CANNOT_BE_JUDGED
    result = evaluate(AOT40, Series(years(3)), 2023)
    assert result.verdict is Verdict.EXCEEDED and result.years_averaged == (2021, 2022, 2023)
    assert result.published == 22080


# --- zones ----------


def test_the_worst_valid_site_decides_a_zone_and_the_mean_is_given_beside_it() -> None:
    clean = evaluate(NO2_YEAR, Series(year_hours(2023, 30.0)), 2023)
    dirty = evaluate(NO2_YEAR, Series(year_hours(2023, 44.0)), 2023)
    sparse = evaluate(NO2_YEAR, Series(dict(list(year_hours(2023, 90.0).items())[:100])), 2023)
    result = zone(NO2_YEAR, 2023, [("a", clean), ("b", dirty), ("c", sparse)])
    assert result.verdict is Verdict.EXCEEDED and result.worst_site == "b"
    assert result.mean_of_sites == pytest.approx(37.0)  # the invalid site is left out
    assert (result.sites, result.valid_sites, result.exceeding_sites) == (3, 2, 1)
    assert zone(NO2_YEAR, 2023, [("c", sparse)]).verdict is Verdict.CANNOT_BE_JUDGED
