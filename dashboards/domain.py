"""The domain catalogue as the dashboards and alerts use it: table names, metric fields
with their Grafana units and aggregation, the vocabulary as SQL literals, the EU
standards drawn and counted, and the columns of the `pole_health` view.

Nothing here states a rule of its own: every value comes from `models.catalogue`,
`models.vocabulary` or the storage layer's names. The few groupings the catalogue does
not name (which lamp states burn, which connector states occupy a charger) are built
from vocabulary members, so a renamed value breaks the import, not a dashboard.
`tests/dashboards/test_catalogue.py` compares the generated artefacts with the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum

from config.base import ENV_PREFIX
from config.services import StorageSettings
from models.catalogue.air_quality import (
    EU_STANDARDS,
    AirQualityStandard,
    Indicator,
    Objective,
    RuleSet,
)
from models.catalogue.families import ENV, FAMILIES, FamilySpec, FieldSpec
from models.catalogue.health import CHARGER_FAULT_STATUSES, CHARGER_NO_ERROR, DEFAULT_HEALTH
from models.topics import Family
from models.vocabulary import OcppStatus
from storage import health_view
from storage.readmodels import spec as readmodels
from storage.readmodels.spec import energy_sum_column, increase_column, state_column
from storage.tables import ENV_HOURLY_TABLE

# --- storage names ---------------------------------------------------------------------
ENV_TABLE = FAMILIES[Family.ENV].table
LIGHT_TABLE = FAMILIES[Family.LIGHT].table
WIFI_TABLE = FAMILIES[Family.WIFI].table
EV_TABLE = FAMILIES[Family.EV].table
STATUS_TABLE = FAMILIES[Family.STATUS].table
ENV_HOURLY = ENV_HOURLY_TABLE
# The health judgement (storage/health_view.py), shared with /v1/health/poles.
POLE_HEALTH = health_view.VIEW
# The read models the ingest writer keeps (storage/readmodels/spec.py): per-pole and
# per-group (city, district) rollups, and the newest reading of each pole and family.
ENV_DAILY = readmodels.ENV_DAILY.table
ENV_DAILY_CET = readmodels.ENV_DAILY_CET.table
ENV_HOURLY_GROUP = readmodels.ENV_HOURLY_GROUP.table
LIGHT_DAILY_GROUP = readmodels.LIGHT_DAILY_GROUP.table
WIFI_HOURLY = readmodels.WIFI_HOURLY.table
WIFI_HOURLY_GROUP = readmodels.WIFI_HOURLY_GROUP.table
EV_DAILY_ROLLUP = readmodels.EV_DAILY.table
EV_DAILY_GROUP = readmodels.EV_DAILY_GROUP.table
LIGHT_LATEST = readmodels.LATEST_TABLES[Family.LIGHT]
WIFI_LATEST = readmodels.LATEST_TABLES[Family.WIFI]
EV_LATEST = readmodels.LATEST_TABLES[Family.EV]
# Group rollups: the kind of a row, and the key of poles without a district.
GROUP_CITY = readmodels.CITY
GROUP_DISTRICT = readmodels.DISTRICT
GROUP_NO_DISTRICT = readmodels.NO_DISTRICT
# Where `smartpole db migrate` records the zone the daily rollups' local days are in.
READMODEL_SETTINGS = readmodels.SETTINGS_TABLE
LOCAL_ZONE_SETTING = readmodels.LOCAL_ZONE_SETTING


def observed_at_column(family: Family) -> str:
    """The `pole_health` column holding the newest reading time of a family."""
    return f"{family.value}_observed_at"


# --- SQL literals of the vocabulary ------------------------------------------------------
def literal(value: str) -> str:
    """A SQL string literal (the values are our own vocabulary, never user input)."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A column alias: bare when PostgreSQL would keep it as it is, else quoted."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def literals(values: Iterable[StrEnum]) -> str:
    """A comma-separated list of literals, in the order given (sets: sorted)."""
    items = sorted(values) if isinstance(values, (set, frozenset)) else list(values)
    return ", ".join(literal(v.value) for v in items)


