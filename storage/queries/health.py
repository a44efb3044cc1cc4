"""Facts about pole health and about the platform itself; the API judges them."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from storage.migrate import timescaledb_version

POLE_HEALTH_SQL = """
SELECT p.pole_id, p.district, p.capabilities, p.status, p.status_since, p.last_seen,
       p.last_observed_at, now() AS checked_at,
       env.observed_at AS env_observed_at,
       light.observed_at AS light_observed_at, light.lamp_status, light.power_state,
       wifi.observed_at AS wifi_observed_at, wifi.status AS wifi_status,
       ev.observed_at AS ev_observed_at
FROM poles p
LEFT JOIN LATERAL (SELECT observed_at FROM env_readings t WHERE t.pole_id = p.pole_id
                   ORDER BY observed_at DESC LIMIT 1) env ON true
LEFT JOIN LATERAL (SELECT observed_at, lamp_status, power_state FROM light_readings t
                   WHERE t.pole_id = p.pole_id ORDER BY observed_at DESC LIMIT 1) light ON true
LEFT JOIN LATERAL (SELECT observed_at, status FROM wifi_readings t WHERE t.pole_id = p.pole_id
                   ORDER BY observed_at DESC LIMIT 1) wifi ON true
LEFT JOIN LATERAL (SELECT max(observed_at) AS observed_at FROM ev_readings t
                   WHERE t.pole_id = p.pole_id) ev ON true
WHERE (%(district)s::text IS NULL OR p.district = %(district)s)
  AND (%(pole_id)s::text IS NULL OR p.pole_id = %(pole_id)s)
  AND (%(after)s::text IS NULL OR p.pole_id > %(after)s)
ORDER BY p.pole_id
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
        "SELECT now(), max(last_seen), max(last_observed_at), count(*) FROM poles"
    ).fetchone()
    assert row is not None
    return {
        "checked_at": row[0],
        "last_message_at": row[1],
        "newest_observation_at": row[2],
        "poles": row[3],
        "timescaledb_version": timescaledb_version(conn),
    }


def known_time_zones(conn: psycopg.Connection[Any]) -> frozenset[str]:
    """Time zone names this PostgreSQL server knows (requests may only use these)."""
    return frozenset(row[0] for row in conn.execute("SELECT name FROM pg_timezone_names"))
