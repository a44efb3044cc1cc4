"""Admin writes of the pole registry, each recorded in `pole_registry_history`.

Ingest owns the observed columns (first/last seen, status, firmware); these
functions touch only the fields an operator maintains. Every change says who
made it (`changed_by`: the admin key's name, the CLI user, `smartpole up`)
and through what (`source`: the admin API, an import file with its digest, a
decommission), with each changed field's old and new value. The bulk import
writes its history with the same `record_history` (storage/inventory.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from storage.queries.poles import get_pole
from storage.readmodels.rebuild import regroup
from storage.readmodels.spec import NO_DISTRICT

# What PUT/PATCH /v1/admin/poles/{id} maintain.
REGISTRY_FIELDS: tuple[LiteralString, ...] = (
    "name",
    "district",
    "latitude",
    "longitude",
    "capabilities",
    "notes",
)
ADMIN_API_SOURCE = "admin-api"


def put_pole(
    conn: psycopg.Connection[Any], pole_id: str, fields: dict[str, Any], *, actor: str
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
        RETURNING (xmax = 0) AS created
        """
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, REGISTRY_FIELDS)),
        placeholders=sql.SQL(", ").join(map(sql.Placeholder, REGISTRY_FIELDS)),
        updates=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(n)) for n in REGISTRY_FIELDS
        ),
    )
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        before = _lock_fields(cur, pole_id)
        cur.execute(query, {**values, "pole_id": pole_id})
        row = cur.fetchone()
        assert row is not None
        after = _lock_fields(cur, pole_id)
        assert after is not None
        record_history(
            cur,
            [(pole_id, field_changes(before, after))],
            changed_by=actor,
            source=ADMIN_API_SOURCE,
        )
        regroup_moved(conn, [(before, after)])
        pole = get_pole(conn, pole_id)
    assert pole is not None
    return pole, bool(row["created"])


def patch_pole(
    conn: psycopg.Connection[Any], pole_id: str, changes: dict[str, Any], *, actor: str
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
    query = sql.SQL("UPDATE poles SET {} WHERE pole_id = %(pole_id)s").format(updates)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        before = _lock_fields(cur, pole_id)
        if before is None:
            return None
        cur.execute(query, {**params, "pole_id": pole_id})
        after = _lock_fields(cur, pole_id)
        assert after is not None
        record_history(
            cur,
            [(pole_id, field_changes(before, after))],
            changed_by=actor,
            source=ADMIN_API_SOURCE,
        )
        regroup_moved(conn, [(before, after)])
        return get_pole(conn, pole_id)


def regroup_moved(
    conn: psycopg.Connection[Any],
    changes: Sequence[tuple[Mapping[str, Any] | None, Mapping[str, Any]]],
) -> None:
    """Poles that changed district move their share of the district rollups: the
    totals of every district a pole left or joined are recomputed once. `changes`
    are (before, after) registry fields; before None for a new pole, which has no
    rollup rows yet. The caller's transaction holds the poles' rows."""
    districts = set()
    for before, after in changes:
        if before is not None and before.get("district") != after.get("district"):
            districts |= {
                before.get("district") or NO_DISTRICT,
                after.get("district") or NO_DISTRICT,
            }
    if districts:
        regroup(conn, sorted(districts))


def _lock_fields(cur: psycopg.Cursor[dict[str, Any]], pole_id: str) -> dict[str, Any] | None:
    cur.execute(
        sql.SQL("SELECT {} FROM poles WHERE pole_id = %s FOR UPDATE").format(
            sql.SQL(", ").join(map(sql.Identifier, REGISTRY_FIELDS))
        ),
        (pole_id,),
    )
    return cur.fetchone()


def field_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """{field: {"old": ..., "new": ...}} for each field whose value differs (every
    non-empty field of a new entry, `before` None), JSON-ready."""
    changes: dict[str, dict[str, Any]] = {}
    for name, new in after.items():
        old = None if before is None else before.get(name)
        if _comparable(old) != _comparable(new):
            changes[name] = {"old": json_value(old), "new": json_value(new)}
    return changes


def _comparable(value: Any) -> Any:
    # An empty list, object or text says the same as NULL: nothing recorded.
    return None if value in ([], {}, "", ()) else value


def json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    return value


def record_history(
    cur: psycopg.Cursor[Any],
    entries: Iterable[tuple[str, dict[str, Any]]],
    *,
    changed_by: str,
    source: str,
) -> int:
    """One history row per (pole, changes) with something changed; returns how many."""
    rows = [
        (pole_id, changed_by, source, Jsonb(changes)) for pole_id, changes in entries if changes
    ]
    if rows:
        cur.executemany(
            "INSERT INTO pole_registry_history (pole_id, changed_by, source, changes) "
            "VALUES (%s, %s, %s, %s)",
            rows,
        )
    return len(rows)


def pole_history(
    conn: psycopg.Connection[Any], pole_id: str, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """A pole's registry changes, oldest first, one page (keyset on the history id)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            SELECT id, pole_id, changed_at, changed_by, source, changes
            FROM pole_registry_history
            WHERE pole_id = %(pole_id)s AND (%(after)s::bigint IS NULL OR id > %(after)s)
            ORDER BY id
            LIMIT %(limit)s
            """,
            {"pole_id": pole_id, "after": after_id, "limit": limit},
        )
        return cur.fetchall()


def has_history_or_pole(conn: psycopg.Connection[Any], pole_id: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM poles WHERE pole_id = %(p)s) "
        "OR EXISTS (SELECT 1 FROM pole_registry_history WHERE pole_id = %(p)s)",
        {"p": pole_id},
    ).fetchone()
    return bool(row and row[0])


def decommission(
    conn: psycopg.Connection[Any], pole_id: str, *, changed_by: str, source: str
) -> tuple[str, datetime | None]:
    """Mark the pole retired now, in the caller's transaction. Returns ("done", when),
    ("already", when it was retired) or ("missing", None)."""
    with conn.cursor() as cur:
        cur.execute("SELECT decommissioned_at FROM poles WHERE pole_id = %s FOR UPDATE", (pole_id,))
        row = cur.fetchone()
        if row is None:
            return "missing", None
        if row[0] is not None:
            return "already", row[0]
        cur.execute(
            "UPDATE poles SET decommissioned_at = now(), updated_at = now() "
            "WHERE pole_id = %s RETURNING decommissioned_at",
            (pole_id,),
        )
        done = cur.fetchone()
        assert done is not None
        record_history(
            cur,
            [(pole_id, {"decommissioned_at": {"old": None, "new": json_value(done[0])}})],
            changed_by=changed_by,
            source=source,
        )
        return "done", done[0]


def _rounded(fields: dict[str, Any]) -> dict[str, Any]:
    """Coordinates to 1e-9 degrees (0.1 mm): finer is noise, and subnormal values
    (1e-300) would make distance arithmetic underflow in PostgreSQL."""
    for name in ("latitude", "longitude"):
        if fields.get(name) is not None:
            fields[name] = round(fields[name], 9)
    return fields
