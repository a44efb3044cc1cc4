"""What the official air-quality statistics, co-location and calibration read.

- Poles: hourly means from the writer-kept hourly rollup (`env_hourly`: per UTC hour and
  metric the count, sum, min and max of the readings), with the pole's reporting interval
  (`reporting_intervals`, else the catalogue's cadence) so the caller can tell valid hours; no
  raw rows are read. `pole_hours` is the one place that decides which rollup the
  statistics read: when a CET daily rollup (valid hours, mean of valid hourly means) is
  kept by the writer, daily means for raw, unflagged data can come from it instead.
- Reference stations: the values they publish, with their averaging period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.catalogue.air_quality import POLLUTANTS
from models.catalogue.families import ENV
from models.topics import Family
from storage.tables import ENV_HOURLY_TABLE

assert ENV.expected_cadence is not None
DEFAULT_INTERVAL_S = int(ENV.expected_cadence.total_seconds())
HUMIDITY = "relative_humidity"


@dataclass(frozen=True, slots=True)
class Reporting:
    """How a pole reports env readings."""

    interval_s: int = DEFAULT_INTERVAL_S
    stamped_at_end: bool = False


@dataclass(slots=True)
class PoleHour:
    """One UTC hour of a pole (start of the interval its readings describe)."""

    start: datetime
    # metric -> (readings, sum, min, max)
    metrics: dict[str, tuple[int, float, float | None, float | None]] = field(default_factory=dict)


def env_poles(
    conn: psycopg.Connection[Any],
    *,
    district: str | None,
    pole_id: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Poles with an environment sensor (or env data), in id order."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT pole_id, district, latitude, longitude FROM poles p
            WHERE (%(district)s::text IS NULL OR district = %(district)s)
              AND (%(pole_id)s::text IS NULL OR pole_id = %(pole_id)s)
              AND (%(after)s::text IS NULL OR pole_id > %(after)s)
              AND ('env' = ANY (capabilities)
                   OR EXISTS (SELECT 1 FROM env_hourly h WHERE h.pole_id = p.pole_id))
            ORDER BY pole_id
            LIMIT %(limit)s
            """,
            {"district": district, "pole_id": pole_id, "after": after, "limit": limit},
        )
        return cur.fetchall()


def reporting(conn: psycopg.Connection[Any], pole_ids: Sequence[str]) -> dict[str, Reporting]:
    """Each pole's reporting interval; poles without an entry report at the catalogue's
    cadence (FamilySpec.expected_cadence)."""
    rows = conn.execute(
        "SELECT pole_id, interval_s, stamped_at_end FROM reporting_intervals"
        " WHERE family = %s AND pole_id = ANY(%s)",
        (Family.ENV.value, list(pole_ids)),
    ).fetchall()
    found = {r[0]: Reporting(r[1], r[2]) for r in rows}
    return {p: found.get(p, Reporting()) for p in pole_ids}


def _hours_sql(metrics: Sequence[str]) -> sql.Composed:
    columns = [
        sql.Identifier(f"{m}_{part}") for m in metrics for part in ("count", "sum", "min", "max")
    ]
    return sql.SQL(
        """
        SELECT h.pole_id, h.bucket, {columns}
        FROM {rollup} h
        WHERE h.pole_id = ANY(%(poles)s) AND h.bucket >= %(start)s AND h.bucket < %(end)s
        ORDER BY h.pole_id, h.bucket
        """
    ).format(columns=sql.SQL(", ").join(columns), rollup=sql.Identifier(ENV_HOURLY_TABLE))


HOURS_SQL = _hours_sql((*POLLUTANTS, HUMIDITY))


def pole_hours(
    conn: psycopg.Connection[Any],
    pole_ids: Sequence[str],
    start: datetime,
    end: datetime,
    stamped_at_end: dict[str, bool],
) -> dict[str, list[PoleHour]]:
    """The hourly rollup of the poles for the hours starting in [start, end). A pole whose
    readings are stamped at the end of their hour has its bucket moved back an hour."""
    result: dict[str, list[PoleHour]] = {p: [] for p in pole_ids}
    metrics = (*POLLUTANTS, HUMIDITY)
    with conn.cursor() as cur:
        cur.execute(
            HOURS_SQL,
            {"poles": list(pole_ids), "start": start, "end": end + timedelta(hours=1)},
        )
        for row in cur:
            pole, bucket = row[0], row[1]
            hour_start = bucket - timedelta(hours=1) if stamped_at_end.get(pole) else bucket
            if not start <= hour_start < end:
                continue
            hour = PoleHour(hour_start)
            for i, metric in enumerate(metrics):
                count, total, low, high = row[2 + 4 * i : 6 + 4 * i]
                if count:
                    hour.metrics[metric] = (count, total, low, high)
            result[pole].append(hour)
    return result


# --- reference stations -------------------------------------------------------------------------


STATION_COLUMNS = (
    "station_id",
    "eoi_code",
    "national_id",
    "name",
    "station_type",
    "area_type",
    "district",
    "latitude",
    "longitude",
    "network",
    "source",
)


def upsert_station(conn: psycopg.Connection[Any], station: dict[str, Any]) -> None:
    """Create the station or complete its metadata (a value given replaces, None keeps)."""
    columns = sql.SQL(", ").join(map(sql.Identifier, STATION_COLUMNS))
    values = sql.SQL(", ").join(sql.Placeholder(c) for c in STATION_COLUMNS)
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = COALESCE(EXCLUDED.{c}, s.{c})").format(c=sql.Identifier(c))
        for c in STATION_COLUMNS[1:]
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO reference_stations AS s ({columns}) VALUES ({values}) "
            "ON CONFLICT (station_id) DO UPDATE SET {updates}, updated_at = now()"
        ).format(columns=columns, values=values, updates=updates),
        {c: station.get(c) for c in STATION_COLUMNS},
    )


