"""Response models of the official air-quality statistics and the sensor-trust endpoints."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from api.schemas import License


class DataQualityObjectiveOut(BaseModel):
    pollutant: str
    indicative_uncertainty: float = Field(description="Relative, at the limit value")
    fixed_uncertainty: float
    min_data_capture: float
    citation: str


class Site(BaseModel):
    kind: str = Field(description="pole (low-cost sensors) or reference (agency station)")
    id: str
    district: str | None = None
    measurement: str = Field(description="indicative (poles) or reference")
    notice: str
    data_quality_objectives: list[DataQualityObjectiveOut] = Field(
        default_factory=list,
        description="What an indicative measurement must achieve (2008/50/EC Annex I A)",
    )


class CalibrationOut(BaseModel):
    pole_id: str
    metric: str
    version: int
    intercept: float
    slope: float
    humidity_coefficient: float | None
    station_id: str | None
    fitted_from: date
    fitted_to: date
    days: int | None = None
    r2: float | None = None
    rmse: float | None = None
    model: str = "corrected = intercept + slope x raw [+ humidity_coefficient x RH %]"


class StatisticOut(BaseModel):
    key: str = Field(examples=["pm10.daily_mean"])
    pollutant: str
    indicator: str
    objective: str
    rule_set: str
    in_force: bool = Field(
        description="true: the standard in force for this data year; "
        "false: the 2030 value, reported as the target"
    )
    threshold: float
    unit: str
    allowed_exceedances: int | None
    averaged_over_years: int
    citation: str
    value: float | None = Field(
        description="Unrounded: a mean, a count, an AOT40 or, for ozone, the multi-year average"
    )
    published: float | None = Field(description="As the agencies publish it (whole µg/m³, half up)")
    valid: bool = Field(description="false: the data fail the coverage rule")
    capture: float | None = Field(description="Share (0-1) of the data the rule asks for")
    coverage_rule: str
    verdict: str = Field(description="met, exceeded, or cannot be judged")
    basis: str
    exceedances: int | None = None
    single_year: float | None = None
    single_year_valid: bool | None = None
    years_averaged: list[int] = Field(default_factory=list)
    lower_bound: bool = Field(
        False, description="A count over the allowance from incomplete data: exceeded anyway"
    )
    averaging: str | None = Field(None, description="The averaging period of the values used")
    excluded_flagged_hours: int = 0
    calibration: CalibrationOut | None = None


class SiteStatistics(BaseModel):
    site: Site
    statistics: list[StatisticOut]


class Conventions(BaseModel):
    time_convention: str
    rounding: str
    exceedances_judged_on: str
    coverage_rules: dict[str, str]
    flag_rule: str
    method: str


class StatisticsList(BaseModel):
    year: int
    correction: str = Field(description="raw or corrected (each pole's calibration applied)")
    conventions: Conventions
    items: list[SiteStatistics]
    next: str | None = None
    license: License


class ZoneStatisticOut(BaseModel):
    key: str
    rule_set: str
    in_force: bool
    threshold: float
    allowed_exceedances: int | None
    verdict: str = Field(description="Decided by the worst valid site (EU zone practice)")
    worst_site: str | None
    worst_value: float | None
    worst_published: float | None
    mean_of_sites: float | None = Field(
        description="Mean of the valid sites' values: for information, it decides nothing"
    )
    sites: int
    valid_sites: int
    exceeding_sites: int


class Zone(BaseModel):
    zone: str = Field(description="A district, or 'city'")
    measurement: str = Field(description="indicative (poles) or reference (stations)")
    notice: str
    statistics: list[ZoneStatisticOut]


class ZoneList(BaseModel):
    year: int
    correction: str
    conventions: Conventions
    items: list[Zone]
    license: License


class StationOut(BaseModel):
    station_id: str
    eoi_code: str | None
    national_id: str | None
    name: str | None
    station_type: str | None
    area_type: str | None
    district: str | None
    latitude: float | None
    longitude: float | None
    network: str | None
    source: str
    measurement_class: str
    series: list[str] = Field(description="metric (averaging period) of the values kept")
    first_value: datetime | None
    last_value: datetime | None


class StationList(BaseModel):
    notice: str
    items: list[StationOut]
    license: License


class ComparisonOut(BaseModel):
    pole_id: str
    station_id: str
    distance_m: float
    metric: str
    days_compared: int
    days_in_period: int
    capture: float
    bias: float | None = Field(description="Mean of pole minus station daily means, µg/m³")
    rmse: float | None
    r2: float | None
    pole_mean: float | None
    station_mean: float | None
    calibration_version: int | None


class ColocationList(BaseModel):
    first_day: date
    last_day: date
    max_distance_m: float
    correction: str
    time_convention: str
    notice: str
    items: list[ComparisonOut]
    license: License


class CalibrationList(BaseModel):
    items: list[CalibrationOut]
    license: License


class HourOut(BaseModel):
    hour_start: datetime
    raw: float | None
    value: float | None = Field(description="What the statistics use: null when excluded")
    readings: int
    valid: bool = Field(description="75 % of the readings the pole's interval implies")
    flags: list[str]


class HourlySeries(BaseModel):
    pole_id: str
    metric: str
    correction: str
    calibration_version: int | None
    reporting_interval_s: int
    notice: str
    flag_rule: str
    items: list[HourOut]
    license: License


class FlagOut(BaseModel):
    pole_id: str
    metric: str
    hour_start: datetime
    flags: list[str]


class FlagRuleOut(BaseModel):
    flag: str
    applies_to: list[str]
    description: str
    source: str


class FlagList(BaseModel):
    rules: list[FlagRuleOut]
    exclusion_rule: str
    items: list[FlagOut]
    license: License