def duration_text(duration: timedelta) -> str:
    """In the largest whole unit: "7 days", "15 minutes" (PostgreSQL reads it too)."""
    seconds = int(duration.total_seconds())
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit if count > 1 else unit[:-1]}"
    return f"{seconds} seconds"


def interval(duration: timedelta) -> str:
    """A SQL interval literal: interval '7 days'."""
    return f"interval '{duration_text(duration)}'"


def is_charger_fault(status: str, error_code: str) -> str:
    """The catalogue's charger fault (a Faulted status or any error code) as SQL."""
    return (
        f"({status} IN ({literals(CHARGER_FAULT_STATUSES)}) "
        f"OR {error_code} <> {literal(CHARGER_NO_ERROR.value)})"
    )


# A connector is occupied while a vehicle is plugged in and a session runs or finishes.
OCCUPIED_CONNECTOR_STATES = (
    OcppStatus.CHARGING,
    OcppStatus.SUSPENDED_EV,
    OcppStatus.SUSPENDED_EVSE,
    OcppStatus.FINISHING,
)


# --- metrics -------------------------------------------------------------------------------
def grafana_unit(field: FieldSpec) -> str | None:
    return field.unit.grafana if field.unit is not None else None


def env_rollup_column(field: FieldSpec, part: str) -> str:
    """A metric's column in any rollup: `<metric>_count|sum|min|max|energy_sum|increase`."""
    if part == "energy_sum":
        if not field.energetic:
            raise ValueError(f"{field.column} is not averaged on energy")
        return energy_sum_column(field.column)
    if part == "increase":
        return increase_column(field.column)
    return f"{field.column}_{part}"


rollup_column = env_rollup_column


def state_seconds_column(spec: FamilySpec, name: str) -> str:
    """The rollup column of a time-in-state measure of the family, e.g. `burn_s`."""
    if not any(s.name == name for s in spec.state_times):
        raise KeyError(f"{spec.family.value} has no time-in-state measure {name}")
    return state_column(name)


def sessions_column(spec: FamilySpec) -> str:
    if spec.session_field is None:
        raise KeyError(f"{spec.family.value} has no sessions")
    return "sessions"


# --- EU air-quality standards ---------------------------------------------------------------
# In force for data years up to 2029 (`rule_set_in_force`); the generated files must not
# depend on the day they are built, so the set is named, and the 2030 values are shown
# beside it.
RULE_SET_IN_FORCE = RuleSet.EU_2008
# Indicators the dashboards can compute from hourly means. AOT40 is a sum over May-July in
# µg/m³·h: it cannot be drawn on a concentration axis.
DRAWN_INDICATORS = (
    Indicator.HOURLY_MEAN,
    Indicator.DAILY_MEAN,
    Indicator.ANNUAL_MEAN,
    Indicator.MAX_DAILY_8H_MEAN,
)
# Standards counted in hours or days a year: the short-term ones.
COUNTED_INDICATORS = (Indicator.HOURLY_MEAN, Indicator.DAILY_MEAN, Indicator.MAX_DAILY_8H_MEAN)


def pollutants() -> tuple[FieldSpec, ...]:
    """Env metrics with an EU standard, in catalogue order."""
    with_standard = {s.pollutant for s in EU_STANDARDS}
    return tuple(f for f in ENV.metrics if f.column in with_standard)


def drawn_standards(pollutant: str) -> tuple[AirQualityStandard, ...]:
    return tuple(
        s for s in EU_STANDARDS if s.pollutant == pollutant and s.indicator in DRAWN_INDICATORS
    )


def counted_standards() -> tuple[AirQualityStandard, ...]:
    """Standards with an allowance of exceedances a year, in force first, then 2030."""
    counted = [
        s
        for s in EU_STANDARDS
        if s.allowed_exceedances is not None and s.indicator in COUNTED_INDICATORS
    ]
    return tuple(sorted(counted, key=lambda s: s.rule_set is not RULE_SET_IN_FORCE))