def insert_reference_values(
    conn: psycopg.Connection[Any], rows: Sequence[tuple[Any, ...]], chunk: int = 5000
) -> int:
    """(station_id, metric, averaging, period_start, period_end, value, verification) rows;
    a value already stored for the same period is replaced (a re-export corrects it).
    Returns the rows written."""
    written = 0
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        cols = list(zip(*part, strict=True))
        cur = conn.execute(
            """
            INSERT INTO reference_values AS v (station_id, metric, averaging, period_start,
                                               period_end, value, verification)
            SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[],
                                 %s::timestamptz[], %s::float8[], %s::int2[])
            ON CONFLICT (station_id, metric, averaging, period_end) DO UPDATE SET
                value = EXCLUDED.value, period_start = EXCLUDED.period_start,
                verification = EXCLUDED.verification
            """,
            [list(c) for c in cols],
        )
        written += cur.rowcount
    return written


def stations(
    conn: psycopg.Connection[Any], *, district: str | None = None, station_id: str | None = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT s.*,
                   (SELECT coalesce(array_agg(DISTINCT v.metric || ' (' || v.averaging || ')'
                                              ORDER BY v.metric || ' (' || v.averaging || ')'),
                                    '{}')
                    FROM reference_values v WHERE v.station_id = s.station_id) AS series,
                   (SELECT min(period_start) FROM reference_values v
                    WHERE v.station_id = s.station_id) AS first_value,
                   (SELECT max(period_end) FROM reference_values v
                    WHERE v.station_id = s.station_id) AS last_value
            FROM reference_stations s
            WHERE (%(district)s::text IS NULL OR s.district = %(district)s)
              AND (%(station)s::text IS NULL OR s.station_id = %(station)s)
            ORDER BY s.station_id
            """,
            {"district": district, "station": station_id},
        )
        return cur.fetchall()


def reference_values(
    conn: psycopg.Connection[Any], station_ids: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, str, str, datetime, datetime, float]]:
    """(station, metric, averaging, period_start, period_end, value) ending in (start, end]."""
    rows = conn.execute(
        """
        SELECT station_id, metric, averaging, period_start, period_end, value
        FROM reference_values
        WHERE station_id = ANY(%s) AND period_end > %s AND period_end <= %s
        ORDER BY station_id, metric, period_end
        """,
        (list(station_ids), start, end),
    ).fetchall()
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


# --- calibrations ---------------------------------------------------------------------------------


def calibrations(
    conn: psycopg.Connection[Any], pole_ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT * FROM pole_calibrations
            WHERE %(poles)s::text[] IS NULL OR pole_id = ANY(%(poles)s)
            ORDER BY pole_id, metric, version
            """,
            {"poles": None if pole_ids is None else list(pole_ids)},
        )
        return cur.fetchall()


def add_calibration(conn: psycopg.Connection[Any], calibration: dict[str, Any]) -> int:
    """Store a new version for (pole, metric); returns its version number."""
    row = conn.execute(
        """
        INSERT INTO pole_calibrations (pole_id, metric, version, intercept, slope,
            humidity_coefficient, station_id, fitted_from, fitted_to, days, r2, rmse)
        SELECT %(pole_id)s, %(metric)s,
               coalesce((SELECT max(version) FROM pole_calibrations
                         WHERE pole_id = %(pole_id)s AND metric = %(metric)s), 0) + 1,
               %(intercept)s, %(slope)s, %(humidity_coefficient)s, %(station_id)s,
               %(fitted_from)s, %(fitted_to)s, %(days)s, %(r2)s, %(rmse)s
        RETURNING version
        """,
        calibration,
    ).fetchone()
    assert row is not None
    return int(row[0])


def nearby_poles(
    conn: psycopg.Connection[Any], latitude: float, longitude: float, degrees: float
) -> list[dict[str, Any]]:
    """Poles inside a latitude/longitude box around a point (the caller measures the
    distance exactly)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT pole_id, district, latitude, longitude FROM poles
            WHERE latitude BETWEEN %(lat)s - %(d)s AND %(lat)s + %(d)s
              AND longitude BETWEEN %(lon)s - %(dl)s AND %(lon)s + %(dl)s
            ORDER BY pole_id
            """,
            {"lat": latitude, "lon": longitude, "d": degrees, "dl": degrees * 3},
        )
        return cur.fetchall()


# --- the statistics table the Environment dashboard reads ----------------------------------------

STATISTICS_COLUMNS = (
    "site_kind",
    "site_id",
    "district",
    "year",
    "statistic",
    "rule_set",
    "in_force",
    "threshold",
    "allowed",
    "value",
    "published",
    "exceedances",
    "valid",
    "capture",
    "verdict",
    "correction",
)


def replace_statistics(
    conn: psycopg.Connection[Any], year: int, rows: Sequence[dict[str, Any]]
) -> int:
    """Replace the year's stored statistics with these, in one transaction."""
    with conn.transaction():
        conn.execute("DELETE FROM aq_statistics WHERE year = %s", (year,))
        columns = sql.SQL(", ").join(map(sql.Identifier, STATISTICS_COLUMNS))
        values = sql.SQL(", ").join(sql.Placeholder(c) for c in STATISTICS_COLUMNS)
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO aq_statistics ({}) VALUES ({})").format(columns, values),
                list(rows),
            )
    return len(rows)


def stored_statistics(conn: psycopg.Connection[Any], year: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT * FROM aq_statistics WHERE year = %s "
            "ORDER BY site_kind, site_id, statistic, rule_set",
            (year,),
        )
        return cur.fetchall()


def days_between(first: date, last: date) -> int:
    return (last - first).days + 1
