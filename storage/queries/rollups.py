"""Which rollup answers a read: the coarsest one whose buckets fit the request.

- hour buckets: the family's hourly rollup (env, Wi-Fi); light and EV have none
  and read raw rows;
- day and month buckets local to SMARTPOLE_TIMEZONE (the zone the daily rollups
  were built in, as `smartpole db migrate` recorded it): the daily rollups; in
  CET (UTC+1, `Etc/GMT-1`), env's statistics days; in any other zone, days are
  made of the hourly rollup's UTC hours (env, Wi-Fi) or of raw rows.

Per-pole reads use the per-pole rollups, city and district aggregates the group
rollups (one row per district and bucket), falling back to the per-pole ones
when the groups' days are in another zone.
"""

from __future__ import annotations

from typing import Any

import psycopg

from models.catalogue.air_quality import STATISTICS_TIME_ZONE
from models.topics import Family
from storage.queries.catalog import Interval
from storage.readmodels.rebuild import recorded_zone
from storage.readmodels.spec import (
    ENV_DAILY,
    ENV_DAILY_CET,
    ENV_HOURLY,
    GROUP_ROLLUPS,
    POLE_ROLLUPS,
    Rollup,
)


def local_zone(conn: psycopg.Connection[Any]) -> str | None:
    """The zone of the daily rollups' local days (read per request: a change of
    SMARTPOLE_TIMEZONE rebuilds them, and a reader must not go on assuming the old)."""
    return recorded_zone(conn)


def pole_rollup(family: Family, interval: Interval, tz: str, zone: str | None) -> Rollup | None:
    if interval not in ("hour", "day", "month") or family not in POLE_ROLLUPS:
        return None
    finest = POLE_ROLLUPS[family]
    if interval == "hour":
        return finest if finest.grain == "hour" else None
    if family is Family.ENV:
        if tz == zone:
            return ENV_DAILY
        return ENV_DAILY_CET if tz == STATISTICS_TIME_ZONE else ENV_HOURLY
    if finest.grain == "hour":
        return finest
    return finest if tz == zone else None


def group_rollup(family: Family, interval: Interval, tz: str, zone: str | None) -> Rollup | None:
    if interval not in ("hour", "day", "month") or family not in GROUP_ROLLUPS:
        return None
    for group in GROUP_ROLLUPS[family]:
        if interval == "hour" and group.grain == "hour":
            return group
        if interval in ("day", "month") and group.grain == "day" and tz == zone:
            return group
    if interval in ("day", "month"):
        hourly = [g for g in GROUP_ROLLUPS[family] if g.grain == "hour"]
        # Days of another zone from hourly groups: only where the family has no daily ones.
        if hourly and all(g.grain == "hour" for g in GROUP_ROLLUPS[family]):
            return hourly[0]
    return None


def bucket_is_native(rollup: Rollup, interval: Interval) -> bool:
    """The rollup's own buckets are the requested ones (no regrouping needed)."""
    return rollup.grain == interval
