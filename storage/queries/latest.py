"""Latest readings: the newest *device* timestamp wins, never the last received.

A backlog replayed after an outage arrives late but is older; the writer keeps
the newest reading of each pole and family (and EV connector) by device time
in the `<family>_latest` tables, so these read one row per pole.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.catalogue.families import FAMILIES
from models.topics import Family
from storage.readmodels.spec import LATEST_TABLES

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
    query = sql.SQL("SELECT {} FROM {} WHERE pole_id = %s").format(
        _columns(family), sql.Identifier(LATEST_TABLES[family])
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, (pole_id,))
        return cur.fetchone()


def latest_connectors(
    conn: psycopg.Connection[Any], pole_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """The newest reading of every EV connector (of some poles, or of the city)."""
    where = sql.SQL("WHERE pole_id = ANY (%(pole_ids)s)") if pole_ids is not None else sql.SQL("")
    query = sql.SQL(
        "SELECT pole_id, connector_id, {columns} FROM {table} {where}"
        " ORDER BY pole_id, connector_id"
    ).format(
        columns=_columns(Family.EV), table=sql.Identifier(LATEST_TABLES[Family.EV]), where=where
    )
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
        clauses.append(sql.SQL("r.pole_id > %(after)s"))
    query = sql.SQL(
        """
        SELECT r.pole_id, p.district, {columns}
        FROM {table} r JOIN poles p ON p.pole_id = r.pole_id
        WHERE {where}
        ORDER BY r.pole_id
        LIMIT %(limit)s
        """
    ).format(
        columns=sql.SQL(", ").join(
            sql.Identifier("r", n) for n in ("observed_at", "received_at", *VALUE_COLUMNS[family])
        ),
        table=sql.Identifier(LATEST_TABLES[family]),
        where=sql.SQL(" AND ").join(clauses),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {"district": district, "after": after, "limit": limit})
        return cur.fetchall()
