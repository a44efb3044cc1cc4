"""Time series of one metric of one pole: raw, or aggregated into buckets.

Buckets: 5 min and hour are fixed widths aligned to UTC (every time zone in
use today is offset by a multiple of 5 minutes, and for whole-hour zones such
as Europe/Berlin a UTC hour is a local hour); day and month are local to the
requested time zone, so a DST day has 23 or 25 hours. `start`/`end` are
widened to whole buckets, so no bucket is cut short at either edge.

Hour, day and month buckets read the rollups the writer keeps exact (late data
included) wherever one fits (storage/queries/rollups.py); 5-minute buckets,
raw series, and buckets no rollup fits aggregate the raw table.

Paging is keyset: `after` is the last bucket (or raw timestamp) the client
has seen; the next page holds the buckets strictly after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from models.topics import Family
from storage.queries.buckets import plan_buckets
from storage.queries.catalog import Aggregate, Interval, Metric
from storage.queries.rollups import bucket_is_native, local_zone, pole_rollup

EXPORT_CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class SeriesRequest:
    pole_id: str
    metric: Metric
    interval: Interval
    agg: Aggregate
    tz: str
    start: datetime
    end: datetime
    connector_id: int | None = None
    after: datetime | None = None
    limit: int | None = None  # None: every row (the CSV export)


def raw_value(metric: Metric, agg: Aggregate) -> sql.Composable:
    col = sql.Identifier(metric.column)
    if agg == "avg" and metric.energetic:
        return sql.SQL("10 * log10(avg(power(10::double precision, {} / 10.0)))").format(col)
    function = {"avg": "avg", "min": "min", "max": "max", "sum": "sum", "count": "count"}[agg]
    return sql.SQL("{}({})::double precision").format(sql.Identifier(function), col)


def rollup_value(metric: Metric, agg: Aggregate) -> sql.Composable:
    m = metric.column
    count, total = sql.Identifier(f"{m}_count"), sql.Identifier(f"{m}_sum")
    if agg == "avg" and metric.energetic:
        return sql.SQL("10 * log10(sum({}) / sum({}))").format(
            sql.Identifier(metric.energy_sum_column), count
        )
    if agg == "avg":
        return sql.SQL("sum({}) / sum({})").format(total, count)
    if agg == "sum":
        return sql.SQL("sum({})").format(total)
    if agg == "count":
        return sql.SQL("sum({})::double precision").format(count)
    return sql.SQL("{}({})::double precision").format(
        sql.Identifier(agg), sql.Identifier(f"{m}_{agg}")
    )


def series_query(req: SeriesRequest, zone: str | None) -> tuple[sql.Composed, dict[str, Any]]:
    """The SELECT (time, value) for `req`, ordered by time; `zone` is the daily
    rollups' local zone."""
    metric = req.metric
    if (metric.family is Family.EV) != (req.connector_id is not None):
        raise ValueError("an ev series needs a connector id, other families none")
    params: dict[str, Any] = {
        "pole_id": req.pole_id,
        "tz": req.tz,
        "start": req.start,
        "end": req.end,
        "after": req.after,
        "connector_id": req.connector_id,
        "limit": req.limit,
    }
    connector = sql.SQL("AND connector_id = %(connector_id)s") if req.connector_id else sql.SQL("")
    limit = sql.SQL("LIMIT %(limit)s") if req.limit is not None else sql.SQL("")
    col = sql.Identifier(metric.column)
    if req.interval == "raw":
        raw_after = sql.SQL("AND observed_at > %(after)s") if req.after else sql.SQL("")
        query = sql.SQL(
            """
            SELECT observed_at AS time, {col}::double precision AS value
            FROM {table}
            WHERE pole_id = %(pole_id)s {connector}
              AND observed_at >= %(start)s AND observed_at < %(end)s {after}
              AND {col} IS NOT NULL
            ORDER BY observed_at
            {limit}
            """
        ).format(
            col=col,
            table=sql.Identifier(metric.table),
            connector=connector,
            after=raw_after,
            limit=limit,
        )
        return query, params

    plan = plan_buckets(req.interval, req.tz, req.start, req.end)
    params |= plan.params()
    rollup = pole_rollup(metric.family, req.interval, req.tz, zone)
    use_rollup = rollup is not None
    time_col = sql.Identifier("bucket" if use_rollup else "observed_at")
    native = rollup is not None and bucket_is_native(rollup, req.interval)
    bucket = time_col if native else plan.bucket_of(time_col)
    after: sql.Composable = sql.SQL("")
    after_bucket: sql.Composable = sql.SQL("")
    if req.after:
        after = sql.SQL("AND {t} > %(after)s").format(t=time_col)
        after_bucket = sql.SQL("AND {b} > %(after)s").format(b=bucket)
    filter_nulls: sql.Composable = sql.SQL("")
    if use_rollup:
        value = rollup_value(metric, req.agg)
        present = sql.SQL("sum({}) > 0").format(sql.Identifier(f"{metric.column}_count"))
        assert rollup is not None
        table = sql.Identifier(rollup.table)
    else:
        value = raw_value(metric, req.agg)
        present = sql.SQL("count({}) > 0").format(col)
        table = sql.Identifier(metric.table)
        filter_nulls = sql.SQL("AND {} IS NOT NULL").format(col)
    query = sql.SQL(
        """
        SELECT {bucket} AS time, {value} AS value
        FROM {table}
        WHERE pole_id = %(pole_id)s {connector}
          AND {time_col} >= %(range_start)s AND {time_col} < %(range_end)s {after} {filter_nulls}
        GROUP BY 1
        HAVING {present} {after_bucket}
        ORDER BY 1
        {limit}
        """
    ).format(
        bucket=bucket,
        value=value,
        table=table,
        connector=connector,
        time_col=time_col,
        after=after,
        filter_nulls=filter_nulls,
        present=present,
        after_bucket=after_bucket,
        limit=limit,
    )
    return query, params


def fetch_series(
    conn: psycopg.Connection[Any], req: SeriesRequest
) -> list[tuple[datetime, float | None]]:
    query, params = series_query(req, local_zone(conn))
    with conn.cursor() as cur:
        cur.execute(query, params)
        return [(row[0], row[1]) for row in cur.fetchall()]


def export_series_csv(conn: psycopg.Connection[Any], req: SeriesRequest) -> Iterator[bytes]:
    """Stream the whole series as CSV (header `time,value`), chunk by chunk.

    COPY TO STDOUT formats in the server and streams: memory stays flat however
    many rows there are. Timestamps are written in the request's time zone,
    set for this transaction only."""
    query, params = series_query(req, local_zone(conn))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT set_config('TimeZone', %s, true)", (req.tz,))
        # An export may take minutes for millions of rows; the API's per-query
        # timeout guards interactive reads, not this.
        cur.execute("SET LOCAL statement_timeout = 0")
        copy_stmt = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)
        # The server sends one message per row; hand them on in larger chunks
        # (each chunk costs the web server a thread hop and a socket write).
        buffer = bytearray()
        with cur.copy(copy_stmt, params) as copy:
            for row in copy:
                buffer += row
                if len(buffer) >= EXPORT_CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
        if buffer:
            yield bytes(buffer)
