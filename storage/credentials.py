"""The registry of pole credentials: who holds broker credentials, since when.

The secret itself never comes here. `brokerauth.credentials` changes the
broker and these rows in one transaction of this database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

CredentialEvent = Literal["issued", "rotated", "revoked"]


def credential(conn: psycopg.Connection[Any], pole_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT pole_id, username, client_id, issued_at, rotated_at, revoked_at, changed_by"
            " FROM pole_credentials WHERE pole_id = %s",
            (pole_id,),
        )
        return cur.fetchone()


def credentials(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT c.pole_id, c.username, c.client_id, c.issued_at, c.rotated_at, c.revoked_at,"
            " c.changed_by, p.pole_id IS NOT NULL AS registered,"
            " p.decommissioned_at IS NOT NULL AS decommissioned"
            " FROM pole_credentials c LEFT JOIN poles p USING (pole_id) ORDER BY c.pole_id"
        )
        return cur.fetchall()


def record(
    conn: psycopg.Connection[Any],
    pole_id: str,
    event: CredentialEvent,
    *,
    actor: str,
    at: datetime,
    username: str | None = None,
    client_id: str | None = None,
) -> None:
    """One change of a pole's credentials (call inside the caller's transaction)."""
    if event == "issued":
        conn.execute(
            """
            INSERT INTO pole_credentials
                (pole_id, username, client_id, issued_at, rotated_at, revoked_at, changed_by)
            VALUES (%s, %s, %s, %s, NULL, NULL, %s)
            ON CONFLICT (pole_id) DO UPDATE SET
                username = EXCLUDED.username, client_id = EXCLUDED.client_id,
                issued_at = EXCLUDED.issued_at, rotated_at = NULL, revoked_at = NULL,
                changed_by = EXCLUDED.changed_by
            """,
            (pole_id, username, client_id, at, actor),
        )
    elif event == "rotated":
        conn.execute(
            "UPDATE pole_credentials SET rotated_at = %s, changed_by = %s WHERE pole_id = %s",
            (at, actor, pole_id),
        )
    else:
        conn.execute(
            "UPDATE pole_credentials SET revoked_at = %s, changed_by = %s WHERE pole_id = %s",
            (at, actor, pole_id),
        )
    conn.execute(
        "INSERT INTO pole_credential_events (pole_id, event, at, changed_by)"
        " VALUES (%s, %s, %s, %s)",
        (pole_id, event, at, actor),
    )


def poles_in_service(conn: psycopg.Connection[Any]) -> list[str]:
    """Every registered pole that is not decommissioned."""
    rows = conn.execute(
        "SELECT pole_id FROM poles WHERE decommissioned_at IS NULL ORDER BY pole_id"
    ).fetchall()
    return [row[0] for row in rows]


def decommissioned(conn: psycopg.Connection[Any], pole_ids: list[str]) -> set[str]:
    rows = conn.execute(
        "SELECT pole_id FROM poles WHERE pole_id = ANY(%s) AND decommissioned_at IS NOT NULL",
        (pole_ids,),
    ).fetchall()
    return {row[0] for row in rows}
