"""The official air-quality statistics, as pure functions over valid hourly means.

Method: Directive 2008/50/EC Annex VII (ozone: 8-hour means, MDA8, AOT40 and their
validity), Annex XI (hourly/daily/annual values and their data capture) and Annexes
XI/XIV/VII B for the values they are compared with; Directive (EU) 2024/2881 Annex I
for the 2030 values. Days and years are CET (UTC+1, no daylight saving), as the UBA's
annual tabulations and the EEA's e-reporting keep them. Every number (limit values,
allowances, capture thresholds, rounding) is read from `models.catalogue.air_quality`.

Inputs are valid values only: `hours` maps the UTC start of each valid hour to its
mean (an hour that failed its 75 % rule, or was flagged, is simply absent); `days`
maps a CET date to a daily mean where a source reports daily values (a reference
station's PM), in which case they are used as they are and never re-averaged.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from models.catalogue.air_quality import (
    AOT40_END_HOUR_CET,
    AOT40_FIRST_HOUR_CET,
    AOT40_MONTHS,
    AOT40_THRESHOLD,
    EXCEEDANCE_JUDGED_ON,
    MIN_8H_MEANS_FOR_DAILY_MAX,
    MIN_ANNUAL_CAPTURE,
    MIN_AOT40_CAPTURE,
    MIN_HOUR_COVERAGE,
    MIN_HOURS_FOR_8H_MEAN,
    MIN_HOURS_FOR_DAILY_MEAN,
    MIN_MDA8_DAYS_PER_MONTH,
    MIN_VALID_SUMMER_MONTHS,
    OZONE_SUMMER_MONTHS,
    STATISTICS_UTC_OFFSET_HOURS,
    AirQualityStandard,
    Indicator,
)

CET = timezone(timedelta(hours=STATISTICS_UTC_OFFSET_HOURS), "CET")
HOUR = timedelta(hours=1)
RUNNING_HOURS = 8


class Verdict(StrEnum):
    MET = "met"
    EXCEEDED = "exceeded"
    CANNOT_BE_JUDGED = "cannot be judged"


# --- time ------------------------------------------------------------------------------------


def cet_day(hour_start: datetime) -> date:
    """The CET day an hour belongs to: the day its start falls in (00:00-01:00 CET is the
    first hour of a day, 23:00-24:00 CET the last)."""
    return hour_start.astimezone(CET).date()


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The UTC instants a CET year starts and ends at."""
    start = datetime(year, 1, 1, tzinfo=CET).astimezone(UTC)
    return start, datetime(year + 1, 1, 1, tzinfo=CET).astimezone(UTC)


def hours_in_year(year: int) -> int:
    return 8784 if calendar.isleap(year) else 8760


def days_of_year(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range(366 if calendar.isleap(year) else 365)]


# --- rounding --------------------------------------------------------------------------------


