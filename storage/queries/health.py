"""Pole health as the `pole_health` view judges it (storage/health_view.py), and
facts about the platform itself."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from storage.health_view import OFFLINE_AFTER
from storage.migrate import timescaledb_version

POLE_HEALTH_SQL = """
SELECT pole_id, district, connection, silent_s, offline_after_s, status, last_seen,
       stale_sensors, lamp_status, lamp_fault, hotspot_fault, charger_faults
FROM pole_health
WHERE (%(district)s::text IS NULL OR district = %(district)s)
  AND (%(pole_id)s::text IS NULL OR pole_id = %(pole_id)s)
  AND (%(after)s::text IS NULL OR pole_id > %(after)s)
ORDER BY pole_id
LIMIT %(limit)s
"""


def pole_health_facts(
    conn: psycopg.Connection[Any],
    district: str | None,
    pole_id: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            POLE_HEALTH_SQL,
            {"district": district, "pole_id": pole_id, "after": after, "limit": limit},
        )
        return cur.fetchall()


def platform_facts(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Database reachability, TimescaleDB, and how fresh the ingested data is."""
    row = conn.execute(
        """
        SELECT now(), max(last_seen), max(last_observed_at), count(*),
               (SELECT seconds FROM health_thresholds WHERE name = %s)
        FROM poles
        """,
        (OFFLINE_AFTER,),
    ).fetchone()
    assert row is not None
    return {
        "checked_at": row[0],
        "last_message_at": row[1],
        "newest_observation_at": row[2],
        "poles": row[3],
        "offline_after_s": row[4],
        "timescaledb_version": timescaledb_version(conn),
    }


def known_time_zones(conn: psycopg.Connection[Any]) -> frozenset[str]:
    """Time zone names this PostgreSQL server knows (requests may only use these)."""
    return frozenset(row[0] for row in conn.execute("SELECT name FROM pg_timezone_names"))
