"""Loading sites' hourly means from storage and computing the official statistics.

A site is a pole (indicative, low-cost sensors) or a reference station (fixed, as its
agency publishes it). For a pole: the hourly rollup, an hour valid with 75 % of the
readings its reporting interval implies, quality-flagged hours excluded, and, when asked
for `corrected`, its calibration applied to each hourly mean. For a station: the values
it publishes, each used for what its averaging period says (never re-averaged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg

from airquality.calibration import CalibrationError, Correction, Fit, Pair, fit
from airquality.colocation import Comparison, compare, distance_m
from airquality.official import (
    CET,
    HOUR,
    Series,
    Statistic,
    cet_day,
    evaluate,
    expected_readings_per_hour,
    hour_is_valid,
    year_bounds,
)
from airquality.quality import HourStat, flag_hours
from models.catalogue.air_quality import (
    POLLUTANTS,
    AirQualityStandard,
    AveragingPeriod,
    Indicator,
    Objective,
    QualityFlag,
    RuleSet,
    rule_set_in_force,
    standards,
)
from storage.queries import aq_official as q


class Mode(StrEnum):
    RAW = "raw"
    CORRECTED = "corrected"


class SiteKind(StrEnum):
    POLE = "pole"
    REFERENCE = "reference"


@dataclass(slots=True)
class Calibration:
    version: int
    correction: Correction
    station_id: str | None
    fitted_from: date
    fitted_to: date


@dataclass(slots=True)
class SiteData:
    kind: SiteKind
    site_id: str
    district: str | None
    series: dict[str, Series] = field(default_factory=dict)
    # pole only: flagged hours (also those excluded) and the calibration used per metric
    flags: dict[str, dict[datetime, set[QualityFlag]]] = field(default_factory=dict)
    excluded: dict[str, set[datetime]] = field(default_factory=dict)
    calibrations: dict[str, Calibration | None] = field(default_factory=dict)
    averaging: dict[str, str] = field(default_factory=dict)
    humidity: dict[datetime, float] = field(default_factory=dict)  # pole: hourly mean RH


# --- poles ---------------------------------------------------------------------------------------


def latest_calibrations(
    conn: psycopg.Connection[Any], pole_ids: Sequence[str], version: int | None = None
) -> dict[tuple[str, str], Calibration]:
    """The calibration applied per (pole, metric): the newest, or the given version."""
    chosen: dict[tuple[str, str], Calibration] = {}
    for row in q.calibrations(conn, pole_ids):
        if version is not None and row["version"] != version:
            continue
        chosen[(row["pole_id"], row["metric"])] = Calibration(
            row["version"],
            Correction(row["intercept"], row["slope"], row["humidity_coefficient"]),
            row["station_id"],
            row["fitted_from"],
            row["fitted_to"],
        )
    return chosen


def load_poles(
    conn: psycopg.Connection[Any],
    poles: Sequence[dict[str, Any]],
    start: datetime,
    end: datetime,
    *,
    mode: Mode,
    calibration_version: int | None = None,
    metrics: Sequence[str] = POLLUTANTS,
) -> dict[str, SiteData]:
    ids = [p["pole_id"] for p in poles]
    how = q.reporting(conn, ids)
    rollup = q.pole_hours(conn, ids, start, end, {p: r.stamped_at_end for p, r in how.items()})
    cals = latest_calibrations(conn, ids, calibration_version) if mode is Mode.CORRECTED else {}
    result: dict[str, SiteData] = {}
    for pole in poles:
        pole_id = pole["pole_id"]
        expected = expected_readings_per_hour(how[pole_id].interval_s)
        site = SiteData(SiteKind.POLE, pole_id, pole.get("district"))
        humidity: dict[datetime, float] = {}
        stats: dict[str, dict[datetime, HourStat]] = {m: {} for m in metrics}
        for hour in rollup[pole_id]:
            rh = hour.metrics.get(q.HUMIDITY)
            if rh is not None:
                humidity[hour.start] = rh[1] / rh[0]
            for metric in metrics:
                found = hour.metrics.get(metric)
                if found is not None and hour_is_valid(found[0], expected):
                    count, total, low, high = found
                    stats[metric][hour.start] = HourStat(total / count, count, low, high)
        site.humidity = humidity
        for metric in metrics:
            hours = stats[metric]
            if not hours:
                continue
            flags = flag_hours(metric, hours, humidity)
            calibration = cals.get((pole_id, metric))
            values: dict[datetime, float] = {}
            for start_at, stat in hours.items():
                if start_at in flags:
                    continue
                if calibration is None:
                    values[start_at] = stat.mean
                elif (
                    v := calibration.correction.apply(stat.mean, humidity.get(start_at))
                ) is not None:
                    values[start_at] = v
            site.series[metric] = Series(values)
            site.flags[metric] = flags
            site.excluded[metric] = set(flags)
            site.averaging[metric] = AveragingPeriod.HOUR.value
            if mode is Mode.CORRECTED:
                site.calibrations[metric] = calibration
        result[pole_id] = site
    return result


# --- reference stations --------------------------------------------------------------------------


def load_stations(
    conn: psycopg.Connection[Any],
    stations: Sequence[dict[str, Any]],
    start: datetime,
    end: datetime,
) -> dict[str, SiteData]:
    ids = [s["station_id"] for s in stations]
    hours: dict[tuple[str, str], dict[datetime, float]] = {}
    days: dict[tuple[str, str], dict[date, float]] = {}
    periods: dict[tuple[str, str], set[str]] = {}
    for sid, metric, averaging, period_start, period_end, value in q.reference_values(
        conn, ids, start, end + timedelta(days=1)
    ):
        key = (sid, metric)
        periods.setdefault(key, set()).add(averaging)
        if averaging == AveragingPeriod.HOUR:
            if start <= period_start < end:
                hours.setdefault(key, {})[period_start] = value
        elif averaging == AveragingPeriod.DAY:
            days.setdefault(key, {})[cet_day(period_start)] = value
        elif averaging == AveragingPeriod.DAY_HOURLY_FLOATING:
            # the running mean written at 24:00 CET covers exactly that CET day
            end_cet = period_end.astimezone(CET)
            if end_cet.hour == 0 and end_cet.minute == 0:
                days.setdefault(key, {})[cet_day(period_end - HOUR)] = value
    result: dict[str, SiteData] = {}
    for station in stations:
        sid = station["station_id"]
        site = SiteData(SiteKind.REFERENCE, sid, station.get("district"))
        for metric in POLLUTANTS:
            key = (sid, metric)
            if key in days:
                site.series[metric] = Series(hours.get(key, {}), days[key])
            elif key in hours:
                site.series[metric] = Series(hours[key])
            else:
                continue
            site.averaging[metric] = ", ".join(sorted(periods[key]))
        result[sid] = site
    return result


# --- the statistics ----------------------------------------------------------------------------


def judged_standards(year: int) -> list[tuple[AirQualityStandard, bool]]:
    """The standards a year is judged against: those in force for it, then the 2030 values
    as the target (when not already in force). (standard, in_force)."""
    in_force = rule_set_in_force(year)
    sets = [in_force] if in_force is RuleSet.EU_2030 else [in_force, RuleSet.EU_2030]
    return [
        (s, rule_set is in_force)
        for rule_set in sets
        for s in standards(rule_set=rule_set)
        if s.objective in (Objective.LIMIT_VALUE, Objective.TARGET_VALUE)
    ]


def load_window(year: int) -> tuple[datetime, datetime, datetime]:
    """(start of the ozone history, start of the year's data, end): the 8-hour means of
    1 January reach 7 hours back; the ozone averages reach 2 (MDA8) and 4 (AOT40) years."""
    longest = max(s.averaged_over_years for s, _ in judged_standards(year))
    history = year_bounds(year - longest + 1)[0] - 8 * HOUR
    start, end = year_bounds(year)
    return history, start - 8 * HOUR, end


def load_sites(
    conn: psycopg.Connection[Any],
    year: int,
    *,
    poles: Sequence[dict[str, Any]] = (),
    stations: Sequence[dict[str, Any]] = (),
    mode: Mode = Mode.RAW,
    calibration_version: int | None = None,
) -> list[SiteData]:
    history, start, end = load_window(year)
    sites: list[SiteData] = []
    if poles:
        recent = load_poles(
            conn, poles, start, end, mode=mode, calibration_version=calibration_version
        )
        older = load_poles(
            conn,
            poles,
            history,
            start,
            mode=mode,
            calibration_version=calibration_version,
            metrics=("o3",),
        )
        for pole_id, site in recent.items():
            earlier = older[pole_id].series.get("o3")
            if earlier is not None and "o3" in site.series:
                site.series["o3"] = Series({**earlier.hours, **site.series["o3"].hours})
            sites.append(site)
    if stations:
        sites.extend(load_stations(conn, stations, history, end).values())
    return sites


@dataclass(frozen=True, slots=True)
class SiteStatistic:
    statistic: Statistic
    in_force: bool
    excluded_flagged_hours: int
    calibration: Calibration | None


def site_statistics(site: SiteData, year: int) -> list[SiteStatistic]:
    start, end = year_bounds(year)
    results: list[SiteStatistic] = []
    for standard, in_force in judged_standards(year):
        series = site.series.get(standard.pollutant)
        if series is None or not _has_data(series, year):
            continue
        excluded = sum(1 for h in site.excluded.get(standard.pollutant, ()) if start <= h < end)
        results.append(
            SiteStatistic(
                evaluate(standard, series, year),
                in_force,
                excluded,
                site.calibrations.get(standard.pollutant),
            )
        )
    return results


def _has_data(series: Series, year: int) -> bool:
    start, end = year_bounds(year)
    if series.days is not None and any(d.year == year for d in series.days):
        return True
    return any(start <= h < end for h in series.hours)


def is_counted(standard: AirQualityStandard) -> bool:
    return standard.allowed_exceedances is not None and standard.indicator in (
        Indicator.HOURLY_MEAN,
        Indicator.DAILY_MEAN,
        Indicator.MAX_DAILY_8H_MEAN,
    )


def daily_means_of(site: SiteData, metric: str, first: date, last: date) -> dict[date, float]:
    """Valid CET daily means of a site's metric between two days (co-location)."""
    series = site.series.get(metric)
    if series is None:
        return {}
    result: dict[date, float] = {}
    for year in range(first.year, last.year + 1):
        for day, mean in series.daily(year).items():
            if first <= day <= last and mean.value is not None:
                result[day] = mean.value
    return result


# --- co-location and calibration ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColocatedPair:
    pole: dict[str, Any]
    station: dict[str, Any]
    distance_m: float


def colocated_pairs(
    conn: psycopg.Connection[Any], max_distance_m: float, station_id: str | None = None
) -> list[ColocatedPair]:
    pairs: list[ColocatedPair] = []
    for station in q.stations(conn, station_id=station_id):
        lat, lon = station["latitude"], station["longitude"]
        if lat is None or lon is None:
            continue
        degrees = max_distance_m / 111_000.0 + 1e-6
        for pole in q.nearby_poles(conn, lat, lon, degrees):
            if pole["latitude"] is None or pole["longitude"] is None:
                continue
            d = distance_m(lat, lon, pole["latitude"], pole["longitude"])
            if d <= max_distance_m:
                pairs.append(ColocatedPair(pole, station, d))
    return pairs


def period_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=CET).astimezone(UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=CET).astimezone(UTC)
    return start, end + timedelta(days=1)