def publish(value: float) -> int:
    """The value as the agencies publish it: whole µg/m³, half up (50.5 -> 51, 50.49 -> 50).
    Rounds the decimal the float prints as, so 50.5 is never 50.49999."""
    return int(Decimal(repr(float(value))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def judged(value: float) -> float:
    """The value an exceedance is judged on (`EXCEEDANCE_JUDGED_ON` in the catalogue)."""
    return float(publish(value)) if EXCEEDANCE_JUDGED_ON == "rounded" else value


def exceeds(value: float, threshold: float) -> bool:
    """Strictly greater: a value at the limit (50.0, or 50.4 published as 50) is not over."""
    return judged(value) > threshold


# --- validity of one hour --------------------------------------------------------------------


def expected_readings_per_hour(reporting_interval_s: float) -> float:
    return 3600.0 / reporting_interval_s


def hour_is_valid(readings: int, expected_per_hour: float) -> bool:
    """Annex XI A / VII A: a one-hour value needs 75 % of the hour (45 of 60 minutes), i.e.
    75 % of the readings a pole reporting at its interval sends in an hour."""
    return readings > 0 and readings >= MIN_HOUR_COVERAGE * expected_per_hour - 1e-9


# --- daily means -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayMean:
    value: float | None  # None when not valid
    valid_hours: int  # 24 for a daily value reported as such
    valid: bool


def daily_means(hours: Mapping[datetime, float], year: int) -> dict[date, DayMean]:
    """Every CET day of the year: the mean of its valid hourly means, valid with at least
    MIN_HOURS_FOR_DAILY_MEAN (18) of them."""
    sums: dict[date, list[float]] = {}
    for start, value in hours.items():
        sums.setdefault(cet_day(start), []).append(value)
    result: dict[date, DayMean] = {}
    for day in days_of_year(year):
        values = sums.get(day, [])
        valid = len(values) >= MIN_HOURS_FOR_DAILY_MEAN
        result[day] = DayMean(
            math.fsum(values) / len(values) if valid else None, len(values), valid
        )
    return result


def reported_daily_means(days: Mapping[date, float], year: int) -> dict[date, DayMean]:
    """Daily means a source reports as such (a station's PM): taken as they are."""
    return {
        day: DayMean(days[day], 24, True) if day in days else DayMean(None, 0, False)
        for day in days_of_year(year)
    }


# --- ozone: 8-hour running means ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayMax8h:
    value: float | None  # the highest valid 8-hour mean; None when not valid
    valid_means: int
    valid: bool


def running_8h_means(
    hours: Mapping[datetime, float], start: datetime, end: datetime
) -> dict[datetime, float]:
    """Valid 8-hour running means whose last hour starts in [start, end), keyed by that
    start: the mean of that hour and the 7 before it, valid with MIN_HOURS_FOR_8H_MEAN (6)
    of the 8."""
    means: dict[datetime, float] = {}
    last = start
    while last < end:
        values = [hours[h] for i in range(RUNNING_HOURS) if (h := last - i * HOUR) in hours]
        if len(values) >= MIN_HOURS_FOR_8H_MEAN:
            means[last] = math.fsum(values) / len(values)
        last += HOUR
    return means


def daily_max_8h_means(hours: Mapping[datetime, float], year: int) -> dict[date, DayMax8h]:
    """The maximum daily 8-hour mean of every CET day. A running mean belongs to the day it
    ends in (the day's windows run 17:00-01:00 ... 16:00-24:00); the day's maximum needs
    MIN_8H_MEANS_FOR_DAILY_MAX (18) valid running means."""
    per_day: dict[date, list[float]] = {}
    for last, mean in running_8h_means(hours, *year_bounds(year)).items():
        per_day.setdefault(cet_day(last), []).append(mean)
    result: dict[date, DayMax8h] = {}
    for day in days_of_year(year):
        means = per_day.get(day, [])
        valid = len(means) >= MIN_8H_MEANS_FOR_DAILY_MAX
        result[day] = DayMax8h(max(means) if valid else None, len(means), valid)
    return result


def ozone_year_valid(days: Mapping[date, DayMax8h]) -> tuple[bool, int]:
    """Annex VII A.2: exceedances per year need five of the six summer months with 27
    valid daily maxima each. Returns (valid, months that qualify)."""
    months = sum(
        1
        for month in OZONE_SUMMER_MONTHS
        if sum(1 for d, m in days.items() if d.month == month and m.valid)
        >= MIN_MDA8_DAYS_PER_MONTH
    )
    return months >= MIN_VALID_SUMMER_MONTHS, months


@dataclass(frozen=True, slots=True)
class Aot40:
    value: float  # estimated (scaled) when not every hour was measured
    measured: float  # sum over the hours measured
    measured_hours: int
    possible_hours: int

    @property
    def capture(self) -> float:
        return self.measured_hours / self.possible_hours

    @property
    def valid(self) -> bool:
        return self.capture >= MIN_AOT40_CAPTURE


def aot40_hours(year: int) -> list[datetime]:
    """The UTC starts of the hours AOT40 sums over: 08:00-20:00 CET, 1 May - 31 July."""
    return [
        datetime(d.year, d.month, d.day, h, tzinfo=CET).astimezone(UTC)
        for d in days_of_year(year)
        if d.month in AOT40_MONTHS
        for h in range(AOT40_FIRST_HOUR_CET, AOT40_END_HOUR_CET)
    ]


def aot40(hours: Mapping[datetime, float], year: int) -> Aot40:
    window = aot40_hours(year)
    measured = [hours[h] for h in window if h in hours]
    excess = math.fsum(v - AOT40_THRESHOLD for v in measured if v > AOT40_THRESHOLD)
    scaled = excess * len(window) / len(measured) if measured else 0.0
    return Aot40(scaled, excess, len(measured), len(window))


# --- evaluation against one standard -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    """One pollutant at one site: valid hourly means (UTC hour starts, any years) and, for
    sources that report daily values, valid daily means by CET date."""

    hours: Mapping[datetime, float] = field(default_factory=dict)
    days: Mapping[date, float] | None = None

    def daily(self, year: int) -> dict[date, DayMean]:
        if self.days is not None:
            return reported_daily_means(self.days, year)
        return daily_means(self.hours, year)

    def hours_of(self, year: int) -> dict[datetime, float]:
        start, end = year_bounds(year)
        return {h: v for h, v in self.hours.items() if start <= h < end}


@dataclass(frozen=True, slots=True)
class Statistic:
    standard: AirQualityStandard
    year: int
    # The statistic unrounded (a mean, a count, an AOT40, or a multi-year average) and as
    # published (whole µg/m³ or µg/m³·h; a count as it is).
    value: float | None
    published: float | None
    valid: bool
    capture: float | None  # share of the data its coverage rule asks for that is there
    coverage_rule: str
    verdict: Verdict
    basis: str
    exceedances: int | None = None  # this year's count, for counted standards
    # Averaged standards (ozone): this year alone, and the years the average rests on.
    single_year: float | None = None
    single_year_valid: bool | None = None
    years_averaged: tuple[int, ...] = ()
    # An exceedance count over the allowance from incomplete data: missing data can only
    # add exceedances, so the limit is exceeded whatever the capture.
    lower_bound: bool = False


def evaluate(standard: AirQualityStandard, series: Series, year: int) -> Statistic:
    if standard.indicator is Indicator.ANNUAL_MEAN:
        return _annual_mean(standard, series, year)
    if standard.indicator is Indicator.HOURLY_MEAN:
        return _count(standard, year, _hourly_counts(series, year, standard), "hours")
    if standard.indicator is Indicator.DAILY_MEAN:
        return _count(standard, year, _daily_counts(series, year, standard), "days")
    if standard.indicator is Indicator.MAX_DAILY_8H_MEAN:
        return _ozone_days(standard, series, year)
    if standard.indicator is Indicator.AOT40:
        return _aot40(standard, series, year)
    raise ValueError(f"no official computation for {standard.key}")


def _annual_capture_rule() -> str:
    return f"{MIN_ANNUAL_CAPTURE:.0%} of the year's values (2008/50/EC Annex XI A)"


def _annual_mean(standard: AirQualityStandard, series: Series, year: int) -> Statistic:
    if series.days is not None:
        values = [m.value for m in series.daily(year).values() if m.value is not None]
        possible, unit = len(days_of_year(year)), "daily means"
    else:
        values = list(series.hours_of(year).values())
        possible, unit = hours_in_year(year), "hourly means"
    capture = len(values) / possible
    value = math.fsum(values) / len(values) if values else None
    valid = value is not None and capture >= MIN_ANNUAL_CAPTURE
    if value is None or not valid:
        verdict = Verdict.CANNOT_BE_JUDGED
    else:
        verdict = Verdict.EXCEEDED if exceeds(value, standard.threshold) else Verdict.MET
    return Statistic(
        standard,
        year,
        value,
        None if value is None else publish(value),
        valid,
        capture,
        _annual_capture_rule(),
        verdict,
        f"mean of {len(values)} valid {unit} of {possible}",
    )


@dataclass(frozen=True, slots=True)
class _Counted:
    over: int
    valid_periods: int
    possible: int


def _hourly_counts(series: Series, year: int, standard: AirQualityStandard) -> _Counted:
    hours = series.hours_of(year)
    over = sum(1 for v in hours.values() if exceeds(v, standard.threshold))
    return _Counted(over, len(hours), hours_in_year(year))


def _daily_counts(series: Series, year: int, standard: AirQualityStandard) -> _Counted:
    days = [m.value for m in series.daily(year).values() if m.value is not None]
    over = sum(1 for v in days if exceeds(v, standard.threshold))
    return _Counted(over, len(days), len(days_of_year(year)))


def _count(standard: AirQualityStandard, year: int, counted: _Counted, unit: str) -> Statistic:
    allowed = standard.allowed_exceedances
    assert allowed is not None
    capture = counted.valid_periods / counted.possible
    valid = capture >= MIN_ANNUAL_CAPTURE
    lower_bound = False
    if counted.over > allowed:
        verdict, lower_bound = Verdict.EXCEEDED, not valid
    elif valid:
        verdict = Verdict.MET
    else:
        verdict = Verdict.CANNOT_BE_JUDGED
    return Statistic(
        standard,
        year,
        float(counted.over),
        counted.over,
        valid,
        capture,
        _annual_capture_rule(),
        verdict,
        f"{unit} over {standard.threshold:g} µg/m³ among {counted.valid_periods} valid {unit} "
        f"of {counted.possible}; {allowed} allowed",
        exceedances=counted.over,
        lower_bound=lower_bound,
    )


def _averaged(
    standard: AirQualityStandard,
    year: int,
    per_year: dict[int, tuple[float, bool]],
) -> tuple[float | None, tuple[int, ...]]:
    valid_years = tuple(y for y in sorted(per_year) if per_year[y][1])
    if len(valid_years) < standard.min_valid_years:
        return None, valid_years
    return math.fsum(per_year[y][0] for y in valid_years) / len(valid_years), valid_years


def _window(standard: AirQualityStandard, year: int) -> range:
    return range(year - standard.averaged_over_years + 1, year + 1)


def _ozone_days(standard: AirQualityStandard, series: Series, year: int) -> Statistic:
    allowed = standard.allowed_exceedances
    assert allowed is not None
    per_year: dict[int, tuple[float, bool]] = {}
    capture = 0.0
    months = 0
    for y in _window(standard, year):
        days = daily_max_8h_means(series.hours, y)
        over = sum(
            1 for m in days.values() if m.value is not None and exceeds(m.value, standard.threshold)
        )
        valid, qualifying = ozone_year_valid(days)
        per_year[y] = (float(over), valid)
        if y == year:
            summer = [m for d, m in days.items() if d.month in OZONE_SUMMER_MONTHS]
            capture = sum(1 for m in summer if m.valid) / len(summer)
            months = qualifying
    average, valid_years = _averaged(standard, year, per_year)
    this_year, this_valid = per_year[year]
    if average is None:
        verdict = Verdict.CANNOT_BE_JUDGED
    else:
        verdict = Verdict.EXCEEDED if judged(average) > allowed else Verdict.MET
    rule = (
        f"a year counts with {MIN_MDA8_DAYS_PER_MONTH} valid daily maxima in "
        f"{MIN_VALID_SUMMER_MONTHS} of the 6 months April-September (2008/50/EC Annex VII "
        f"A.2); average over {standard.averaged_over_years} years, at least "
        f"{standard.min_valid_years} valid (Annex VII B.2)"
    )
    return Statistic(
        standard,
        year,
        average,
        None if average is None else publish(average),
        average is not None,
        capture,
        rule,
        verdict,
        f"days with a maximum daily 8-hour mean over {standard.threshold:g} µg/m³, averaged "
        f"over the valid years {', '.join(map(str, valid_years)) or 'none'}; {allowed} allowed; "
        f"this year {months} of 6 summer months qualify",
        exceedances=int(this_year),
        single_year=this_year,
        single_year_valid=this_valid,
        years_averaged=valid_years,
    )


def _aot40(standard: AirQualityStandard, series: Series, year: int) -> Statistic:
    per_year: dict[int, tuple[float, bool]] = {}
    this: Aot40 | None = None
    for y in _window(standard, year):
        result = aot40(series.hours, y)
        per_year[y] = (result.value, result.valid)
        if y == year:
            this = result
    assert this is not None
    average, valid_years = _averaged(standard, year, per_year)
    if average is None:
        verdict = Verdict.CANNOT_BE_JUDGED
    else:
        verdict = Verdict.EXCEEDED if exceeds(average, standard.threshold) else Verdict.MET
    rule = (
        f"{MIN_AOT40_CAPTURE:.0%} of the hourly values 08:00-20:00 CET, May-July (2008/50/EC "
        f"Annex VII A.2), scaled to all hours; average over {standard.averaged_over_years} "
        f"years, at least {standard.min_valid_years} valid (Annex VII B.2)"
    )
    return Statistic(
        standard,
        year,
        average,
        None if average is None else publish(average),
        average is not None,
        this.capture,
        rule,
        verdict,
        f"AOT40 (µg/m³·h), {this.measured_hours} of {this.possible_hours} hours measured this "
        f"year; averaged over the valid years {', '.join(map(str, valid_years)) or 'none'}",
        single_year=this.value,
        single_year_valid=this.valid,
        years_averaged=valid_years,
    )


# --- a zone (district, city) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneStatistic:
    """EU zone practice: the worst valid site decides; the mean of the valid sites is given
    beside it, for information only."""

    standard: AirQualityStandard
    year: int
    verdict: Verdict
    worst_site: str | None
    worst_value: float | None
    worst_published: float | None
    mean_of_sites: float | None
    sites: int
    valid_sites: int
    exceeding_sites: int


def zone(
    standard: AirQualityStandard, year: int, by_site: Iterable[tuple[str, Statistic]]
) -> ZoneStatistic:
    rows = list(by_site)
    valid = [(site, s) for site, s in rows if s.valid and s.value is not None]
    exceeding = [(site, s) for site, s in rows if s.verdict is Verdict.EXCEEDED]
    deciding = exceeding or valid
    worst = max(deciding, key=lambda r: (r[1].value or 0.0, r[0]), default=None)
    if exceeding:
        verdict = Verdict.EXCEEDED
    elif valid:
        verdict = Verdict.MET
    else:
        verdict = Verdict.CANNOT_BE_JUDGED
    values = [s.value for _, s in valid if s.value is not None]
    return ZoneStatistic(
        standard,
        year,
        verdict,
        worst[0] if worst else None,
        worst[1].value if worst else None,
        worst[1].published if worst else None,
        math.fsum(values) / len(values) if values else None,
        len(rows),
        len(valid),
        len(exceeding),
    )
