"""Public Wi-Fi hotspots: current state and load of each access point."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row


def list_hotspots(
    conn: psycopg.Connection[Any],
    status: str | None,
    district: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Each pole's newest Wi-Fi reading (by device time, from the latest table the
    writer keeps), one page by pole id; decommissioned poles are left out."""
    clauses: list[sql.Composable] = [sql.SQL("p.decommissioned_at IS NULL")]  # current poles
    if status is not None:
        clauses.append(sql.SQL("r.status = %(status)s"))
    if district is not None:
        clauses.append(sql.SQL("p.district = %(district)s"))
    if after is not None:
        clauses.append(sql.SQL("r.pole_id > %(after)s"))
    query = sql.SQL(
        """
        SELECT p.pole_id, p.district, p.latitude, p.longitude,
               r.observed_at, r.status, r.connected_clients, r.bytes_in, r.bytes_out
        FROM wifi_latest r JOIN poles p ON p.pole_id = r.pole_id
        WHERE {where}
        ORDER BY r.pole_id
        LIMIT %(limit)s
        """
    ).format(where=sql.SQL(" AND ").join(clauses))
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {"status": status, "district": district, "after": after, "limit": limit})
        return cur.fetchall()