def humidity_daily_means(site: SiteData, days: Sequence[date]) -> dict[date, float]:
    per_day: dict[date, list[float]] = {}
    for hour, value in site.humidity.items():
        per_day.setdefault(cet_day(hour), []).append(value)
    return {d: sum(v) / len(v) for d in days if (v := per_day.get(d))}


@dataclass(frozen=True, slots=True)
class ColocationResult:
    pair: ColocatedPair
    metric: str
    comparison: Comparison
    calibration: Calibration | None


def colocation(
    conn: psycopg.Connection[Any],
    first: date,
    last: date,
    max_distance_m: float,
    *,
    mode: Mode,
    metrics: Sequence[str] = ("pm25", "pm10", "no2"),
) -> list[ColocationResult]:
    start, end = period_bounds(first, last)
    results: list[ColocationResult] = []
    days = (last - first).days + 1
    for pair in colocated_pairs(conn, max_distance_m):
        pole = load_poles(conn, [pair.pole], start, end, mode=mode)[pair.pole["pole_id"]]
        station = load_stations(conn, [pair.station], start, end)[pair.station["station_id"]]
        for metric in metrics:
            if metric not in pole.series or metric not in station.series:
                continue
            results.append(
                ColocationResult(
                    pair,
                    metric,
                    compare(
                        daily_means_of(pole, metric, first, last),
                        daily_means_of(station, metric, first, last),
                        days,
                    ),
                    pole.calibrations.get(metric),
                )
            )
    return results


