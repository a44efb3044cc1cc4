"""Rebuilding read models from what is stored, and the settings they depend on.

- `smartpole db migrate` records the zone of local days in `readmodel_settings`.
  The first time (a new database, or one upgraded to read models) it fills
  every rollup from the data already stored; when SMARTPOLE_TIMEZONE differs
  from the recorded zone, it rebuilds the local-day rollups (env days from
  env_hourly; light and EV days from the raw rows, so with a retention policy
  the days whose raw rows are gone are dropped rather than left in the old
  zone) and their district and city totals.
- `set_reporting_interval`: a pole's reporting interval decides how many
  readings make a valid hour; changing it recomputes that pole's env days.
- `regroup`: a pole moved to another district; the two districts' totals are
  recomputed from the per-pole rollups.

A rebuild locks the tables it rewrites (EXCLUSIVE, in the writer's lock order,
so the two cannot deadlock) for its transaction: ingest waits meanwhile (its
messages stay queued at the broker), readers go on. env_hourly is never
rebuilt here: it is kept from the raw rows it summarises and outlives their
retention.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from models.catalogue.families import ENV, FAMILIES
from storage.readmodels.spec import (
    ALL_ROLLUPS,
    DISTRICT,
    ENV_DAYS,
    ENV_HOURLY,
    LATEST_TABLES,
    LOCAL_ZONE_SETTING,
    POLE_ROLLUPS,
    SETTINGS_TABLE,
    Rollup,
)
from storage.readmodels.sql import (
    Q,
    columns_list,
    edge_credits,
    edge_passes,
    env_day_from_hours,
    group_rows,
    need_per_hour,
    reading_source,
    rebuild_edges,
    rollup_rows,
    valid_measures,
    valid_names,
)
from storage.tables import READING_TABLES

log = logging.getLogger(__name__)


def recorded_zone(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(
        sql.SQL("SELECT value FROM {} WHERE name = %s").format(Q(SETTINGS_TABLE)),
        (LOCAL_ZONE_SETTING,),
    ).fetchone()
    return None if row is None else str(row[0])


def lock_for_rebuild(conn: psycopg.Connection[Any], rollups: Sequence[Rollup]) -> None:
    """EXCLUSIVE locks on `rollups`, in the order the writer takes them."""
    wanted = [r.table for r in ALL_ROLLUPS if r in rollups]
    conn.execute(
        sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.SQL(", ").join(map(Q, wanted)))
    )


def _source_select(rollup: Rollup) -> sql.Composable:
    """SELECT of all of `rollup`'s rows from what is stored (key columns first)."""
    if rollup.scope == "group":
        source = POLE_ROLLUPS[rollup.family]
        return group_rows(rollup, source, source.table)
    if rollup in ENV_DAYS:
        need = need_per_hour(ENV, sql.SQL("h.pole_id"))
        valid = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(v, Q(n))
            for v, n in zip(valid_measures(rollup, "h", need), valid_names(rollup), strict=True)
        )
        return sql.SQL("WITH hours AS (SELECT h.*, {valid} FROM {hourly} h) {days}").format(
            valid=valid, hourly=Q(ENV_HOURLY.table), days=env_day_from_hours(rollup, "hours")
        )
    raw = READING_TABLES[rollup.family]
    passes = edge_passes(rollup)
    sources: list[sql.Composable] = [reading_source(rollup, raw)]
    for i, p in enumerate(passes):
        sources += edge_credits(rollup, p, f"e{i}")
    ctes = [rebuild_edges(rollup, p, i, raw) for i, p in enumerate(passes)]
    with_clause = sql.SQL("WITH {} ").format(sql.SQL(",\n").join(ctes)) if ctes else sql.SQL("")
    return sql.SQL("{}{}").format(with_clause, rollup_rows(rollup, sources))


def rebuild_sql(rollup: Rollup) -> sql.Composed:
    names = [c for c, _ in rollup.columns()]
    return sql.SQL("INSERT INTO {} ({}) {}").format(
        Q(rollup.table), columns_list(names), _source_select(rollup)
    )


def rebuild(conn: psycopg.Connection[Any], rollups: Sequence[Rollup]) -> None:
    """Recompute `rollups` (per-pole ones before the groups made of them) in one
    transaction."""
    ordered = [r for r in ALL_ROLLUPS if r in rollups]
    with conn.transaction():
        lock_for_rebuild(conn, ordered)
        for rollup in ordered:
            conn.execute(sql.SQL("TRUNCATE {}").format(Q(rollup.table)))
            conn.execute(rebuild_sql(rollup))
            log.info("rebuilt read model %s", rollup.table)


