"""What the writer runs for each family of a batch, in this order, in the batch's
transaction (storage/writer.py):

1. `raw_insert`: staged rows into the raw table, duplicates dropped; the rows
   actually inserted are kept in the temp table `fresh_<raw table>`.
2. `latest_upsert`: the newest fresh row per pole (connector) into
   `<family>_latest`, only where it is newer by device time. Its row locks also
   serialise the writers of one pole (connector) until commit: ON CONFLICT DO
   UPDATE locks the row even when the WHERE leaves it unchanged, so a second
   writer of the same pole waits here, and its next statements see the first
   one's committed rows, which the edge measures and the valid hours need.
3. the per-pole rollups: env: `env_rollups` (hourly, then the local and CET
   days with their valid hours, from the hourly rows' states before and after);
   the others: `pole_deltas` (readings and edges of the fresh rows into the
   temp table `delta_<rollup>`) and `apply_deltas`.
4. after the registry upsert (which locks the poles' rows, so a district cannot
   change under us): `group_upserts`, the city and district rollups, from the
   same deltas.
5. `feed_insert`: the change feed entry naming every fresh row.

Locks are taken family by family in catalogue order and, within a table, in key
order, so concurrent writers cannot deadlock on them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import psycopg
from psycopg import sql

from models.catalogue.families import ENV, FAMILIES
from models.topics import Family
from storage.readmodels.spec import (
    ENV_DAYS,
    ENV_HOURLY,
    FEED_TABLE,
    GROUP_ROLLUPS,
    LATEST_TABLES,
    POLE_ROLLUPS,
    Rollup,
)
from storage.readmodels.sql import (
    Q,
    columns_list,
    edge_credits,
    edge_passes,
    env_day_from_hours,
    group_rows,
    incremental_edges,
    need_per_hour,
    reading_measures,
    reading_source,
    rollup_rows,
    upsert,
    valid_measures,
    valid_names,
)
from storage.tables import READING_TABLES


def stage_table(family: Family) -> str:
    return f"stage_{READING_TABLES[family]}"


def fresh_table(family: Family) -> str:
    return f"fresh_{READING_TABLES[family]}"


def delta_table(rollup: Rollup) -> str:
    return f"delta_{rollup.table}"


def temp_tables(family: Family) -> list[tuple[str, str]]:
    """(temp table, the table it is LIKE) the writer needs for `family`."""
    raw = READING_TABLES[family]
    tables = [(stage_table(family), raw), (fresh_table(family), raw)]
    if family in POLE_ROLLUPS:
        rollup = POLE_ROLLUPS[family]
        tables.append((delta_table(rollup), rollup.table))
    return tables


def _raw_columns(family: Family) -> list[str]:
    spec = FAMILIES[family]
    return [*spec.key_columns, "received_at", *spec.value_columns]


@cache
def raw_insert(family: Family) -> sql.Composed:
    spec = FAMILIES[family]
    columns = columns_list(_raw_columns(family))
    return sql.SQL(
        """
        WITH inserted AS (
            INSERT INTO {raw} ({columns})
            SELECT {columns} FROM {stage} ORDER BY {key}  -- one lock order for every writer
            ON CONFLICT DO NOTHING
            RETURNING {columns}
        )
        INSERT INTO {fresh} ({columns}) SELECT {columns} FROM inserted
        """
    ).format(
        raw=Q(spec.table),
        columns=columns,
        stage=Q(stage_table(family)),
        key=columns_list(spec.key_columns),
        fresh=Q(fresh_table(family)),
    )


@cache
def latest_upsert(family: Family) -> sql.Composed:
    spec = FAMILIES[family]
    keys = [k for k in spec.key_columns if k != "observed_at"]
    names = _raw_columns(family)
    return sql.SQL(
        """
        INSERT INTO {latest} AS l ({columns})
        SELECT DISTINCT ON ({keys}) {columns} FROM {fresh} ORDER BY {keys}, observed_at DESC
        ON CONFLICT ({keys}) DO UPDATE SET {updates}
        WHERE EXCLUDED.observed_at > l.observed_at
        """
    ).format(
        latest=Q(LATEST_TABLES[family]),
        columns=columns_list(names),
        keys=columns_list(keys),
        fresh=Q(fresh_table(family)),
        updates=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=Q(c)) for c in names if c not in keys
        ),
    )


@cache
def env_rollups() -> sql.Composed:
    """The hourly env rollup, then its local and CET days: readings add up; an
    hour's valid-hour measures are taken away as they were and added as they are."""
    hourly = ENV_HOURLY
    hourly_names = [c for c, _ in hourly.columns()]
    # Once per pole and hour (every valid-hour expression reads it).
    need = sql.SQL("d.need")
    valid_fields = ENV_DAYS[0].valid_metrics
    state_columns = []
    for f in valid_fields:
        state_columns.append(f"{f.column}_count")
        state_columns.append(f"{f.column}_sum")
        if f.energetic:
            state_columns.append(f"{f.column}_energy_sum")
    state_columns = list(dict.fromkeys(state_columns))
    day = ENV_DAYS[0]
    before = valid_measures(day, "o", need, sign="- ")
    after = valid_measures(day, "r", need)
    change = sql.SQL(", ").join(
        sql.SQL("{} {} AS {}").format(a, b, Q(name))
        for a, b, name in zip(after, before, valid_names(day), strict=True)
    )
    days = [
        sql.SQL("{name} AS ({upsert})").format(
            name=Q(f"day_{i}"), upsert=upsert(rollup, env_day_from_hours(rollup, "hours"))
        )
        for i, rollup in enumerate(ENV_DAYS)
    ]
    return sql.SQL(
        """
        WITH d AS (
            SELECT f.pole_id, date_trunc('hour', f.observed_at, 'UTC') AS bucket, {measures},
                   {need_value} AS need
            FROM {fresh} f GROUP BY 1, 2
        ), saved AS (
            INSERT INTO {delta} ({names}) SELECT {names} FROM d
        ), o AS MATERIALIZED (  -- the hours as they were: read once, before r changes them
            SELECT h.pole_id, h.bucket, {h_state} FROM d JOIN {hourly} h USING (pole_id, bucket)
        ), r AS (
            {hourly_upsert}
            RETURNING t.pole_id, t.bucket, {t_state}
        ), hours AS (
            SELECT d.*, {change}
            FROM d JOIN r USING (pole_id, bucket) LEFT JOIN o USING (pole_id, bucket)
        ), {days}
        SELECT 1
        """
    ).format(
        measures=reading_measures(hourly, "f"),
        need_value=need_per_hour(ENV, sql.SQL("f.pole_id")),
        fresh=Q(fresh_table(Family.ENV)),
        delta=Q(delta_table(hourly)),
        names=columns_list(hourly_names),
        h_state=columns_list(state_columns, "h"),
        hourly=Q(hourly.table),
        hourly_upsert=upsert(
            hourly, sql.SQL("SELECT {} FROM d").format(columns_list(hourly_names))
        ),
        t_state=columns_list(state_columns, "t"),
        change=change,
        days=sql.SQL(", ").join(days),
    )


