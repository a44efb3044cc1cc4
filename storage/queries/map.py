"""The public map's state of every current pole, in one read.

Per pole: its position and district, the newest env / light / Wi-Fi reading (from the
latest tables the writer keeps), its EV connectors' current status, and what the
European Air Quality Index needs (models.catalogue.air_quality, EAQI_*): for PM10 and
PM2.5 the 24-hour running mean of the valid hourly means of the 24 hours ending with
the pole's newest env reading (with how many valid hours it rests on), for NO2 and O3
the newest valid hourly mean, no older than EAQI_HOURLY_MAX_AGE_HOURS. All from the
writer-kept hourly rollup (env_hourly), never the raw rows.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.catalogue.air_quality import (
    EAQI_24H,
    EAQI_HOURLY_MAX_AGE_HOURS,
    EAQI_POLLUTANTS,
    EAQI_WINDOW_HOURS,
)
from models.catalogue.families import ENV
from models.topics import Family
from storage.queries.latest import VALUE_COLUMNS
from storage.readmodels.spec import LATEST_TABLES
from storage.readmodels.sql import hour_valid, hour_value, need_per_hour


def _aqi_measures() -> sql.Composable:
    need = need_per_hour(ENV, sql.SQL("p.pole_id"))
    parts: list[sql.Composable] = []
    for spec in EAQI_POLLUTANTS:
        field = ENV.field(spec.pollutant)
        valid = hour_valid(field, "h", need)
        value = hour_value(field, "h")
        if spec.averaging == EAQI_24H:
            parts.append(
                sql.SQL("avg({value}) FILTER (WHERE {valid}) AS {mean}").format(
                    value=value, valid=valid, mean=sql.Identifier(f"{spec.pollutant}_24h")
                )
            )
            parts.append(
                sql.SQL("count(*) FILTER (WHERE {valid}) AS {hours}").format(
                    valid=valid, hours=sql.Identifier(f"{spec.pollutant}_24h_hours")
                )
            )
        else:
            recent = sql.SQL(
                "{valid} AND h.bucket > date_trunc('hour', e.observed_at) - {age}"
            ).format(
                valid=valid,
                age=sql.SQL("make_interval(hours => {})").format(
                    sql.Literal(EAQI_HOURLY_MAX_AGE_HOURS)
                ),
            )
            parts.append(
                sql.SQL(
                    "(array_agg({value} ORDER BY h.bucket DESC) FILTER (WHERE {recent}))[1]"
                    " AS {mean}"
                ).format(value=value, recent=recent, mean=sql.Identifier(f"{spec.pollutant}_1h"))
            )
            parts.append(
                sql.SQL("max(h.bucket) FILTER (WHERE {recent}) AS {hour}").format(
                    recent=recent, hour=sql.Identifier(f"{spec.pollutant}_1h_hour")
                )
            )
    return sql.SQL(", ").join(parts)


def _latest(family: Family, alias: str, columns: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.Identifier(alias, c), sql.Identifier(f"{alias}_{c}"))
        for c in ("observed_at", *columns)
    )


def map_poles(
    conn: psycopg.Connection[Any],
    district: str | None = None,
    pole_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per current pole (ordered by id) with the fields the module doc lists;
    `connectors` is a list of {connector_id, status, error_code, observed_at,
    max_power_kw, plug_type}."""
    where: sql.Composable = sql.SQL("p.decommissioned_at IS NULL")
    if district is not None:
        where = sql.SQL("{} AND p.district = %(district)s").format(where)
    if pole_ids is not None:
        where = sql.SQL("{} AND p.pole_id = ANY (%(pole_ids)s)").format(where)
    query = sql.SQL(
        """
        SELECT p.pole_id, p.name, p.district, p.latitude, p.longitude, p.capabilities,
               p.status, p.status_since,
               {env}, {light}, {wifi},
               aq.*,
               coalesce((
                   SELECT jsonb_agg(jsonb_build_object(
                              'connector_id', c.connector_id, 'status', c.status,
                              'error_code', c.error_code, 'observed_at', c.observed_at,
                              'max_power_kw', pc.max_power_kw, 'plug_type', pc.plug_type)
                          ORDER BY c.connector_id)
                   FROM {ev_latest} c
                   LEFT JOIN pole_connectors pc
                          ON pc.pole_id = c.pole_id AND pc.connector_id = c.connector_id
                   WHERE c.pole_id = p.pole_id), '[]'::jsonb) AS connectors
        FROM poles p
        LEFT JOIN {env_latest} e ON e.pole_id = p.pole_id
        LEFT JOIN {light_latest} l ON l.pole_id = p.pole_id
        LEFT JOIN {wifi_latest} w ON w.pole_id = p.pole_id
        LEFT JOIN LATERAL (
            SELECT {aqi}
            FROM env_hourly h
            WHERE e.observed_at IS NOT NULL AND h.pole_id = p.pole_id
              AND h.bucket > date_trunc('hour', e.observed_at) - {window}
              AND h.bucket <= e.observed_at
        ) aq ON true
        WHERE {where}
        ORDER BY p.pole_id
        """
    ).format(
        env=_latest(Family.ENV, "e", tuple(s.pollutant for s in EAQI_POLLUTANTS)),
        light=_latest(Family.LIGHT, "l", ("lamp_status", "power_state")),
        wifi=_latest(Family.WIFI, "w", ("status", "connected_clients")),
        aqi=_aqi_measures(),
        window=sql.SQL("make_interval(hours => {})").format(sql.Literal(EAQI_WINDOW_HOURS)),
        ev_latest=sql.Identifier(LATEST_TABLES[Family.EV]),
        env_latest=sql.Identifier(LATEST_TABLES[Family.ENV]),
        light_latest=sql.Identifier(LATEST_TABLES[Family.LIGHT]),
        wifi_latest=sql.Identifier(LATEST_TABLES[Family.WIFI]),
        where=where,
    )
    assert {"lamp_status", "power_state"} <= set(VALUE_COLUMNS[Family.LIGHT])
    assert {"status", "connected_clients"} <= set(VALUE_COLUMNS[Family.WIFI])
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {"district": district, "pole_ids": pole_ids})
        return cur.fetchall()
