"""The pole registry as the public sees it: list, detail, GeoJSON."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

# The public face of a pole: registry fields (models/catalogue/registry.py says which
# are public; `internal_properties` never appears here), its connectors, and what
# was observed.
CONNECTORS_OF_POLE = sql.SQL(
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('connector_id', c.connector_id, "
    "'max_power_kw', c.max_power_kw, 'plug_type', c.plug_type) ORDER BY c.connector_id), "
    "'[]'::jsonb) FROM pole_connectors c WHERE c.pole_id = poles.pole_id)"
)
POLE_COLUMNS = sql.SQL(
    "pole_id, asset_id, name, district, latitude, longitude, capabilities, {connectors} AS "
    "connectors, lamp_rated_power_w, commissioned_on, notes, properties, first_seen, last_seen, "
    "last_observed_at, status, status_since, firmware_version, decommissioned_at"
).format(connectors=CONNECTORS_OF_POLE)


@dataclass(frozen=True, slots=True)
class BoundingBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True, slots=True)
class PoleFilter:
    district: str | None = None
    bbox: BoundingBox | None = None
    capability: str | None = None
    asset_id: str | None = None


def _where(filters: PoleFilter, after: str | None) -> tuple[sql.Composable, dict[str, Any]]:
    # Retired poles are history: kept (GET /v1/poles/{id} shows them), never listed.
    clauses: list[sql.Composable] = [sql.SQL("decommissioned_at IS NULL")]
    params: dict[str, Any] = {}
    if filters.district is not None:
        clauses.append(sql.SQL("district = %(district)s"))
        params["district"] = filters.district
    if filters.asset_id is not None:
        clauses.append(sql.SQL("asset_id = %(asset_id)s"))
        params["asset_id"] = filters.asset_id
    if filters.capability is not None:
        clauses.append(sql.SQL("%(capability)s = ANY (capabilities)"))
        params["capability"] = filters.capability
    if filters.bbox is not None:
        clauses.append(
            sql.SQL(
                "longitude BETWEEN %(min_lon)s AND %(max_lon)s "
                "AND latitude BETWEEN %(min_lat)s AND %(max_lat)s"
            )
        )
        box = filters.bbox
        params |= {
            "min_lon": box.min_lon,
            "max_lon": box.max_lon,
            "min_lat": box.min_lat,
            "max_lat": box.max_lat,
        }
    if after is not None:
        clauses.append(sql.SQL("pole_id > %(after)s"))
        params["after"] = after
    return sql.SQL(" AND ").join(clauses), params


def list_poles(
    conn: psycopg.Connection[Any], filters: PoleFilter, after: str | None, limit: int
) -> list[dict[str, Any]]:
    where, params = _where(filters, after)
    query = sql.SQL("SELECT {} FROM poles WHERE {} ORDER BY pole_id LIMIT %(limit)s").format(
        POLE_COLUMNS, where
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {**params, "limit": limit})
        return cur.fetchall()


def get_pole(conn: psycopg.Connection[Any], pole_id: str) -> dict[str, Any] | None:
    query = sql.SQL("SELECT {} FROM poles WHERE pole_id = %s").format(POLE_COLUMNS)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, (pole_id,))
        return cur.fetchone()


def pole_exists(conn: psycopg.Connection[Any], pole_id: str) -> bool:
    return conn.execute("SELECT 1 FROM poles WHERE pole_id = %s", (pole_id,)).fetchone() is not None


def stream_poles(
    conn: psycopg.Connection[Any], filters: PoleFilter, batch_size: int = 2000
) -> Iterator[list[dict[str, Any]]]:
    """Every pole matching `filters`, in batches, through a server-side cursor
    (memory stays flat for any fleet size)."""
    where, params = _where(filters, None)
    query = sql.SQL("SELECT {} FROM poles WHERE {} ORDER BY pole_id").format(POLE_COLUMNS, where)
    with (
        conn.transaction(),
        conn.cursor(name="stream_poles", row_factory=dict_row) as cur,
    ):
        cur.itersize = batch_size
        cur.execute(query, params)
        while batch := cur.fetchmany(batch_size):
            yield batch
