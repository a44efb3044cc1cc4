"""Time buckets, planned in Python once per request instead of per row in SQL.

5-minute and hour buckets are fixed widths aligned to UTC (every zone in use
today is offset by a multiple of 5 minutes; for whole-hour zones such as
Europe/Berlin a UTC hour is a local hour). Day and month buckets are local
calendar units of the requested zone: their UTC boundaries are computed here
with zoneinfo (so a DST day is 23 or 25 hours) and passed as one sorted array;
SQL finds a row's bucket with `width_bucket` (a binary search), which is far
cheaper than converting every row's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import sql

from storage.queries.catalog import Interval

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
FIXED_WIDTHS: dict[str, timedelta] = {"5min": timedelta(minutes=5), "hour": timedelta(hours=1)}
_FIXED_SQL = {"5min": "5 minutes", "hour": "1 hour"}
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class BucketPlan:
    interval: Interval
    start: datetime  # the first bucket's start
    end: datetime  # the last bucket's end
    thresholds: list[datetime] | None  # local calendar buckets: every boundary, sorted

    def params(self) -> dict[str, Any]:
        return {"range_start": self.start, "range_end": self.end, "thresholds": self.thresholds}

    def bucket_of(self, column: sql.Composable) -> sql.Composable:
        """The start of the bucket `column` (a timestamptz within the plan) falls in."""
        if self.thresholds is None:
            return sql.SQL(
                "date_bin({w}::interval, {c}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
            ).format(w=sql.Literal(_FIXED_SQL[self.interval]), c=column)
        return sql.SQL(
            "(%(thresholds)s::timestamptz[])[width_bucket({c}, %(thresholds)s::timestamptz[])]"
        ).format(c=column)


def _floor_fixed(value: datetime, width: timedelta) -> datetime:
    return ORIGIN + ((value - ORIGIN) // width) * width


def _next_local(day: date, interval: Interval) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def plan_buckets(interval: Interval, tz: str, start: datetime, end: datetime) -> BucketPlan:
    """Buckets covering [start, end), widened to whole buckets at both ends."""
    if interval in FIXED_WIDTHS:
        width = FIXED_WIDTHS[interval]
        first = _floor_fixed(start, width)
        last_end = _floor_fixed(end - MICROSECOND, width) + width
        return BucketPlan(interval, first, last_end, None)
    if interval not in ("day", "month"):
        raise ValueError(f"no buckets for interval {interval!r}")
    zone = ZoneInfo(tz)
    local = start.astimezone(zone).date()
    day = local if interval == "day" else local.replace(day=1)
    thresholds: list[datetime] = []
    while True:
        boundary = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
        if not thresholds or boundary > thresholds[-1]:
            thresholds.append(boundary)
        if boundary >= end and len(thresholds) >= 2:
            break
        day = _next_local(day, interval)
    return BucketPlan(interval, thresholds[0], thresholds[-1], thresholds)