def rebuild_latest(conn: psycopg.Connection[Any]) -> None:
    """Refill the latest tables from the raw rows (as migration 0018 does)."""
    with conn.transaction():
        for family, table in LATEST_TABLES.items():
            spec = FAMILIES[family]
            keys = [k for k in spec.key_columns if k != "observed_at"]
            conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(Q(table)))
            conn.execute(sql.SQL("TRUNCATE {}").format(Q(table)))
            # Named columns: the raw tables have more than the latest ones (reading_id).
            names = columns_list([*spec.key_columns, "received_at", *spec.value_columns])
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} ({}) SELECT DISTINCT ON ({}) {} FROM {} ORDER BY {}"
                ).format(
                    Q(table),
                    names,
                    columns_list(keys),
                    names,
                    Q(spec.table),
                    sql.SQL(", ").join(sql.SQL("{} DESC").format(Q(k)) for k in spec.key_columns),
                )
            )


LOCAL_DAY_ROLLUPS: tuple[Rollup, ...] = tuple(r for r in ALL_ROLLUPS if r.zone == "local")
# A new database, or one upgraded to read models: everything but env_hourly,
# which the writer has always kept.
FIRST_BUILD: tuple[Rollup, ...] = tuple(r for r in ALL_ROLLUPS if r is not ENV_HOURLY)


def sync_local_zone(conn: psycopg.Connection[Any], zone: str) -> list[str]:
    """Make the local-day rollups be in `zone`; returns the tables rebuilt."""
    with conn.transaction():
        current = recorded_zone(conn)
        if current == zone:
            return []
        todo = FIRST_BUILD if current is None else LOCAL_DAY_ROLLUPS
        if current is not None:
            log.warning(
                "SMARTPOLE_TIMEZONE changed from %s to %s: rebuilding the local-day rollups",
                current,
                zone,
            )
        # First the zone (the rebuild's SQL reads it), then the rows in it.
        conn.execute(
            sql.SQL(
                "INSERT INTO {} AS s (name, value) VALUES (%s, %s) ON CONFLICT (name) "
                "DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
            ).format(Q(SETTINGS_TABLE)),
            (LOCAL_ZONE_SETTING, zone),
        )
        rebuild(conn, todo)
    return [r.table for r in todo]


def set_reporting_interval(
    conn: psycopg.Connection[Any],
    pole_id: str,
    interval_s: int | None,
    *,
    stamped_at_end: bool = False,
) -> None:
    """Record how often `pole_id` reports env readings (None: the catalogue's
    cadence) and whether its readings are interval means stamped at the interval's
    end, and recompute its env days, whose valid hours depend on the interval."""
    with conn.transaction():
        lock_for_rebuild(conn, ENV_DAYS)
        if interval_s is None:
            conn.execute(
                "DELETE FROM reporting_intervals WHERE pole_id = %s AND family = %s",
                (pole_id, ENV.family.value),
            )
        else:
            conn.execute(
                "INSERT INTO reporting_intervals AS r"
                " (pole_id, family, interval_s, stamped_at_end) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (pole_id, family) DO UPDATE SET interval_s = EXCLUDED.interval_s,"
                " stamped_at_end = EXCLUDED.stamped_at_end, updated_at = now()",
                (pole_id, ENV.family.value, interval_s, stamped_at_end),
            )
        for day in ENV_DAYS:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE pole_id = %s").format(Q(day.table)), (pole_id,)
            )
            names = [c for c, _ in day.columns()]
            conn.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT * FROM ({}) x WHERE x.pole_id = %s").format(
                    Q(day.table), columns_list(names), _source_select(day)
                ),
                (pole_id,),
            )


def regroup(conn: psycopg.Connection[Any], districts: Sequence[str]) -> None:
    """Recompute the district totals of `districts` (after a pole moved between
    them; the city's do not change); the caller's transaction holds the moved
    pole's row, so no writer adds to them meanwhile."""
    groups = [r for r in ALL_ROLLUPS if r.scope == "group"]
    lock_for_rebuild(conn, groups)
    for group in groups:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE group_kind = %s AND group_key = ANY(%s)").format(
                Q(group.table)
            ),
            (DISTRICT, list(districts)),
        )
        names = [c for c, _ in group.columns()]
        conn.execute(
            sql.SQL(
                "INSERT INTO {} ({}) SELECT * FROM ({}) x WHERE x.kind = %s AND x.key = ANY(%s)"
            ).format(Q(group.table), columns_list(names), _source_select(group)),
            (DISTRICT, list(districts)),
        )
