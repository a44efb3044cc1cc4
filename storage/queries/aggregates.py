"""City-wide and per-district aggregates of one metric, bucketed in local time.

Averages are weighted by readings (sum of sums over sum of counts), so a
district is not skewed by a pole that reports less often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from storage.queries.buckets import plan_buckets
from storage.queries.catalog import Aggregate, Interval, Metric
from storage.queries.series import ROLLUP_TABLE, raw_value, rollup_value

Grouping = Literal["city", "district"]
# Poles without a district are grouped under this key (NULL cannot be a keyset key).
NO_DISTRICT = ""


@dataclass(frozen=True, slots=True)
class AggregateRequest:
    metric: Metric
    group: Grouping
    interval: Interval
    agg: Aggregate
    tz: str
    start: datetime
    end: datetime
    district: str | None = None
    after: tuple[datetime, str] | None = None  # (bucket, group key)
    limit: int = 1000


def fetch_aggregates(
    conn: psycopg.Connection[Any], req: AggregateRequest
) -> list[tuple[datetime, str, float | None]]:
    """Rows (bucket, group key, value) ordered by bucket, then key."""
    if req.interval == "raw":
        raise ValueError("aggregates need an interval, not raw")
    metric = req.metric
    use_rollup = metric.has_hourly_rollup and req.interval in ("hour", "day", "month")
    time_col = sql.SQL("t.bucket" if use_rollup else "t.observed_at")
    plan = plan_buckets(req.interval, req.tz, req.start, req.end)
    bucket = time_col if use_rollup and req.interval == "hour" else plan.bucket_of(time_col)
    if use_rollup:
        value = rollup_value(metric, req.agg)
        present = sql.SQL("sum({}) > 0").format(sql.Identifier(f"{metric.column}_count"))
        table = sql.Identifier(ROLLUP_TABLE)
    else:
        value = raw_value(metric, req.agg)
        present = sql.SQL("count({}) > 0").format(sql.Identifier(metric.column))
        table = sql.Identifier(metric.table)
    key = sql.SQL("'city'") if req.group == "city" else sql.SQL("coalesce(p.district, '')")
    district = sql.SQL("AND p.district = %(district)s") if req.district else sql.SQL("")
    after = (
        sql.SQL("AND ({b}, {k}) > (%(after_time)s, %(after_key)s)").format(b=bucket, k=key)
        if req.after
        else sql.SQL("")
    )
    after_scan = (
        sql.SQL("AND {t} >= %(after_time)s").format(t=time_col) if req.after else sql.SQL("")
    )
    query = sql.SQL(
        """
        SELECT {bucket} AS time, {key} AS key, {value} AS value
        FROM {table} t JOIN poles p ON p.pole_id = t.pole_id
        WHERE {time_col} >= %(range_start)s AND {time_col} < %(range_end)s {after_scan} {district}
        GROUP BY 1, 2
        HAVING {present} {after}
        ORDER BY 1, 2
        LIMIT %(limit)s
        """
    ).format(
        bucket=bucket,
        key=key,
        value=value,
        table=table,
        time_col=time_col,
        after_scan=after_scan,
        district=district,
        present=present,
        after=after,
    )
    params = {
        **plan.params(),
        "tz": req.tz,
        "start": req.start,
        "end": req.end,
        "district": req.district,
        "after_time": req.after[0] if req.after else None,
        "after_key": req.after[1] if req.after else None,
        "limit": req.limit,
    }
    with conn.cursor() as cur:
        cur.execute(query, params)
        return [(row[0], row[1], row[2]) for row in cur.fetchall()]
