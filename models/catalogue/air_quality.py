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
                       averaged_over_years=5),
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
