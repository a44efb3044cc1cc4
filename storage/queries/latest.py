"""Latest readings: the newest *device* timestamp wins, never the last received.

A backlog replayed after an outage arrives late but is older; ordering by
observed_at (the primary-key index, read backwards) keeps it from posing as
the current value.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.catalogue.families import FAMILIES
from models.topics import Family
from storage.tables import READING_TABLES

VALUE_COLUMNS: dict[Family, tuple[str, ...]] = {
    family: spec.value_columns for family, spec in FAMILIES.items()
}


def _columns(family: Family) -> sql.Composable:
    names = ("observed_at", "received_at", *VALUE_COLUMNS[family])
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def latest_of_pole(
    conn: psycopg.Connection[Any], pole_id: str, family: Family
) -> dict[str, Any] | None:
    """The newest env, light or wifi reading of one pole."""
    query = sql.SQL(
        "SELECT {} FROM {} WHERE pole_id = %s ORDER BY observed_at DESC LIMIT 1"
    ).format(_columns(family), sql.Identifier(READING_TABLES[family]))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, (pole_id,))
        return cur.fetchone()


def latest_connectors(
    conn: psycopg.Connection[Any], pole_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """The newest reading of every EV connector (of some poles, or of the city).

    The connectors are found with a loose index scan (one index probe per
    connector, not a scan of the whole history), then each one's newest row."""
    connector_filter = (
        sql.SQL("AND e.pole_id = ANY (%(pole_ids)s)") if pole_ids is not None else sql.SQL("")
    )
    query = sql.SQL(
        """
        WITH RECURSIVE connectors AS (
            (SELECT e.pole_id, e.connector_id FROM ev_readings e WHERE true {connector_filter}
             ORDER BY e.pole_id, e.connector_id LIMIT 1)
            UNION ALL
            SELECT n.pole_id, n.connector_id
            FROM connectors c CROSS JOIN LATERAL (
                SELECT e.pole_id, e.connector_id FROM ev_readings e
                WHERE (e.pole_id, e.connector_id) > (c.pole_id, c.connector_id)
                      {connector_filter}
                ORDER BY e.pole_id, e.connector_id LIMIT 1
            ) n
        )
        SELECT c.pole_id, c.connector_id, r.*
        FROM connectors c CROSS JOIN LATERAL (
            SELECT {columns} FROM ev_readings e
            WHERE e.pole_id = c.pole_id AND e.connector_id = c.connector_id
            ORDER BY e.observed_at DESC LIMIT 1
        ) r
        ORDER BY c.pole_id, c.connector_id
        """
    ).format(connector_filter=connector_filter, columns=_columns(Family.EV))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {"pole_ids": pole_ids})
        return cur.fetchall()


def latest_of_city(
    conn: psycopg.Connection[Any],
    family: Family,
    district: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The newest reading of `family` for each pole (poles without one are left out),
    one page ordered by pole id."""
    clauses: list[sql.Composable] = [sql.SQL("p.decommissioned_at IS NULL")]  # current poles
    if district is not None:
        clauses.append(sql.SQL("p.district = %(district)s"))
    if after is not None:
        clauses.append(sql.SQL("p.pole_id > %(after)s"))
    query = sql.SQL(
        """
        SELECT p.pole_id, p.district, r.*
        FROM poles p CROSS JOIN LATERAL (
            SELECT {columns} FROM {table} t
            WHERE t.pole_id = p.pole_id ORDER BY t.observed_at DESC LIMIT 1
        ) r
        WHERE {where}
        ORDER BY p.pole_id
        LIMIT %(limit)s
        """
    ).format(
        columns=_columns(family),
        table=sql.Identifier(READING_TABLES[family]),
        where=sql.SQL(" AND ").join(clauses),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {"district": district, "after": after, "limit": limit})
        return cur.fetchall()
