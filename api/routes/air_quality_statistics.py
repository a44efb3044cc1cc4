"""Official air-quality statistics (per site, district, city), reference stations, and the
trust in low-cost sensors: co-location, calibrations, hourly series with quality flags."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from airquality import service
from airquality.official import CET, ZoneStatistic, zone
from airquality.service import Calibration, Mode, SiteData, SiteKind, SiteStatistic
from api.aq_schemas import (
    CalibrationList,
    CalibrationOut,
    ColocationList,
    ComparisonOut,
    Conventions,
    DataQualityObjectiveOut,
    FlagList,
    FlagOut,
    FlagRuleOut,
    HourlySeries,
    HourOut,
    Site,
    SiteStatistics,
    StationList,
    StationOut,
    StatisticOut,
    StatisticsList,
    Zone,
    ZoneList,
    ZoneStatisticOut,
)
from api.cursors import decode_cursor
from api.deps import Db, State, page_size
from api.params import CursorQuery, DistrictQuery, LimitQuery, PoleQuery
from api.problems import COMMON_PROBLEMS, bad_parameter, not_found
from api.routes.common import next_link, respond
from models.catalogue.air_quality import (
    DATA_QUALITY_OBJECTIVES,
    EXCEEDANCE_JUDGED_ON,
    FLAG_EXCLUSION_RULE,
    INDICATIVE_NOTICE,
    MIN_8H_MEANS_FOR_DAILY_MAX,
    MIN_ANNUAL_CAPTURE,
    MIN_HOUR_COVERAGE,
    MIN_HOURS_FOR_8H_MEAN,
    MIN_HOURS_FOR_DAILY_MEAN,
    POLLUTANTS,
    QUALITY_RULES,
    REFERENCE_NOTICE,
    ROUNDING_RULE,
    STATISTICS_TIME_CONVENTION,
    Indicator,
)
from models.catalogue.families import ENV
from storage.queries import aq_official as q

router = APIRouter(prefix="/v1/air-quality", tags=["air quality"])

METHOD = (
    "Directive 2008/50/EC Annexes VII, XI, XIV and Directive (EU) 2024/2881 Annex I, as the "
    "German Environment Agency (UBA) tabulates them in its annual evaluation 'Luftqualität "
    "<year>' (CET days and years): hourly means -> daily means, 8-hour running means, "
    "maximum daily 8-hour means, annual means and exceedance counts."
)
MAX_SITES = 1000
MAX_SERIES_DAYS = 366


class Correction(StrEnum):
    RAW = "raw"
    CORRECTED = "corrected"


class SiteKindQuery(StrEnum):
    POLES = "poles"
    REFERENCE = "reference"


class Pollutant(StrEnum):
    PM25 = "pm25"
    PM10 = "pm10"
    NO2 = "no2"
    O3 = "o3"


assert {p.value for p in Pollutant} == set(POLLUTANTS)

YearQuery = Annotated[
    int | None, Query(ge=2000, le=2099, description="Calendar year in CET (default: this one)")
]
CorrectionQuery = Annotated[
    Correction,
    Query(
        description="raw: as the poles sent them; corrected: each pole's calibration "
        "applied at read time (raw values are never changed)"
    ),
]
StationQuery = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Station code")
]


def conventions() -> Conventions:
    return Conventions(
        time_convention=STATISTICS_TIME_CONVENTION,
        rounding=ROUNDING_RULE,
        exceedances_judged_on=(
            f"{EXCEEDANCE_JUDGED_ON} values: a value is over a limit when, {ROUNDING_RULE}, it "
            "is greater than the limit (50.4 is published as 50, not over 50)"
        ),
        coverage_rules={
            "hour": f"{MIN_HOUR_COVERAGE:.0%} of the readings the pole's reporting interval "
            "implies (45 of 60 minutes)",
            "day": f"{MIN_HOURS_FOR_DAILY_MEAN} valid hourly means",
            "8-hour mean": f"{MIN_HOURS_FOR_8H_MEAN} of 8 hours; belongs to the day it ends in",
            "max daily 8-hour mean": f"{MIN_8H_MEANS_FOR_DAILY_MAX} of the day's 24 running means",
            "year": f"{MIN_ANNUAL_CAPTURE:.0%} of the year's hourly (or daily) values; ozone: "
            "see each statistic's coverage_rule",
        },
        flag_rule=FLAG_EXCLUSION_RULE,
        method=METHOD,
    )


def _dqos() -> list[DataQualityObjectiveOut]:
    return [
        DataQualityObjectiveOut(
            pollutant=d.pollutant,
            indicative_uncertainty=d.indicative_uncertainty,
            fixed_uncertainty=d.fixed_uncertainty,
            min_data_capture=d.min_data_capture,
            citation=d.citation,
        )
        for d in DATA_QUALITY_OBJECTIVES.values()
    ]


def _site(site: SiteData) -> Site:
    if site.kind is SiteKind.POLE:
        return Site(
            kind="pole",
            id=site.site_id,
            district=site.district,
            measurement="indicative",
            notice=INDICATIVE_NOTICE,
            data_quality_objectives=_dqos(),
        )
    return Site(
        kind="reference",
        id=site.site_id,
        district=site.district,
        measurement="reference",
        notice=REFERENCE_NOTICE,
    )


def _calibration(pole_id: str, metric: str, c: Calibration | None) -> CalibrationOut | None:
    if c is None:
        return None
    return CalibrationOut(
        pole_id=pole_id,
        metric=metric,
        version=c.version,
        intercept=c.correction.intercept,
        slope=c.correction.slope,
        humidity_coefficient=c.correction.humidity_coefficient,
        station_id=c.station_id,
        fitted_from=c.fitted_from,
        fitted_to=c.fitted_to,
    )


def _statistic(site: SiteData, item: SiteStatistic) -> StatisticOut:
    s, std = item.statistic, item.statistic.standard
    symbol = ENV.field(std.pollutant).unit
    assert symbol is not None
    unit = f"{symbol.symbol}·h" if std.indicator is Indicator.AOT40 else symbol.symbol
    return StatisticOut(
        key=std.key,
        pollutant=std.pollutant,
        indicator=std.indicator.value,
        objective=std.objective.value,
        rule_set=std.rule_set.value,
        in_force=item.in_force,
        threshold=std.threshold,
        unit=unit,
        allowed_exceedances=std.allowed_exceedances,
        averaged_over_years=std.averaged_over_years,
        citation=std.citation,
        value=s.value,
        published=s.published,
        valid=s.valid,
        capture=s.capture,
        coverage_rule=s.coverage_rule,
        verdict=s.verdict.value,
        basis=s.basis,
        exceedances=s.exceedances,
        single_year=s.single_year,
        single_year_valid=s.single_year_valid,
        years_averaged=list(s.years_averaged),
        lower_bound=s.lower_bound,
        averaging=site.averaging.get(std.pollutant),
        excluded_flagged_hours=item.excluded_flagged_hours,
        calibration=_calibration(site.site_id, std.pollutant, item.calibration),
    )


def _year(year: int | None) -> int:
    return year or datetime.now(CET).year


@router.get(
    "/statistics",
    response_model=StatisticsList,
    responses=COMMON_PROBLEMS,
    description="Per site and year, each pollutant's statistics as Directive 2008/50/EC and "
    "(EU) 2024/2881 define them, against the standards in force for the year and against the "
    "2030 values; CET days; coverage rules applied (valid: false when they fail). Poles are "
    "indicative measurements; `kind=reference` gives the agencies' stations.",
)
def statistics(
    *,
    request: Request,
    state: State,
    db: Db,
    year: YearQuery = None,
    pole_id: PoleQuery = None,
    district: DistrictQuery = None,
    kind: Annotated[SiteKindQuery, Query(description="poles or reference stations")] = (
        SiteKindQuery.POLES
    ),
    station: StationQuery = None,
    correction: CorrectionQuery = Correction.RAW,
    calibration_version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    chosen = _year(year)
    mode = Mode(correction.value)
    if station is not None:
        kind = SiteKindQuery.REFERENCE
    size = min(page_size(state, limit), 200)
    after = decode_cursor(cursor, "aq-statistics", (str,))[0] if cursor else None
    rows: list[dict[str, Any]] = []
    with db.connection() as conn:
        if kind is SiteKindQuery.REFERENCE:
            stations = q.stations(conn, district=district, station_id=station)
            if station is not None and not stations:
                raise not_found(f"no reference station {station}")
            sites = service.load_sites(conn, chosen, stations=stations)
        else:
            rows = q.env_poles(conn, district=district, pole_id=pole_id, after=after, limit=size)
            if pole_id is not None and not rows:
                raise not_found(f"no pole {pole_id} with air-quality data")
            sites = service.load_sites(
                conn, chosen, poles=rows, mode=mode, calibration_version=calibration_version
            )
    items = [
        SiteStatistics(
            site=_site(site),
            statistics=[_statistic(site, s) for s in service.site_statistics(site, chosen)],
        )
        for site in sites
    ]
    key = [rows[-1]["pole_id"]] if rows else None
    return respond(
        request,
        state,
        StatisticsList(
            year=chosen,
            correction=mode.value,
            conventions=conventions(),
            items=items,
            next=next_link(request, rows, size, "aq-statistics", key) if rows else None,
            license=state.license,
        ),
    )


def _zones(
    sites: list[SiteData], year: int, by_district: bool
) -> list[tuple[str, SiteKind, list[ZoneStatistic]]]:
    per_site = {(s.kind, s.site_id): service.site_statistics(s, year) for s in sites}
    groups: dict[tuple[str, SiteKind], list[SiteData]] = {}
    for site in sites:
        name = (site.district or "(no district)") if by_district else "city"
        groups.setdefault((name, site.kind), []).append(site)
    result = []
    for (name, kind), members in sorted(groups.items()):
        judged = service.judged_standards(year)
        stats = []
        for standard, _ in judged:
            rows = [
                (m.site_id, item.statistic)
                for m in members
                for item in per_site[(m.kind, m.site_id)]
                if item.statistic.standard is standard
            ]
            if rows:
                stats.append(zone(standard, year, rows))
        result.append((name, kind, stats))
    return result


def _zone_list(
    request: Request,
    state: State,
    db: Db,
    *,
    year: int | None,
    correction: Correction,
    by_district: bool,
) -> Response:
    chosen = _year(year)
    mode = Mode(correction.value)
    with db.connection() as conn:
        poles = q.env_poles(conn, district=None, pole_id=None, after=None, limit=MAX_SITES)
        stations = q.stations(conn)
        sites = service.load_sites(conn, chosen, poles=poles, stations=stations, mode=mode)
    in_force = {s.key + s.rule_set.value: f for s, f in service.judged_standards(chosen)}
    items = [
        Zone(
            zone=name,
            measurement="indicative" if kind is SiteKind.POLE else "reference",
            notice=INDICATIVE_NOTICE if kind is SiteKind.POLE else REFERENCE_NOTICE,
            statistics=[
                ZoneStatisticOut(
                    key=z.standard.key,
                    rule_set=z.standard.rule_set.value,
                    in_force=in_force[z.standard.key + z.standard.rule_set.value],
                    threshold=z.standard.threshold,
                    allowed_exceedances=z.standard.allowed_exceedances,
                    verdict=z.verdict.value,
                    worst_site=z.worst_site,
                    worst_value=z.worst_value,
                    worst_published=z.worst_published,
                    mean_of_sites=z.mean_of_sites,
                    sites=z.sites,
                    valid_sites=z.valid_sites,
                    exceeding_sites=z.exceeding_sites,
                )
                for z in stats
            ],
        )
        for name, kind, stats in _zones(sites, chosen, by_district)
    ]
    return respond(
        request,
        state,
        ZoneList(
            year=chosen,
            correction=mode.value,
            conventions=conventions(),
            items=items,
            license=state.license,
        ),
    )


@router.get(
    "/statistics/districts",
    response_model=ZoneList,
    responses=COMMON_PROBLEMS,
    description="Per district, as EU zones are judged: the worst valid site decides; the mean "
    "of the valid sites is given beside it, labelled. Poles and reference stations apart.",
)
def district_statistics(
    *,
    request: Request,
    state: State,
    db: Db,
    year: YearQuery = None,
    correction: CorrectionQuery = Correction.RAW,
) -> Response:
    return _zone_list(request, state, db, year=year, correction=correction, by_district=True)


@router.get(
    "/statistics/city",
    response_model=ZoneList,
    responses=COMMON_PROBLEMS,
    description="The whole city as one zone: the worst valid site decides.",
)
def city_statistics(
    *,
    request: Request,
    state: State,
    db: Db,
    year: YearQuery = None,
    correction: CorrectionQuery = Correction.RAW,
) -> Response:
    return _zone_list(request, state, db, year=year, correction=correction, by_district=False)


@router.get(
    "/stations",
    response_model=StationList,
    responses=COMMON_PROBLEMS,
    description="Reference stations imported with `smartpole stations import`.",
)
def stations(*, request: Request, state: State, db: Db, district: DistrictQuery = None) -> Response:
    with db.connection() as conn:
        rows = q.stations(conn, district=district)
    return respond(
        request,
        state,
        StationList(
            notice=REFERENCE_NOTICE,
            items=[StationOut(**r) for r in rows],
            license=state.license,
        ),
    )


def _days(first: date | None, last: date | None) -> tuple[date, date]:
    today = datetime.now(CET).date()
    for name, day in (("from", first), ("to", last)):
        if day is not None and not date(2000, 1, 1) <= day <= date(2099, 12, 31):
            raise bad_parameter(name, "must be a day in 2000-2099")
    last = last or today
    first = first or last - timedelta(days=29)
    if first > last:
        raise bad_parameter("from", "must not be after 'to'")
    if (last - first).days + 1 > MAX_SERIES_DAYS:
        raise bad_parameter("from", f"at most {MAX_SERIES_DAYS} days")
    return first, last


FromDay = Annotated[date | None, Query(alias="from", description="First CET day")]
ToDay = Annotated[date | None, Query(alias="to", description="Last CET day (included)")]


@router.get(
    "/colocation",
    response_model=ColocationList,
    responses=COMMON_PROBLEMS,
    description="Poles within max_distance_m of a reference station, compared day by day "
    "(CET daily means, each side's coverage rules): bias, RMSE, R², data capture.",
)
def colocation(
    *,
    request: Request,
    state: State,
    db: Db,
    first_day: FromDay = None,
    last_day: ToDay = None,
    max_distance_m: Annotated[float | None, Query(gt=0, le=10_000)] = None,
    correction: CorrectionQuery = Correction.RAW,
) -> Response:
    first, last = _days(first_day, last_day)
    distance = max_distance_m or state.settings.api_colocation_max_distance_m
    mode = Mode(correction.value)
    with db.connection() as conn:
        results = service.colocation(conn, first, last, distance, mode=mode)
    items = [
        ComparisonOut(
            pole_id=r.pair.pole["pole_id"],
            station_id=r.pair.station["station_id"],
            distance_m=round(r.pair.distance_m, 1),
            metric=r.metric,
            days_compared=r.comparison.days_compared,
            days_in_period=r.comparison.days_in_period,
            capture=r.comparison.capture,
            bias=r.comparison.bias,
            rmse=r.comparison.rmse,
            r2=r.comparison.r2,
            pole_mean=r.comparison.pole_mean,
            station_mean=r.comparison.station_mean,
            calibration_version=r.calibration.version if r.calibration else None,
        )
        for r in results
    ]
    return respond(
        request,
        state,
        ColocationList(
            first_day=first,
            last_day=last,
            max_distance_m=distance,
            correction=mode.value,
            time_convention=STATISTICS_TIME_CONVENTION,
            notice=INDICATIVE_NOTICE,
            items=items,
            license=state.license,
        ),
    )


@router.get(
    "/calibrations",
    response_model=CalibrationList,
    responses=COMMON_PROBLEMS,
    description="Every calibration version of every pole (or one pole).",
)
def calibrations(*, request: Request, state: State, db: Db, pole_id: PoleQuery = None) -> Response:
    with db.connection() as conn:
        rows = q.calibrations(conn, None if pole_id is None else [pole_id])
    return respond(
        request,
        state,
        CalibrationList(
            items=[
                CalibrationOut(**{k: v for k, v in r.items() if k != "created_at"}) for r in rows
            ],
            license=state.license,
        ),
    )


def _range(first: date | None, last: date | None) -> tuple[datetime, datetime]:
    a, b = _days(first, last)
    return service.period_bounds(a, b)


@router.get(
    "/hourly",
    response_model=HourlySeries,
    responses=COMMON_PROBLEMS,
    description="A pole's hourly means of one pollutant, raw or corrected, with validity "
    "and quality flags: what the statistics use.",
)
def hourly(
    *,
    request: Request,
    state: State,
    db: Db,
    pole_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")],
    metric: Pollutant,
    first_day: FromDay = None,
    last_day: ToDay = None,
    correction: CorrectionQuery = Correction.RAW,
) -> Response:
    start, end = _range(first_day, last_day)
    with db.connection() as conn:
        poles = q.env_poles(conn, district=None, pole_id=pole_id, after=None, limit=1)
        if not poles:
            raise not_found(f"no pole {pole_id} with air-quality data")
        found = service.pole_series(
            conn, poles[0], metric.value, start, end, mode=Mode(correction.value)
        )
    return respond(
        request,
        state,
        HourlySeries(
            pole_id=pole_id,
            metric=metric.value,
            correction=correction.value,
            calibration_version=found.calibration.version if found.calibration else None,
            reporting_interval_s=found.interval_s,
            notice=INDICATIVE_NOTICE,
            flag_rule=FLAG_EXCLUSION_RULE,
            items=[
                HourOut(
                    hour_start=h.start,
                    raw=h.raw,
                    value=h.value,
                    readings=h.readings,
                    valid=h.valid,
                    flags=[f.value for f in h.flags],
                )
                for h in found.hours
            ],
            license=state.license,
        ),
    )


@router.get(
    "/flags",
    response_model=FlagList,
    responses=COMMON_PROBLEMS,
    description="Quality-flagged hours of poles (computed from the hourly rollup at read time).",
)
def flags(
    *,
    request: Request,
    state: State,
    db: Db,
    pole_id: PoleQuery = None,
    district: DistrictQuery = None,
    first_day: FromDay = None,
    last_day: ToDay = None,
) -> Response:
    start, end = _range(first_day, last_day)
    with db.connection() as conn:
        poles = q.env_poles(conn, district=district, pole_id=pole_id, after=None, limit=200)
        sites = service.load_poles(conn, poles, start, end, mode=Mode.RAW)
    items = [
        FlagOut(pole_id=pid, metric=metric, hour_start=hour, flags=sorted(f.value for f in fs))
        for pid, site in sites.items()
        for metric, hours in site.flags.items()
        for hour, fs in sorted(hours.items())
    ]
    return respond(
        request,
        state,
        FlagList(
            rules=[
                FlagRuleOut(
                    flag=r.flag.value,
                    applies_to=list(r.applies_to),
                    description=r.description,
                    source=r.source,
                )
                for r in QUALITY_RULES
            ],
            exclusion_rule=FLAG_EXCLUSION_RULE,
            items=items,
            license=state.license,
        ),
    )