def fit_calibration(
    conn: psycopg.Connection[Any],
    *,
    pole_id: str,
    metric: str,
    station_id: str,
    first: date,
    last: date,
    humidity: bool,
) -> tuple[int, Fit]:
    """Fit a correction of the pole's raw daily means to the station's and store it as
    the pole's next calibration version for the metric."""
    start, end = period_bounds(first, last)
    poles = q.env_poles(conn, district=None, pole_id=pole_id, after=None, limit=1)
    found = q.stations(conn, station_id=station_id)
    if not poles or not found:
        raise CalibrationError(f"no pole {pole_id!r} or no station {station_id!r}")
    pole = load_poles(conn, poles, start, end, mode=Mode.RAW)[pole_id]
    station = load_stations(conn, found, start, end)[station_id]
    raw = daily_means_of(pole, metric, first, last)
    ref = daily_means_of(station, metric, first, last)
    rh = humidity_daily_means(pole, sorted(raw))
    pairs = [Pair(raw[d], ref[d], rh.get(d)) for d in sorted(set(raw) & set(ref))]
    result = fit(pairs, humidity=humidity)
    version = q.add_calibration(
        conn,
        {
            "pole_id": pole_id,
            "metric": metric,
            "station_id": station_id,
            "intercept": result.correction.intercept,
            "slope": result.correction.slope,
            "humidity_coefficient": result.correction.humidity_coefficient,
            "fitted_from": first,
            "fitted_to": last,
            "days": result.days,
            "r2": result.r2,
            "rmse": result.rmse,
        },
    )
    return version, result