@cache
def pole_deltas(family: Family) -> sql.Composed:
    """INSERT INTO delta_<rollup>: per pole (connector) and bucket, what the fresh
    rows add, readings and edges."""
    rollup = POLE_ROLLUPS[family]
    raw = READING_TABLES[family]
    fresh = fresh_table(family)
    passes = edge_passes(rollup)
    ctes = [incremental_edges(rollup, p, i, fresh, raw) for i, p in enumerate(passes)]
    sources: list[sql.Composable] = [reading_source(rollup, fresh)]
    for i, p in enumerate(passes):
        sources += edge_credits(rollup, p, f"e{i}")
    names = [c for c, _ in rollup.columns()]
    with_clause = sql.SQL("WITH {} ").format(sql.SQL(",\n").join(ctes)) if ctes else sql.SQL("")
    return sql.SQL("{with_clause}INSERT INTO {delta} ({names}) {rows}").format(
        with_clause=with_clause,
        delta=Q(delta_table(rollup)),
        names=columns_list(names),
        rows=rollup_rows(rollup, sources),
    )


@cache
def apply_deltas(family: Family) -> sql.Composed:
    rollup = POLE_ROLLUPS[family]
    names = [c for c, _ in rollup.columns()]
    return upsert(
        rollup,
        sql.SQL("SELECT {} FROM {}").format(columns_list(names), Q(delta_table(rollup))),
    )


@cache
def group_upserts(family: Family) -> tuple[sql.Composed, ...]:
    source = POLE_ROLLUPS[family]
    return tuple(
        upsert(group, group_rows(group, source, delta_table(source)))
        for group in GROUP_ROLLUPS[family]
    )


@cache
def feed_insert(family: Family) -> sql.Composed:
    spec = FAMILIES[family]
    connectors = (
        sql.SQL("array_agg(connector_id ORDER BY pole_id, connector_id, observed_at)")
        if spec.has_connector
        else sql.SQL("NULL")
    )
    order = columns_list(spec.key_columns)
    return sql.SQL(
        """
        INSERT INTO {feed} (kind, pole_ids, connector_ids, observed_ats)
        SELECT {kind}, array_agg(pole_id ORDER BY {order}), {connectors},
               array_agg(observed_at ORDER BY {order})
        FROM {fresh} HAVING count(*) > 0
        """
    ).format(
        feed=Q(FEED_TABLE),
        kind=sql.Literal(family.value),
        order=order,
        connectors=connectors,
        fresh=Q(fresh_table(family)),
    )


def merge_staged(cur: psycopg.Cursor[Any], family: Family) -> int:
    """Steps 1-3 for the rows staged in `stage_<raw table>`: returns how many were new.
    (The writer stages with COPY; where COPY cannot run, e.g. the PGlite test
    server, the same merge runs on rows staged with INSERT.)"""
    cur.execute(raw_insert(family))
    inserted = cur.rowcount
    if inserted and family in LATEST_TABLES:
        cur.execute(latest_upsert(family))
        if family is Family.ENV:
            cur.execute(env_rollups())
        elif family in POLE_ROLLUPS:
            cur.execute(pole_deltas(family))
            cur.execute(apply_deltas(family))
    # The staged rows are done with; the next batch on this connection may come
    # inside the same outer transaction (see ReadingWriter.write_batch).
    cur.execute(sql.SQL("TRUNCATE {}").format(Q(stage_table(family))))
    return inserted
