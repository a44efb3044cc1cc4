"""The `pole_health` view: the catalogue's health rules as SQL, in one place.

`smartpole db migrate` (re)creates it on every run from `models.catalogue.health`
and writes the operator's thresholds into `health_thresholds`, which the view
reads at query time. The API's `/v1/health/poles`, the City overview dashboard
and the fleet alerts all select from this view, so a city engineer and the
city app see the same state for the same pole.

One row per current pole (retired poles, `decommissioned_at` set, are left
out). Columns: the registry fields, `connection` (online / offline / unknown),
`silent_s` (seconds since the last message, platform clock), `stale_sensors`
(installed families quiet for too long while the pole is online), the newest
reading time of each family, `lamp_status` and `lamp_fault`, `wifi_status` and
`hotspot_fault`, `charger_faults` (jsonb: connector_id, status, error_code,
observed_at of each faulted connector) and `faulted_connectors`, plus the
thresholds used. The newest readings come from the latest tables the writer
keeps (one row per pole and family, per EV connector), not from the raw rows.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from models.catalogue.families import CAPABILITY_FAMILIES
from models.catalogue.health import (
    CHARGER_FAULT_STATUSES,
    CHARGER_NO_ERROR,
    CONNECTOR_STATUS_HORIZON,
    DEFAULT_HEALTH,
    HOTSPOT_FAULT_STATUSES,
    LAMP_OK,
    HealthThresholds,
)
from models.topics import Family
from models.vocabulary import Connectivity
from storage.readmodels.spec import LATEST_TABLES

VIEW = "pole_health"
THRESHOLDS_TABLE = "health_thresholds"
OFFLINE_AFTER = "offline_after"
STALE_SENSOR_AFTER = "stale_sensor_after"


def write_thresholds(conn: psycopg.Connection[Any], thresholds: HealthThresholds) -> None:
    """Make the stored thresholds the given ones (only rows that change are touched)."""
    rows = [
        (OFFLINE_AFTER, int(thresholds.offline_after.total_seconds())),
        (STALE_SENSOR_AFTER, int(thresholds.stale_sensor_after.total_seconds())),
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO health_thresholds AS t (name, seconds) VALUES (%s, %s)
            ON CONFLICT (name) DO UPDATE SET seconds = EXCLUDED.seconds, updated_at = now()
            WHERE t.seconds IS DISTINCT FROM EXCLUDED.seconds
            """,
            rows,
        )


def _threshold(name: str, default_s: float) -> sql.Composable:
    return sql.SQL("coalesce((SELECT seconds FROM {table} WHERE name = {name}), {default})").format(
        table=sql.Identifier(THRESHOLDS_TABLE),
        name=sql.Literal(name),
        default=sql.Literal(int(default_s)),
    )


def _literals(values: frozenset[Any]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Literal(str(v)) for v in sorted(values))


def _newest(family: Family) -> sql.Composable:
    """The pole's newest reading of `family`: its row of the latest table the writer keeps."""
    return sql.SQL("LEFT JOIN {table} {alias} ON {alias}.pole_id = p.pole_id").format(
        table=sql.Identifier(LATEST_TABLES[family]), alias=sql.Identifier(family.value)
    )


def _stale_checks() -> sql.Composable:
    checks = []
    for capability, families in CAPABILITY_FAMILIES.items():
        for family in families:
            checks.append(
                sql.SQL(
                    "CASE WHEN {cap} = ANY (p.capabilities) AND ({alias}.observed_at IS NULL "
                    "OR {alias}.observed_at < c.checked_at - t.stale_after) THEN {cap} END"
                ).format(cap=sql.Literal(capability.value), alias=sql.Identifier(family.value))
            )
    return sql.SQL(", ").join(checks)


def view_sql() -> sql.Composed:
    return sql.SQL(
        """
CREATE VIEW {view} AS
WITH t AS (
    SELECT {offline} AS offline_after_s, {stale} AS stale_sensor_after_s,
           make_interval(secs => {offline}) AS offline_after,
           make_interval(secs => {stale}) AS stale_after
)
SELECT p.pole_id, p.name, p.district, p.latitude, p.longitude, p.capabilities,
       p.status, p.status_since, p.first_seen, p.last_seen, p.last_observed_at,
       c.checked_at, c.connection,
       extract(epoch FROM c.checked_at - p.last_seen)::float8 AS silent_s,
       CASE WHEN c.connection = {online}
            THEN array_remove(ARRAY[{stale_checks}]::text[], NULL)
            ELSE '{{}}'::text[] END AS stale_sensors,
       env.observed_at AS env_observed_at,
       light.observed_at AS light_observed_at, light.lamp_status, light.power_state,
       coalesce(light.lamp_status <> {lamp_ok}, false) AS lamp_fault,
       wifi.observed_at AS wifi_observed_at, wifi.status AS wifi_status,
       coalesce(wifi.status IN ({hotspot_faults}), false) AS hotspot_fault,
       ev.observed_at AS ev_observed_at,
       coalesce(ev.charger_faults, '[]'::jsonb) AS charger_faults,
       coalesce(jsonb_array_length(ev.charger_faults), 0) AS faulted_connectors,
       t.offline_after_s, t.stale_sensor_after_s
FROM poles p
CROSS JOIN t
CROSS JOIN LATERAL (
    SELECT now() AS checked_at,
           CASE WHEN p.status = {offline_status} THEN {offline_status}
                WHEN p.last_seen IS NULL THEN {unknown}
                WHEN p.last_seen < now() - t.offline_after THEN {offline_status}
                ELSE {online} END AS connection
) c
{env}
{light}
{wifi}
LEFT JOIN LATERAL (
    SELECT max(n.observed_at) AS observed_at,
           jsonb_agg(jsonb_build_object('connector_id', n.connector_id, 'status', n.status,
                                        'error_code', n.error_code,
                                        'observed_at', n.observed_at) ORDER BY n.connector_id)
             FILTER (WHERE n.status IN ({charger_faults}) OR n.error_code <> {no_error})
             AS charger_faults
    FROM {ev_table} n
    WHERE n.pole_id = p.pole_id AND n.observed_at > now() - {horizon}::interval
) ev ON true
WHERE p.decommissioned_at IS NULL
"""
    ).format(
        view=sql.Identifier(VIEW),
        offline=_threshold(OFFLINE_AFTER, DEFAULT_HEALTH.offline_after.total_seconds()),
        stale=_threshold(STALE_SENSOR_AFTER, DEFAULT_HEALTH.stale_sensor_after.total_seconds()),
        online=sql.Literal(Connectivity.ONLINE.value),
        offline_status=sql.Literal(Connectivity.OFFLINE.value),
        unknown=sql.Literal(Connectivity.UNKNOWN.value),
        stale_checks=_stale_checks(),
        lamp_ok=sql.Literal(LAMP_OK.value),
        hotspot_faults=_literals(HOTSPOT_FAULT_STATUSES),
        charger_faults=_literals(CHARGER_FAULT_STATUSES),
        no_error=sql.Literal(CHARGER_NO_ERROR.value),
        horizon=sql.Literal(f"{int(CONNECTOR_STATUS_HORIZON.total_seconds())} seconds"),
        env=_newest(Family.ENV),
        light=_newest(Family.LIGHT),
        wifi=_newest(Family.WIFI),
        ev_table=sql.Identifier(LATEST_TABLES[Family.EV]),
    )


def recreate_view(conn: psycopg.Connection[Any]) -> None:
    """Drop and create the view in one transaction (readers never see it missing)."""
    with conn.transaction():
        conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(VIEW)))
        conn.execute(view_sql())