@dataclass(frozen=True, slots=True)
class HourDetail:
    start: datetime
    raw: float | None
    value: float | None
    readings: int
    valid: bool
    flags: tuple[QualityFlag, ...]


@dataclass(frozen=True, slots=True)
class PoleSeries:
    interval_s: int
    calibration: Calibration | None
    hours: list[HourDetail]


def pole_series(
    conn: psycopg.Connection[Any],
    pole: dict[str, Any],
    metric: str,
    start: datetime,
    end: datetime,
    *,
    mode: Mode,
) -> PoleSeries:
    """Every hour of a pole's metric with its raw mean, validity, flags and the value the
    statistics use (corrected when asked; None when excluded)."""
    pole_id = pole["pole_id"]
    how = q.reporting(conn, [pole_id])[pole_id]
    site = load_poles(conn, [pole], start, end, mode=mode, metrics=(metric,))[pole_id]
    rollup = q.pole_hours(conn, [pole_id], start, end, {pole_id: how.stamped_at_end})[pole_id]
    expected = expected_readings_per_hour(how.interval_s)
    series = site.series.get(metric)
    flags = site.flags.get(metric, {})
    hours = []
    for hour in rollup:
        found = hour.metrics.get(metric)
        if found is None:
            continue
        count, total = found[0], found[1]
        hours.append(
            HourDetail(
                hour.start,
                total / count,
                series.hours.get(hour.start) if series else None,
                count,
                hour_is_valid(count, expected),
                tuple(sorted(flags.get(hour.start, ()))),
            )
        )
    return PoleSeries(how.interval_s, site.calibrations.get(metric), hours)


def refresh_statistics(conn: psycopg.Connection[Any], year: int, max_sites: int = 10_000) -> int:
    """Recompute the year's statistics of every pole (raw) and station into aq_statistics,
    the table the Environment dashboard reads: the same computation as the API's."""
    poles = q.env_poles(conn, district=None, pole_id=None, after=None, limit=max_sites)
    stations = q.stations(conn)
    rows: list[dict[str, Any]] = []
    for site in load_sites(conn, year, poles=poles, stations=stations, mode=Mode.RAW):
        for item in site_statistics(site, year):
            s, std = item.statistic, item.statistic.standard
            rows.append(
                {
                    "site_kind": site.kind.value,
                    "site_id": site.site_id,
                    "district": site.district,
                    "year": year,
                    "statistic": std.key,
                    "rule_set": std.rule_set.value,
                    "in_force": item.in_force,
                    "threshold": std.threshold,
                    "allowed": std.allowed_exceedances,
                    "value": s.value,
                    "published": s.published,
                    "exceedances": s.exceedances,
                    "valid": s.valid,
                    "capture": s.capture,
                    "verdict": s.verdict.value,
                    "correction": Mode.RAW.value,
                }
            )
    return q.replace_statistics(conn, year, rows)
