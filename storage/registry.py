"""Admin writes of the pole registry: location, district, capabilities, notes.

Ingest owns the observed columns (first/last seen, status, firmware); these
functions touch only the fields an operator maintains.
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from storage.queries.poles import POLE_COLUMNS

REGISTRY_FIELDS: tuple[LiteralString, ...] = (
    "name",
    "district",
    "latitude",
    "longitude",
    "capabilities",
    "notes",
)


def put_pole(
    conn: psycopg.Connection[Any], pole_id: str, fields: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Create the pole or replace its registry fields (absent ones become NULL,
    capabilities empty). Returns the pole and whether it was created."""
    values = _rounded({name: fields.get(name) for name in REGISTRY_FIELDS})
    if values["capabilities"] is None:
        values["capabilities"] = []
    query = sql.SQL(
        """
        INSERT INTO poles AS p (pole_id, {columns}) VALUES (%(pole_id)s, {placeholders})
        ON CONFLICT (pole_id) DO UPDATE SET {updates}, updated_at = now()
        RETURNING {returning}, (xmax = 0) AS created
        """
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, REGISTRY_FIELDS)),
        placeholders=sql.SQL(", ").join(map(sql.Placeholder, REGISTRY_FIELDS)),
        updates=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(n)) for n in REGISTRY_FIELDS
        ),
        returning=POLE_COLUMNS,
    )
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {**values, "pole_id": pole_id})
        row = cur.fetchone()
    assert row is not None
    created = bool(row.pop("created"))
    return row, created


def patch_pole(
    conn: psycopg.Connection[Any], pole_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Change only the given registry fields; None when the pole does not exist."""
    unknown = set(changes) - set(REGISTRY_FIELDS)
    if unknown:
        raise ValueError(f"not registry fields: {sorted(unknown)}")
    if not changes:
        updates: sql.Composable = sql.SQL("updated_at = updated_at")
    else:
        updates = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(n), sql.Placeholder(n))
            for n in REGISTRY_FIELDS
            if n in changes
        )
        updates = sql.SQL("{}, updated_at = now()").format(updates)
    params = _rounded(dict(changes))
    if "capabilities" in params and params["capabilities"] is None:
        params["capabilities"] = []
    query = sql.SQL("UPDATE poles SET {} WHERE pole_id = %(pole_id)s RETURNING {}").format(
        updates, POLE_COLUMNS
    )
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {**params, "pole_id": pole_id})
        return cur.fetchone()


def _rounded(fields: dict[str, Any]) -> dict[str, Any]:
    """Coordinates to 1e-9 degrees (0.1 mm): finer is noise, and subnormal values
    (1e-300) would make distance arithmetic underflow in PostgreSQL."""
    for name in ("latitude", "longitude"):
        if fields.get(name) is not None:
            fields[name] = round(fields[name], 9)
    return fields
