"""EV charging: where to charge now, sessions, energy delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.topics import Family
from storage.queries.buckets import plan_buckets
from storage.queries.catalog import Interval
from storage.queries.latest import VALUE_COLUMNS
from storage.queries.rollups import bucket_is_native, group_rollup, local_zone, pole_rollup
from storage.readmodels.spec import CITY, DISTRICT, increase_column

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True, slots=True)
class ConnectorFilter:
    status: str | None = None
    district: str | None = None
    pole_id: str | None = None
    near: tuple[float, float] | None = None  # (lat, lon): order by distance
    max_distance_m: float | None = None


def find_connectors(
    conn: psycopg.Connection[Any],
    filters: ConnectorFilter,
    after: tuple[float, str, int] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Connectors with their current (newest device time) OCPP status, from the
    latest table the writer keeps (one row per connector).

    Ordered by (distance, pole, connector) when `near` is given, else by
    (pole, connector); `after` is the last such key of the previous page
    (distance 0 when not ordering by distance)."""
    columns = sql.SQL(", ").join(
        sql.Identifier("r", c) for c in ("observed_at", *VALUE_COLUMNS[Family.EV])
    )
    clauses: list[sql.Composable] = [sql.SQL("p.decommissioned_at IS NULL")]  # current poles
    if filters.status is not None:
        clauses.append(sql.SQL("r.status = %(status)s"))
    if filters.district is not None:
        clauses.append(sql.SQL("p.district = %(district)s"))
    if filters.pole_id is not None:
        clauses.append(sql.SQL("p.pole_id = %(pole_id)s"))
    if filters.near is not None:
        # Haversine; poles without coordinates cannot be near anything. The
        # differences are rounded to 1e-9 degrees (0.1 mm) because PostgreSQL
        # raises on float underflow (squaring 1e-200), and the root is clamped
        # to 1 so rounding at antipodes cannot leave asin's domain.
        distance = sql.SQL(
            "(2 * %(radius)s * asin(least(1, sqrt("
            "power(sin(radians(round((p.latitude - %(lat)s)::numeric, 9)::float8) / 2), 2)"
            " + cos(radians(round(p.latitude::numeric, 9)::float8)) * cos(radians(%(lat)s))"
            " * power(sin(radians(round((p.longitude - %(lon)s)::numeric, 9)::float8) / 2), 2)"
            "))))"
        )
        clauses.append(sql.SQL("p.latitude IS NOT NULL AND p.longitude IS NOT NULL"))
    else:
        distance = sql.SQL("0::double precision")
    query = sql.SQL(
        """
        WITH current AS (
            SELECT p.pole_id, r.connector_id, p.district, p.latitude, p.longitude,
                   {distance} AS distance_m, pc.max_power_kw, pc.plug_type, {columns}
            FROM ev_latest r
            JOIN poles p ON p.pole_id = r.pole_id
            LEFT JOIN pole_connectors pc
                   ON pc.pole_id = r.pole_id AND pc.connector_id = r.connector_id
            WHERE {where}
        )
        SELECT * FROM current
        WHERE {within} {after}
        ORDER BY distance_m, pole_id, connector_id
        LIMIT %(limit)s
        """
    ).format(
        distance=distance,
        columns=columns,
        where=sql.SQL(" AND ").join(clauses),
        within=sql.SQL("distance_m <= %(max_distance)s")
        if filters.max_distance_m is not None
        else sql.SQL("true"),
        after=sql.SQL(
            "AND (distance_m, pole_id, connector_id) > (%(after_d)s, %(after_p)s, %(after_c)s)"
        )
        if after
        else sql.SQL(""),
    )
    params = {
        "status": filters.status,
        "district": filters.district,
        "pole_id": filters.pole_id,
        "radius": EARTH_RADIUS_M,
        "lat": round(filters.near[0], 9) if filters.near else None,
        "lon": round(filters.near[1], 9) if filters.near else None,
        "max_distance": filters.max_distance_m,
        "after_d": after[0] if after else None,
        "after_p": after[1] if after else None,
        "after_c": after[2] if after else None,
        "limit": limit,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def list_sessions(
    conn: psycopg.Connection[Any],
    *,
    start: datetime,
    end: datetime,
    pole_id: str | None,
    after: tuple[datetime, str, int, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Charging sessions (readings sharing a transaction id) that have readings
    in [start, end), ordered by start; energy is the meter difference."""
    pole = sql.SQL("AND pole_id = %(pole_id)s") if pole_id else sql.SQL("")
    after_clause = (
        sql.SQL(
            "HAVING (min(observed_at), pole_id, connector_id, transaction_id) > "
            "(%(a_t)s, %(a_p)s, %(a_c)s, %(a_x)s)"
        )
        if after
        else sql.SQL("")
    )
    query = sql.SQL(
        """
        SELECT pole_id, connector_id, transaction_id,
               min(observed_at) AS started_at, max(observed_at) AS last_reading_at,
               max(total_active_energy_import) - min(total_active_energy_import) AS energy_kwh,
               max(charging_power) AS peak_power_kw, count(*) AS readings
        FROM ev_readings
        WHERE transaction_id IS NOT NULL AND observed_at >= %(start)s AND observed_at < %(end)s
              {pole}
        GROUP BY pole_id, connector_id, transaction_id
        {after}
        ORDER BY started_at, pole_id, connector_id, transaction_id
        LIMIT %(limit)s
        """
    ).format(pole=pole, after=after_clause)
    params = {
        "start": start,
        "end": end,
        "pole_id": pole_id,
        "limit": limit,
        "a_t": after[0] if after else None,
        "a_p": after[1] if after else None,
        "a_c": after[2] if after else None,
        "a_x": after[3] if after else None,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()


EnergyGrouping = Literal["city", "district", "pole"]


def energy_delivered(
    conn: psycopg.Connection[Any],
    *,
    interval: Interval,
    group: EnergyGrouping,
    tz: str,
    start: datetime,
    end: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[datetime, str, float]]:
    """kWh delivered per bucket and group: the increase of each connector's
    meter between consecutive readings, counted in the bucket of the later one
    (a meter that went backwards, e.g. replaced, counts zero). Local days and
    months come from the daily rollups the writer keeps (per district and city,
    or per connector for group=pole); hours from the raw rows."""
    zone = local_zone(conn)
    rollup = (
        pole_rollup(Family.EV, interval, tz, zone)
        if group == "pole"
        else group_rollup(Family.EV, interval, tz, zone)
    )
    plan = plan_buckets(interval, tz, start, end)
    params = {
        **plan.params(),
        "tz": tz,
        "start": start,
        "end": end,
        "limit": limit,
        "after_time": after[0] if after else None,
        "after_key": after[1] if after else None,
        "city": CITY,
        "district_kind": DISTRICT,
    }
    if rollup is not None:
        time_col = sql.SQL("t.bucket")
        bucket = time_col if bucket_is_native(rollup, interval) else plan.bucket_of(time_col)
        rkey = {
            "city": sql.SQL("%(city)s::text"),
            "district": sql.SQL("t.group_key"),
            "pole": sql.SQL("t.pole_id"),
        }[group]
        kind = {
            "city": sql.SQL("AND t.group_kind = %(city)s"),
            "district": sql.SQL("AND t.group_kind = %(district_kind)s"),
            "pole": sql.SQL(""),
        }[group]
        query = sql.SQL(
            """
            SELECT {bucket} AS time, {key} AS key, coalesce(sum({increase}), 0) AS kwh
            FROM {table} t
            WHERE t.bucket >= %(range_start)s AND t.bucket < %(range_end)s {kind}
            GROUP BY 1, 2
            {after}
            ORDER BY 1, 2
            LIMIT %(limit)s
            """
        ).format(
            bucket=bucket,
            key=rkey,
            increase=sql.Identifier(increase_column("total_active_energy_import")),
            table=sql.Identifier(rollup.table),
            kind=kind,
            after=sql.SQL("HAVING ({b}, {k}) > (%(after_time)s, %(after_key)s)").format(
                b=bucket, k=rkey
            )
            if after
            else sql.SQL(""),
        )
        with conn.cursor() as cur:
            cur.execute(query, params)
            return [(row[0], row[1], float(row[2])) for row in cur.fetchall()]
    key = {
        "city": sql.SQL("'city'"),
        "district": sql.SQL("coalesce(p.district, '')"),
        "pole": sql.SQL("d.pole_id"),
    }[group]
    time_col = sql.SQL("d.observed_at")
    bucket = plan.bucket_of(time_col)
    after_clause = (
        sql.SQL("HAVING ({b}, {k}) > (%(after_time)s, %(after_key)s)").format(b=bucket, k=key)
        if after
        else sql.SQL("")
    )
    query = sql.SQL(
        """
        WITH deltas AS (
            SELECT e.pole_id, e.observed_at,
                   greatest(e.total_active_energy_import - lag(e.total_active_energy_import)
                            OVER (PARTITION BY e.pole_id, e.connector_id ORDER BY e.observed_at),
                            0) AS kwh
            FROM ev_readings e
            WHERE e.observed_at >= %(range_start)s AND e.observed_at < %(range_end)s
              AND e.total_active_energy_import IS NOT NULL
        )
        SELECT {bucket} AS time, {key} AS key, coalesce(sum(d.kwh), 0) AS kwh
        FROM deltas d JOIN poles p ON p.pole_id = d.pole_id
        GROUP BY 1, 2
        {after}
        ORDER BY 1, 2
        LIMIT %(limit)s
        """
    ).format(
        bucket=bucket,
        key=key,
        after=after_clause,
    )
    with conn.cursor() as cur:
        cur.execute(query, params)
        return [(row[0], row[1], float(row[2])) for row in cur.fetchall()]
