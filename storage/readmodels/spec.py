"""Which read models the writer keeps, and their columns, derived from the catalogue.

Two kinds, both updated in the ingest transaction (storage/readmodels/merge.py):

- **latest**: one row per pole (per connector for EV) and family, the reading
  with the newest *device* time (`<family>_latest`, the raw table's columns).
- **rollups**: per pole (per connector for EV) or per group (the city, each
  district) and time bucket. Every rollup has `readings` and, per numeric field
  of its family, `<m>_count`, `<m>_sum`, `<m>_min`, `<m>_max` (and
  `<m>_energy_sum`, the sum of 10^(L/10), for sound levels); per cumulative
  counter `<m>_increase` (the increase from each reading's predecessor, counted
  in the later reading's bucket); per time-in-state measure `<name>_s` (seconds,
  counted in the earlier reading's bucket); `sessions` (sessions started). The
  daily env rollups per pole also carry, per averaged metric, `<m>_valid_hours`
  (hours with at least MIN_HOUR_COVERAGE of their expected readings),
  `<m>_valid_sum` (the sum of those hours' means; for sound levels of their
  energy means) and `<m>_hours_over_<v>` (valid hours whose mean exceeds v, for
  each hourly threshold of the EU standards).

Buckets: `hour` rollups are UTC hours; `day` rollups are local days of
SMARTPOLE_TIMEZONE (the zone `smartpole db migrate` recorded in
`readmodel_settings`) or, for `env_daily_cet`, CET days (UTC+1, as official
air-quality statistics use). Env days are made of UTC hours (the hour's start
decides its day), as the API's days from the hourly rollup always were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.catalogue.air_quality import MIN_HOUR_COVERAGE, hourly_thresholds
from models.catalogue.families import (
    ENV,
    EV,
    FAMILIES,
    LIGHT,
    WIFI,
    Aggregation,
    FamilySpec,
    FieldSpec,
)
from models.topics import Family

Grain = Literal["hour", "day"]
Zone = Literal["utc", "local", "statistics"]
Scope = Literal["pole", "group"]

PG_NAMES = {
    "float4": "real",
    "float8": "double precision",
    "int4": "integer",
    "int8": "bigint",
    "text": "text",
}
# Group rollups: one row per bucket for the city, and one per district.
CITY = "city"
DISTRICT = "district"
# Poles without a district form the group with this key.
NO_DISTRICT = ""
SETTINGS_TABLE = "readmodel_settings"
LOCAL_ZONE_SETTING = "local_timezone"
INTERVALS_TABLE = "reporting_intervals"
FEED_TABLE = "change_feed"
# The coverage rule as SQL sees it (kept here so the SQL cannot restate it).
HOUR_COVERAGE = MIN_HOUR_COVERAGE


def averaged(field: FieldSpec) -> bool:
    """A metric whose hourly value is a mean: it has valid hours."""
    return field.aggregation in (Aggregation.MEAN, Aggregation.ENERGY_MEAN)


def threshold_label(value: float) -> str:
    return f"{value:g}".replace(".", "_")


@dataclass(frozen=True, slots=True)
class Rollup:
    table: str
    spec: FamilySpec
    grain: Grain
    zone: Zone
    scope: Scope
    valid_hours: bool = False

    @property
    def family(self) -> Family:
        return self.spec.family

    @property
    def per_connector(self) -> bool:
        return self.scope == "pole" and self.spec.has_connector

    @property
    def key_columns(self) -> tuple[str, ...]:
        if self.scope == "group":
            return ("group_kind", "group_key", "bucket")
        if self.per_connector:
            return ("pole_id", "connector_id", "bucket")
        return ("pole_id", "bucket")

    @property
    def primary_key(self) -> tuple[str, ...]:
        # Group rollups are read by time range first (every district of a month).
        if self.scope == "group":
            return ("group_kind", "bucket", "group_key")
        return self.key_columns

    @property
    def metrics(self) -> tuple[FieldSpec, ...]:
        return self.spec.metrics

    @property
    def counters(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.spec.metrics if f.aggregation is Aggregation.COUNTER_DELTA)

    @property
    def has_edges(self) -> bool:
        """Measures between consecutive readings: counters, time in state, sessions."""
        return bool(self.counters or self.spec.state_times or self.spec.session_field)

    @property
    def valid_metrics(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.metrics if averaged(f)) if self.valid_hours else ()

    def thresholds(self, field: FieldSpec) -> tuple[float, ...]:
        return hourly_thresholds(field.column) if self.valid_hours else ()

    def measure_columns(self) -> list[tuple[str, str, str]]:
        """(column, PostgreSQL type, how it combines: sum | min | max), in table order."""
        out: list[tuple[str, str, str]] = [("readings", "integer", "sum")]
        for f in self.metrics:
            extreme = PG_NAMES[f.pg_type]
            out += [
                (f"{f.column}_count", "integer", "sum"),
                (f"{f.column}_sum", "double precision", "sum"),
                (f"{f.column}_min", extreme, "min"),
                (f"{f.column}_max", extreme, "max"),
            ]
            if f.energetic:
                out.append((energy_sum_column(f.column), "double precision", "sum"))
        for f in self.valid_metrics:
            out += [
                (f"{f.column}_valid_hours", "integer", "sum"),
                (f"{f.column}_valid_sum", "double precision", "sum"),
            ]
            out += [(over_column(f.column, v), "integer", "sum") for v in self.thresholds(f)]
        out += [(increase_column(f.column), "double precision", "sum") for f in self.counters]
        out += [(state_column(s.name), "double precision", "sum") for s in self.spec.state_times]
        if self.spec.session_field:
            out.append(("sessions", "integer", "sum"))
        return out

    def columns(self) -> list[tuple[str, str]]:
        keys: list[tuple[str, str]]
        if self.scope == "group":
            keys = [("group_kind", "text"), ("group_key", "text"), ("bucket", "timestamptz")]
        elif self.per_connector:
            keys = [("pole_id", "text"), ("connector_id", "smallint"), ("bucket", "timestamptz")]
        else:
            keys = [("pole_id", "text"), ("bucket", "timestamptz")]
        return keys + [(c, t) for c, t, _ in self.measure_columns()]


def energy_sum_column(metric: str) -> str:
    return f"{metric}_energy_sum"


def increase_column(metric: str) -> str:
    return f"{metric}_increase"


def state_column(name: str) -> str:
    return f"{name}_s"


def over_column(metric: str, threshold: float) -> str:
    return f"{metric}_hours_over_{threshold_label(threshold)}"


ENV_HOURLY = Rollup("env_hourly", ENV, "hour", "utc", "pole")
ENV_DAILY = Rollup("env_daily", ENV, "day", "local", "pole", valid_hours=True)
ENV_DAILY_CET = Rollup("env_daily_cet", ENV, "day", "statistics", "pole", valid_hours=True)
ENV_HOURLY_GROUP = Rollup("env_hourly_group", ENV, "hour", "utc", "group")
ENV_DAILY_GROUP = Rollup("env_daily_group", ENV, "day", "local", "group")
LIGHT_DAILY = Rollup("light_daily", LIGHT, "day", "local", "pole")
LIGHT_DAILY_GROUP = Rollup("light_daily_group", LIGHT, "day", "local", "group")
WIFI_HOURLY = Rollup("wifi_hourly", WIFI, "hour", "utc", "pole")
WIFI_HOURLY_GROUP = Rollup("wifi_hourly_group", WIFI, "hour", "utc", "group")
EV_DAILY = Rollup("ev_daily", EV, "day", "local", "pole")
EV_DAILY_GROUP = Rollup("ev_daily_group", EV, "day", "local", "group")

# Per family: the per-pole rollup the writer derives from raw rows (env: the hourly
# one, from which its daily ones follow), the daily ones built from it, and the
# group rollups. The writer and the rebuild take locks in this order.
POLE_ROLLUPS: dict[Family, Rollup] = {
    Family.ENV: ENV_HOURLY,
    Family.LIGHT: LIGHT_DAILY,
    Family.WIFI: WIFI_HOURLY,
    Family.EV: EV_DAILY,
}
ENV_DAYS: tuple[Rollup, ...] = (ENV_DAILY, ENV_DAILY_CET)
GROUP_ROLLUPS: dict[Family, tuple[Rollup, ...]] = {
    Family.ENV: (ENV_HOURLY_GROUP, ENV_DAILY_GROUP),
    Family.LIGHT: (LIGHT_DAILY_GROUP,),
    Family.WIFI: (WIFI_HOURLY_GROUP,),
    Family.EV: (EV_DAILY_GROUP,),
}
ALL_ROLLUPS: tuple[Rollup, ...] = (
    ENV_HOURLY, ENV_DAILY, ENV_DAILY_CET, LIGHT_DAILY, WIFI_HOURLY, EV_DAILY,
    ENV_HOURLY_GROUP, ENV_DAILY_GROUP, LIGHT_DAILY_GROUP, WIFI_HOURLY_GROUP, EV_DAILY_GROUP,
)  # fmt: skip
LATEST_TABLES: dict[Family, str] = {
    family: f"{family.value}_latest"
    for family in (Family.ENV, Family.LIGHT, Family.WIFI, Family.EV)
}
# Families in the order the writer merges them (the catalogue's): one lock order.
FAMILY_ORDER: tuple[Family, ...] = tuple(FAMILIES)


def rollups_of(family: Family) -> tuple[Rollup, ...]:
    if family not in POLE_ROLLUPS:
        return ()
    days = ENV_DAYS if family is Family.ENV else ()
    return (POLE_ROLLUPS[family], *days, *GROUP_ROLLUPS[family])


def create_table_sql(rollup: Rollup) -> str:
    """The DDL of one rollup (the migrations hold its output; a test compares)."""
    lines = []
    for column, pg_type in rollup.columns():
        combine = next((c for n, _, c in rollup.measure_columns() if n == column), None)
        if column in rollup.key_columns:
            lines.append(f"    {column} {pg_type} NOT NULL")
        elif combine == "sum":
            lines.append(f"    {column} {pg_type} NOT NULL DEFAULT 0")
        else:
            lines.append(f"    {column} {pg_type}")
    if rollup.scope == "group":
        lines[0] += f" CHECK (group_kind IN ('{CITY}', '{DISTRICT}'))"
    lines.append(f"    PRIMARY KEY ({', '.join(rollup.primary_key)})")
    body = ",\n".join(lines)
    # Rows are updated in place by every batch of their bucket: room for HOT updates.
    return f"CREATE TABLE {rollup.table} (\n{body}\n) WITH (fillfactor = 70);\n"