def limit_colour(standard: AirQualityStandard) -> str:
    """How a standard's dashed line is drawn: the set in force red, the 2030 values
    purple, the ozone information and alert thresholds orange and dark red."""
    if standard.objective is Objective.INFORMATION_THRESHOLD:
        return "orange"
    if standard.objective is Objective.ALERT_THRESHOLD:
        return "dark-red"
    return "red" if standard.rule_set is RULE_SET_IN_FORCE else "purple"


def limit_lines(standards: Iterable[AirQualityStandard]) -> tuple[tuple[float, str], ...]:
    """(value, colour) per distinct threshold, ascending; the first standard of a value
    in catalogue order colours it."""
    lines: dict[float, str] = {}
    for standard in standards:
        lines.setdefault(standard.threshold, limit_colour(standard))
    return tuple(sorted(lines.items()))


def indicator_text(indicator: Indicator) -> str:
    return indicator.value.replace("_", " ").replace("8h", "8-hour")


def period_text(indicator: Indicator) -> str:
    """hourly, daily, 8-hour: the averaging period an alert is named after."""
    return {
        Indicator.HOURLY_MEAN: "hourly",
        Indicator.DAILY_MEAN: "daily",
        Indicator.ANNUAL_MEAN: "annual",
        Indicator.MAX_DAILY_8H_MEAN: "8-hour",
    }[indicator]


def standard_text(standard: AirQualityStandard) -> str:
    """e.g. "50 µg/m³ daily mean limit value (35 a year allowed)"."""
    unit = ENV.field(standard.pollutant).unit
    symbol = unit.symbol if unit is not None else ""
    text = f"{standard.threshold:g} {symbol} {indicator_text(standard.indicator)} "
    text += standard.objective.value
    if standard.allowed_exceedances is not None:
        text += f" ({standard.allowed_exceedances} a year allowed"
        if standard.averaged_over_years > 1:
            text += f", averaged over {standard.averaged_over_years} years"
        text += ")"
    return text


def limits_text(standards: Iterable[AirQualityStandard]) -> str:
    """The legend of the dashed lines `limit_lines` draws, grouped by colour."""
    groups: dict[str, list[AirQualityStandard]] = {}
    for standard in standards:
        groups.setdefault(limit_colour(standard), []).append(standard)
    if not groups:
        return "No EU limit value applies."
    return (
        "Dashed lines: "
        + ". ".join(
            f"{colour} = {group[0].rule_set.value}: " + "; ".join(standard_text(s) for s in group)
            for colour, group in groups.items()
        )
        + "."
    )


def exceedance_column(standard: AirQualityStandard) -> str:
    """The exceedance table's column of a counted standard, e.g. `pm10_days_over_limit`
    (the set in force) or `pm10_days_over_limit_2030`."""
    counted = "hours" if standard.indicator is Indicator.HOURLY_MEAN else "days"
    objective = standard.objective.value.split()[0]  # limit, target
    suffix = "" if standard.rule_set is RULE_SET_IN_FORCE else f"_{standard.in_force_from.year}"
    return f"{standard.pollutant}_{counted}_over_{objective}{suffix}"


# --- health thresholds (defaults, for descriptions only: the SQL reads the running value)
def _variable(field: str) -> str:
    if field not in StorageSettings.model_fields:
        raise KeyError(f"StorageSettings has no {field}")
    return f"{ENV_PREFIX}{field}".upper()


OFFLINE_AFTER_VARIABLE = _variable("health_offline_after_s")
STALE_SENSOR_AFTER_VARIABLE = _variable("health_stale_sensor_after_s")
DEFAULT_OFFLINE_AFTER = duration_text(DEFAULT_HEALTH.offline_after)
DEFAULT_STALE_SENSOR_AFTER = duration_text(DEFAULT_HEALTH.stale_sensor_after)
