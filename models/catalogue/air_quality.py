"""EU ambient air-quality standards and the data-capture rules they need.

The one place these values are written: the exceedance counts, the official
statistics, the dashboards' thresholds and alerts and the public map read
them from here. Each value carries the directive, annex and table it comes
from (Official Journal: Directive 2008/50/EC, OJ L 152, 11.6.2008, p. 1;
Directive (EU) 2024/2881, OJ L, 2024/2881, 20.11.2024).

Which set applies to a data year: the 2008/50/EC values up to and including
2029 (2024/2881 repeals 2008/50/EC with effect from 12 December 2026, Art. 31,
and carries the same numbers forward in Annex I, Section 1, Table 2); the
2024/2881 Annex I, Section 1, Table 1 values from 1 January 2030. The 2030
values are also the target a city reports its progress against before then
(`RuleSet.EU_2030`).

Checked against: 2008/50/EC Annexes VII, XI, XII, XIV (via the consolidated
English text and the German transposition, 39. BImSchV Anlagen 7, 11, 12);
2024/2881 Annex I via a transcription of the OJ text, cross-checked for PM and
annual NO2 with two German state publications. Project notes:
docs/domain-sources.md lists every source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class RuleSet(StrEnum):
    EU_2008 = "2008/50/EC"
    EU_2030 = "(EU) 2024/2881 (2030 values)"


class Indicator(StrEnum):
    """The statistic compared with the threshold."""

    HOURLY_MEAN = "hourly_mean"
    DAILY_MEAN = "daily_mean"
    ANNUAL_MEAN = "annual_mean"
    MAX_DAILY_8H_MEAN = "max_daily_8h_mean"  # ozone: highest 8-hour running mean of a day
    AOT40 = "aot40"  # ozone, vegetation: sum over May-July of hourly excess over 80 µg/m³


class Objective(StrEnum):
    LIMIT_VALUE = "limit value"
    TARGET_VALUE = "target value"
    INFORMATION_THRESHOLD = "information threshold"
    ALERT_THRESHOLD = "alert threshold"


@dataclass(frozen=True, slots=True)
class AirQualityStandard:
    pollutant: str  # the env metric column
    indicator: Indicator
    threshold: float  # µg/m³ (AOT40: µg/m³·h)
    objective: Objective
    rule_set: RuleSet
    in_force_from: date
    # Exceedances allowed per calendar year; None: a mean, judged on its own.
    allowed_exceedances: int | None
    citation: str
    # Ozone target values count exceedances averaged over several years.
    averaged_over_years: int = 1
    # The fewest valid years that average may rest on (2008/50/EC Annex VII B.2,
    # footnotes: one year for the health target value, three for AOT40).
    min_valid_years: int = 1

    @property
    def key(self) -> str:
        return f"{self.pollutant}.{self.indicator.value}"


_2008 = "Directive 2008/50/EC"
_2024 = "Directive (EU) 2024/2881"
_2008_FROM = date(2010, 1, 1)
_2030 = date(2030, 1, 1)

EU_STANDARDS: tuple[AirQualityStandard, ...] = (
    # --- 2008/50/EC (until 31 December 2029) -------------------------------------------
    AirQualityStandard("pm10", Indicator.DAILY_MEAN, 50.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2008, date(2005, 1, 1), 35, f"{_2008}, Annex XI, B"),
    AirQualityStandard("pm10", Indicator.ANNUAL_MEAN, 40.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2008, date(2005, 1, 1), None, f"{_2008}, Annex XI, B"),
    AirQualityStandard("pm25", Indicator.ANNUAL_MEAN, 25.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2008, date(2015, 1, 1), None,
                       f"{_2008}, Annex XIV, E (stage 1)"),
    AirQualityStandard("no2", Indicator.HOURLY_MEAN, 200.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2008, _2008_FROM, 18, f"{_2008}, Annex XI, B"),
    AirQualityStandard("no2", Indicator.ANNUAL_MEAN, 40.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2008, _2008_FROM, None, f"{_2008}, Annex XI, B"),
    AirQualityStandard("o3", Indicator.MAX_DAILY_8H_MEAN, 120.0, Objective.TARGET_VALUE,
                       RuleSet.EU_2008, _2008_FROM, 25, f"{_2008}, Annex VII, B.2",
                       averaged_over_years=3),
    AirQualityStandard("o3", Indicator.AOT40, 18_000.0, Objective.TARGET_VALUE,
                       RuleSet.EU_2008, _2008_FROM, None, f"{_2008}, Annex VII, B.2",
                       averaged_over_years=5, min_valid_years=3),
    AirQualityStandard("o3", Indicator.HOURLY_MEAN, 180.0, Objective.INFORMATION_THRESHOLD,
                       RuleSet.EU_2008, _2008_FROM, None, f"{_2008}, Annex XII, B"),
    AirQualityStandard("o3", Indicator.HOURLY_MEAN, 240.0, Objective.ALERT_THRESHOLD,
                       RuleSet.EU_2008, _2008_FROM, None, f"{_2008}, Annex XII, B"),
    # --- 2024/2881, Annex I, Table 1: to be attained by 1 January 2030 -------------------
    AirQualityStandard("pm25", Indicator.DAILY_MEAN, 25.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2030, _2030, 18, f"{_2024}, Annex I, Section 1, Table 1"),
    AirQualityStandard("pm25", Indicator.ANNUAL_MEAN, 10.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2030, _2030, None, f"{_2024}, Annex I, Section 1, Table 1"),
    AirQualityStandard("pm10", Indicator.DAILY_MEAN, 45.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2030, _2030, 18, f"{_2024}, Annex I, Section 1, Table 1"),
    AirQualityStandard("pm10", Indicator.ANNUAL_MEAN, 20.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2030, _2030, None, f"{_2024}, Annex I, Section 1, Table 1"),
    AirQualityStandard("no2", Indicator.HOURLY_MEAN, 200.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2030, _2030, 3, f"{_2024}, Annex I, Section 1, Table 1"),
    AirQualityStandard("no2", Indicator.DAILY_MEAN, 50.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2030, _2030, 18, f"{_2024}, Annex I, Section 1, Table 1"),
    AirQualityStandard("no2", Indicator.ANNUAL_MEAN, 20.0, Objective.LIMIT_VALUE,
                       RuleSet.EU_2030, _2030, None, f"{_2024}, Annex I, Section 1, Table 1"),
    AirQualityStandard("o3", Indicator.MAX_DAILY_8H_MEAN, 120.0, Objective.TARGET_VALUE,
                       RuleSet.EU_2030, _2030, 18, f"{_2024}, Annex I, Section 2",
                       averaged_over_years=3),
)  # fmt: skip


# --- data capture (2008/50/EC Annex VII A and Annex XI A; 2024/2881 Annex IV) ----------
# A one-hour value is valid with 75 % of the hour covered (45 minutes).
MIN_HOUR_COVERAGE = 0.75
# A daily mean needs 75 % of its hourly values: 18 of 24.
MIN_HOURS_FOR_DAILY_MEAN = 18
# An 8-hour running mean needs 75 % of its hours: 6 of 8. It belongs to the
# day it ends in: a day's windows run from 17:00-01:00 to 16:00-24:00.
MIN_HOURS_FOR_8H_MEAN = 6
# A maximum daily 8-hour mean needs 75 % of the day's running means: 18 of 24.
MIN_8H_MEANS_FOR_DAILY_MAX = 18
# An annual statistic needs 90 % of the year's hourly (or daily) values.
MIN_ANNUAL_CAPTURE = 0.90
# Official statistics use CET (UTC+1, no daylight saving), as the EU ozone rules
# and the German Environment Agency's tabulations do.
STATISTICS_UTC_OFFSET_HOURS = 1
# The same as a time zone name (POSIX signs: Etc/GMT-1 is UTC+1).
STATISTICS_TIME_ZONE = f"Etc/GMT-{STATISTICS_UTC_OFFSET_HOURS}"
STATISTICS_TIME_CONVENTION = (
    "CET: UTC+1 all year, no daylight saving time. A day runs 00:00-24:00 UTC+1 "
    "(23:00-23:00 UTC), a year from 1 January 00:00 UTC+1; an hour belongs to the day "
    "its start falls in. 2008/50/EC Annex VII A (AOT40 'Central European Time'); EEA "
    "e-reporting keeps hourly data in UTC+1; the UBA tabulates in CET (MEZ)."
)

# --- ozone (2008/50/EC Annex VII A.1, A.2) -----------------------------------------------
# AOT40: the excess of hourly means over 80 µg/m³ (= 40 ppb), summed over the 1-hour values
# from 08:00 to 20:00 CET (the 12 hours starting 08:00 ... 19:00) of 1 May - 31 July.
AOT40_THRESHOLD = 80.0
AOT40_FIRST_HOUR_CET = 8
AOT40_END_HOUR_CET = 20  # exclusive: the last hour counted starts at 19:00
AOT40_MONTHS = (5, 6, 7)
# AOT40 needs 90 % of the hourly values of its window (Annex VII A.2); with less than all
# of them it is estimated as measured x possible hours / measured hours (Annex VII A.1).
MIN_AOT40_CAPTURE = 0.90
# Exceedances of the MDA8 target value per year: valid with 90 % of the month's daily
# maxima of 8-hour means ("27 available daily values per month") in five of the six
# summer months April-September (Annex VII A.2). This replaces the 90 % annual rule for O3.
MIN_MDA8_DAYS_PER_MONTH = 27
OZONE_SUMMER_MONTHS = (4, 5, 6, 7, 8, 9)
MIN_VALID_SUMMER_MONTHS = 5

# --- rounding ------------------------------------------------------------------------------
# The agencies publish concentrations as whole µg/m³ (the UBA's exports and annual balance;
# EEA statistics), rounded half up. Exceedances are judged on the value as published:
# a daily mean of 50.4 is published as 50 and is not over 50; 50.5 is published as 51 and
# is. Why rounded: every figure the UBA publishes for a station (hourly, daily, annual
# values) is an integer, so its counts can only rest on those integers; judging
# unrounded values would count days the published series shows at exactly 50. Whether
# the UBA rounds before comparing is not confirmed in writing (docs/domain-sources.md,
# section 2.3): the response says which rule was applied.
PUBLISHED_DECIMALS = 0
ROUNDING_RULE = "half up to whole µg/m³ (AOT40: whole µg/m³·h)"
EXCEEDANCE_JUDGED_ON = "rounded"  # "rounded" | "unrounded"


class AveragingPeriod(StrEnum):
    """What one stored reference value stands for (EEA primaryObservation vocabulary:
    hour, day; the UBA's 'daily average, hourly floating' is a 24-hour running mean
    written every hour)."""

    HOUR = "hour"
    DAY = "day"
    DAY_HOURLY_FLOATING = "day, hourly floating"


# A UBA PM daily mean is the floating 24-hour mean at the hour ending 24:00 CET: the
# value written then covers exactly that CET day, so it is taken as is, never averaged.


@dataclass(frozen=True, slots=True)
class DataQualityObjective:
    """What a measurement must achieve to count, per pollutant (2008/50/EC Annex I,
    Section A): the relative uncertainty at the limit value, and the data capture."""

    pollutant: str
    fixed_uncertainty: float  # reference-grade ("fixed") measurements
    indicative_uncertainty: float  # indicative measurements: the best a low-cost sensor can be
    min_data_capture: float
    citation: str = f"{_2008}, Annex I, A"


DATA_QUALITY_OBJECTIVES: dict[str, DataQualityObjective] = {
    "pm10": DataQualityObjective("pm10", 0.25, 0.50, 0.90),
    "pm25": DataQualityObjective("pm25", 0.25, 0.50, 0.90),
    "no2": DataQualityObjective("no2", 0.15, 0.25, 0.90),
    "o3": DataQualityObjective("o3", 0.15, 0.30, 0.90),
}
# A sensor on a lamp post is not a reference instrument: its data are at best
# indicative measurements (2008/50/EC Art. 2(25); 2024/2881 Art. 4(23)).
REFERENCE_NOTICE = (
    "Reference (fixed) measurement of an official monitoring station, as published by its "
    "agency; provisional until the agency's final validation."
)
INDICATIVE_NOTICE = (
    "Indicative measurement from a low-cost sensor on a street pole, not a reference "
    "measurement under Directive 2008/50/EC Annex I; judged against the data quality "
    "objectives for indicative measurements."
)


def standards(
    pollutant: str | None = None,
    *,
    rule_set: RuleSet | None = None,
    objective: Objective | None = None,
) -> tuple[AirQualityStandard, ...]:
    return tuple(
        s
        for s in EU_STANDARDS
        if (pollutant is None or s.pollutant == pollutant)
        and (rule_set is None or s.rule_set is rule_set)
        and (objective is None or s.objective is objective)
    )


def standard(pollutant: str, indicator: Indicator, rule_set: RuleSet,
             objective: Objective = Objective.LIMIT_VALUE) -> AirQualityStandard:  # fmt: skip
    found = [
        s
        for s in standards(pollutant, rule_set=rule_set, objective=objective)
        if s.indicator is indicator
    ]
    if len(found) != 1:
        raise KeyError(f"no single {objective} for {pollutant} {indicator} in {rule_set}")
    return found[0]


def rule_set_in_force(year: int) -> RuleSet:
    """The standards a data year is judged against."""
    return RuleSet.EU_2030 if year >= _2030.year else RuleSet.EU_2008


# --- quality control of low-cost sensors ---------------------------------------------------
# Computed by the platform on each pole's hourly means (never on reference stations, whose
# agencies validate their own data). A flagged hour does not count as a valid hour in the
# official statistics, co-location and calibration fits; the responses say how many.


class QualityFlag(StrEnum):
    HUMIDITY = "humidity"  # optical PM sensors over-read in humid air
    FLATLINE = "flatline"  # the sensor repeats one value: stuck
    SPIKE = "spike"  # Hampel filter outlier
    JUMP = "jump"  # implausible change from one hour to the next


@dataclass(frozen=True, slots=True)
class QualityRule:
    flag: QualityFlag
    applies_to: tuple[str, ...]  # env metric columns
    description: str
    source: str


OPTICAL_PM = ("pm10", "pm25")
POLLUTANTS = ("pm25", "pm10", "no2", "o3")
# Optical PM above this relative humidity (hourly mean, %). Jayaratne et al. 2018
# (AMT 11, 4883) see particle growth above ~75 %; Mathieu-Campbell et al. 2024 (AMT 17,
# 6735) a nonlinear effect from ~50 %; 70 % is the product's requirement (issue 16), a
# conservative point between (a fixed convention is UNCONFIRMED, docs/domain-sources.md 5.1).
HUMIDITY_LIMIT_PERCENT = 70.0
# Flat line: this many consecutive hours with the very same hourly mean, or an hour of
# several readings that are all identical (min = max). Project convention.
FLATLINE_MIN_HOURS = 6
# Hampel filter: median of the hour and its HAMPEL_HALF_WINDOW neighbours each side;
# outlier when |x - median| > HAMPEL_T0 x 1.4826 x MAD (MATLAB hampel defaults: 3
# neighbours, 3 sigma; pracma hampel t0 = 3). The deviation must also exceed
# HAMPEL_MIN_DEVIATION µg/m³, so a quiet series with a tiny MAD is not flagged for
# noise (project choice).
HAMPEL_HALF_WINDOW = 3
HAMPEL_T0 = 3.0
HAMPEL_MIN_DEVIATION = 10.0
# Implausible jump between consecutive hourly means, µg/m³ per hour (project convention,
# UNCONFIRMED: no published threshold retrieved; set well above urban hour-to-hour changes).
MAX_HOURLY_STEP: dict[str, float] = {"pm25": 100.0, "pm10": 150.0, "no2": 150.0, "o3": 100.0}

QUALITY_RULES: tuple[QualityRule, ...] = (
    QualityRule(QualityFlag.HUMIDITY, OPTICAL_PM,
                f"hourly mean relative humidity over {HUMIDITY_LIMIT_PERCENT:g} %",
                "Jayaratne et al. 2018, AMT 11, 4883; issue 16 (70 %)"),
    QualityRule(QualityFlag.FLATLINE, POLLUTANTS,
                f"{FLATLINE_MIN_HOURS} or more consecutive hours with the same hourly mean, "
                "or an hour whose readings are all identical",
                "project convention"),
    QualityRule(QualityFlag.SPIKE, POLLUTANTS,
                f"Hampel filter: |x - median| > {HAMPEL_T0:g} x 1.4826 x MAD over "
                f"{2 * HAMPEL_HALF_WINDOW + 1} hours, and > {HAMPEL_MIN_DEVIATION:g} µg/m³",
                "Pearson's 3-sigma edit rule; MATLAB hampel; pracma::hampel"),
    QualityRule(QualityFlag.JUMP, POLLUTANTS,
                "change from the previous hour's mean over " + ", ".join(
                    f"{m} {v:g}" for m, v in MAX_HOURLY_STEP.items()) + " µg/m³",
                "project convention (UNCONFIRMED)"),
)  # fmt: skip
FLAG_EXCLUSION_RULE = (
    "A pole's hourly mean carrying any quality flag is excluded: it counts as a missing "
    "hour (lowering the data capture), never as a value. Reference stations are not flagged."
)


def hourly_thresholds(pollutant: str) -> tuple[float, ...]:
    """The values a valid hourly mean of `pollutant` is compared with: the hourly
    standards, and the 8-hour targets (an 8-hour mean exceeds a value only if one
    of its hourly means does, so the count of such hours finds the candidate days).
    The daily rollups count the valid hours above each of them."""
    wanted = (Indicator.HOURLY_MEAN, Indicator.MAX_DAILY_8H_MEAN)
    return tuple(
        sorted(
            {
                s.threshold
                for s in EU_STANDARDS
                if s.pollutant == pollutant and s.indicator in wanted
            }
        )
    )


# --- European Air Quality Index (EEA), for the public map ---------------------------------
# The EEA's index puts each pollutant's concentration into one of six bands; a site's
# index is its worst pollutant's band. PM10 and PM2.5 are judged on 24-hour running means
# (the mean of the hourly means of the last 24 hours), NO2 and O3 on the hourly mean.
# The bands are those of the index the EEA shows now, revised in 2024 to follow the WHO 2021
# guidelines (the table of docs/domain-sources.md section 4, from implementations citing
# airindex.eea.europa.eu; the EEA page itself could not be retrieved: UNCONFIRMED there,
# like the colours). The previous 6-band version is listed there too: to switch, replace
# the bounds below and EAQI_VERSION, nothing else.
EAQI_VERSION = "EEA European Air Quality Index, bands of the 2024 revision"
EAQI_CITATION = (
    "European Environment Agency, European Air Quality Index (airindex.eea.europa.eu): "
    "bands for PM2.5, PM10 (24-hour running means), NO2 and O3 (hourly means)"
)


@dataclass(frozen=True, slots=True)
class AqiBand:
    level: int  # 1 (good) ... 6 (extremely poor)
    key: str
    label_en: str
    label_de: str
    colour: str  # the EEA's colour of the band, #rrggbb


EAQI_BANDS: tuple[AqiBand, ...] = (
    AqiBand(1, "good", "Good", "Gut", "#50f0e6"),
    AqiBand(2, "fair", "Fair", "Akzeptabel", "#50ccaa"),
    AqiBand(3, "moderate", "Moderate", "Mäßig", "#f0e641"),
    AqiBand(4, "poor", "Poor", "Schlecht", "#ff5050"),
    AqiBand(5, "very_poor", "Very poor", "Sehr schlecht", "#960032"),
    AqiBand(6, "extremely_poor", "Extremely poor", "Äußerst schlecht", "#7d2181"),
)


@dataclass(frozen=True, slots=True)
class AqiPollutantBands:
    pollutant: str  # the env metric column
    averaging: str  # "24h_running_mean" | "hourly_mean"
    # Upper bounds (µg/m³, inclusive) of bands 1..5; above the last: band 6.
    upper_bounds: tuple[float, float, float, float, float]


EAQI_24H = "24h_running_mean"
EAQI_HOURLY = "hourly_mean"
EAQI_POLLUTANTS: tuple[AqiPollutantBands, ...] = (
    AqiPollutantBands("pm25", EAQI_24H, (5.0, 15.0, 50.0, 90.0, 140.0)),
    AqiPollutantBands("pm10", EAQI_24H, (15.0, 45.0, 120.0, 195.0, 270.0)),
    AqiPollutantBands("no2", EAQI_HOURLY, (10.0, 25.0, 60.0, 100.0, 150.0)),
    AqiPollutantBands("o3", EAQI_HOURLY, (60.0, 100.0, 120.0, 160.0, 180.0)),
)
# A 24-hour running mean is computed from the valid hourly means (MIN_HOUR_COVERAGE) of
# the 24 hours ending with the newest one, and only with at least this many of them: the
# 75 % a daily mean needs (how many hours the EEA requires is UNCONFIRMED, section 4).
EAQI_MIN_HOURS_24H = MIN_HOURS_FOR_DAILY_MEAN
EAQI_WINDOW_HOURS = 24
# An hourly value older than this (behind the newest reading) is not "now".
EAQI_HOURLY_MAX_AGE_HOURS = 3


def eaqi_band(pollutant: str, value: float | None) -> AqiBand | None:
    """The band of one pollutant's value (averaged as EAQI_POLLUTANTS says)."""
    if value is None:
        return None
    spec = next(p for p in EAQI_POLLUTANTS if p.pollutant == pollutant)
    for band, upper in zip(EAQI_BANDS, spec.upper_bounds, strict=False):
        if value <= upper:
            return band
    return EAQI_BANDS[-1]


def eaqi_overall(bands: list[AqiBand | None]) -> AqiBand | None:
    """A site's index: the worst band of its pollutants (None when none has a value)."""
    known = [b for b in bands if b is not None]
    return max(known, key=lambda b: b.level) if known else None
