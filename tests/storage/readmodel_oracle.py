"""The read models recomputed in Python from raw rows: the oracle the writer's
incremental SQL and the rebuild are compared with. Written from the rules as
the catalogue and storage/readmodels/spec.py state them, not from the SQL."""

from __future__ import annotations

import math
import struct
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, time
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from models.catalogue.air_quality import MIN_HOUR_COVERAGE, STATISTICS_TIME_ZONE
from models.catalogue.families import FAMILIES, CounterReset
from storage.readmodels.spec import (
    CITY,
    DISTRICT,
    ENV_DAYS,
    GROUP_ROLLUPS,
    LATEST_TABLES,
    NO_DISTRICT,
    POLE_ROLLUPS,
    Rollup,
    energy_sum_column,
    increase_column,
    over_column,
    state_column,
)
from storage.tables import READING_ID_COLUMN

Key = tuple[Any, ...]
Rows = dict[Key, dict[str, Any]]


def hour_of(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(t: datetime, zone: str) -> datetime:
    local = t.astimezone(ZoneInfo(zone)).date()
    return datetime.combine(local, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def zone_name(rollup: Rollup, local_zone: str) -> str:
    return {"utc": "UTC", "local": local_zone, "statistics": STATISTICS_TIME_ZONE}[rollup.zone]


def bucket(rollup: Rollup, t: datetime, local_zone: str) -> datetime:
    return hour_of(t) if rollup.grain == "hour" else day_of(t, zone_name(rollup, local_zone))


def raw_rows(conn: psycopg.Connection[Any], table: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()  # noqa: S608
    # The SensorThings row number (migration 0040) is no part of any read model.
    for row in rows:
        row.pop(READING_ID_COLUMN, None)
    return rows


def table_rows(conn: psycopg.Connection[Any], rollup: Rollup) -> Rows:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT * FROM {rollup.table}").fetchall()  # noqa: S608
    return {tuple(r[k] for k in rollup.key_columns): r for r in rows}


def _new(rollup: Rollup) -> dict[str, Any]:
    return {c: (0 if how == "sum" else None) for c, _, how in rollup.measure_columns()}


def _add(target: dict[str, Any], rollup: Rollup, values: dict[str, Any]) -> None:
    for column, _, how in rollup.measure_columns():
        v = values.get(column)
        if v is None:
            continue
        if how == "sum":
            target[column] += v
        elif target[column] is None:
            target[column] = v
        else:
            target[column] = min(target[column], v) if how == "min" else max(target[column], v)


def exact(value: Any, pg_type: str) -> Any:
    """The value PostgreSQL holds: a real is read back as its shortest decimal."""
    if pg_type == "float4" and value is not None:
        return struct.unpack("f", struct.pack("f", value))[0]
    return value


def reading_values(rollup: Rollup, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"readings": 1}
    for f in rollup.metrics:
        v = exact(row[f.column], f.pg_type)
        if v is None:
            continue
        out |= {f"{f.column}_count": 1, f"{f.column}_sum": float(v)}
        out |= {f"{f.column}_min": v, f"{f.column}_max": v}
        if f.energetic:
            out[energy_sum_column(f.column)] = 10 ** (float(v) / 10)
    return out


def per_pole(rollup: Rollup, raw: list[dict[str, Any]], local_zone: str) -> Rows:
    """A per-pole rollup of light, Wi-Fi or EV (or env_hourly), from raw rows."""
    spec = rollup.spec
    keys = [c for c in rollup.key_columns if c != "bucket"]
    out: Rows = defaultdict(lambda: _new(rollup))
    sequences: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for row in raw:
        k = tuple(row[c] for c in keys)
        _add(
            out[(*k, bucket(rollup, row["observed_at"], local_zone))],
            rollup,
            reading_values(rollup, row),
        )
        sequences[k].append(row)
    for k, seq in sequences.items():
        seq.sort(key=lambda r: r["observed_at"])
        for f in rollup.counters:
            meter = [r for r in seq if r[f.column] is not None]
            for a, b in pairwise(meter):
                step = exact(b[f.column], f.pg_type) - exact(a[f.column], f.pg_type)
                if step < 0:
                    restart = f.counter_reset is CounterReset.RESTART
                    step = exact(b[f.column], f.pg_type) if restart else 0
                b_bucket = bucket(rollup, b["observed_at"], local_zone)
                out[(*k, b_bucket)][increase_column(f.column)] += float(step)
        for s in spec.state_times:
            for a, b in pairwise(seq):
                if a[s.field] in s.states:
                    held = min(b["observed_at"] - a["observed_at"], s.holds_for).total_seconds()
                    out[(*k, bucket(rollup, a["observed_at"], local_zone))][
                        state_column(s.name)
                    ] += held
        if spec.session_field:
            previous = None
            for r in seq:
                tx = r[spec.session_field]
                if tx is not None and tx != previous:
                    out[(*k, bucket(rollup, r["observed_at"], local_zone))]["sessions"] += 1
                previous = tx
    return dict(out)


def env_days(day: Rollup, hourly: Rows, local_zone: str, intervals: dict[str, int]) -> Rows:
    """A daily env rollup from the hourly one: hours belong to the day their start is in."""
    cadence = FAMILIES[day.family].expected_cadence
    assert cadence is not None
    out: Rows = defaultdict(lambda: _new(day))
    for (pole, hour), h in hourly.items():
        values = {c: h[c] for c, _, _ in day.measure_columns() if c in h}
        interval = intervals.get(pole, int(cadence.total_seconds()))
        need = max(1, math.ceil(MIN_HOUR_COVERAGE * 3600 / interval - 1e-9))
        for f in day.valid_metrics:
            n = h[f"{f.column}_count"]
            if n >= need:
                total = h[energy_sum_column(f.column)] if f.energetic else h[f"{f.column}_sum"]
                mean = total / n
                values[f"{f.column}_valid_hours"] = 1
                values[f"{f.column}_valid_sum"] = mean
                for threshold in day.thresholds(f):
                    values[over_column(f.column, threshold)] = int(mean > threshold)
        _add(out[(pole, day_of(hour, zone_name(day, local_zone)))], day, values)
    return dict(out)


def groups(
    group: Rollup, pole_rows: Rows, districts: dict[str, str | None], local_zone: str
) -> Rows:
    out: Rows = defaultdict(lambda: _new(group))
    names = {c for c, _, _ in group.measure_columns()}
    for key, row in pole_rows.items():
        pole, when = key[0], key[-1]
        when = when if group.grain == "hour" else day_of(when, local_zone)
        values = {c: v for c, v in row.items() if c in names}
        district = districts.get(pole) or NO_DISTRICT
        _add(out[(CITY, CITY, when)], group, values)
        _add(out[(DISTRICT, district, when)], group, values)
    return dict(out)


def latest(raw: Iterable[dict[str, Any]], keys: list[str]) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    for row in raw:
        k = tuple(row[c] for c in keys)
        if k not in out or row["observed_at"] > out[k]["observed_at"]:
            out[k] = row
    return out


def mismatches(expected: Rows, actual: Rows) -> list[str]:
    """Differences, floats compared to 1e-9 relative."""
    problems = []
    for key in sorted(set(expected) | set(actual), key=repr):
        e, a = expected.get(key), actual.get(key)
        if e is None or a is None:
            problems.append(f"{key}: expected {e is not None}, stored {a is not None}")
            continue
        for column, value in e.items():
            stored = a[column]
            if isinstance(value, float) or isinstance(stored, float):
                close = (
                    value is not None
                    and stored is not None
                    and (
                        math.isclose(value, stored, rel_tol=1e-9, abs_tol=1e-6)
                        or exact(stored, "float4") == value  # a real min or max
                    )
                )
                if not close:
                    problems.append(f"{key} {column}: expected {value}, stored {stored}")
            elif value != stored:
                problems.append(f"{key} {column}: expected {value}, stored {stored}")
    return problems


def expected_read_models(
    conn: psycopg.Connection[Any], local_zone: str, intervals: dict[str, int]
) -> dict[str, Rows]:
    """Every rollup as the oracle computes it from the raw rows now stored."""
    districts = dict(conn.execute("SELECT pole_id, district FROM poles").fetchall())
    out: dict[str, Rows] = {}
    for family, rollup in POLE_ROLLUPS.items():
        raw = raw_rows(conn, FAMILIES[family].table)
        pole_rows = per_pole(rollup, raw, local_zone)
        out[rollup.table] = pole_rows
        if rollup in ENV_DAYS or family.value == "env":
            for day in ENV_DAYS:
                out[day.table] = env_days(day, pole_rows, local_zone, intervals)
        for group in GROUP_ROLLUPS[family]:
            out[group.table] = groups(group, pole_rows, districts, local_zone)
    return out


def expected_latest(conn: psycopg.Connection[Any]) -> dict[str, dict[Key, dict[str, Any]]]:
    out = {}
    for family, table in LATEST_TABLES.items():
        spec = FAMILIES[family]
        keys = [k for k in spec.key_columns if k != "observed_at"]
        out[table] = latest(raw_rows(conn, spec.table), keys)
    return out
