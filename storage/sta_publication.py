"""What the SensorThings MQTT publisher (sta_mqtt) reads and keeps: the
Observations of a change feed entry, and its position in the feed
(table `sta_mqtt_position`, migration 0065).

The Observation rows have the facade's values exactly (storage/queries/
sta_entities.py reads the same columns with the same casts), so the published
document equals what GET /sta/v1.1/Observations(<id>) renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from models.catalogue.families import FAMILIES
from models.sensorthings.ids import StreamKind, datastream_id, observation_id
from models.sensorthings.mapping import FAMILY_PROPERTIES
from storage.change_feed import Change, FeedPosition
from storage.readmodels.spec import LATEST_TABLES

POSITION_TABLE = "sta_mqtt_position"


@dataclass(frozen=True, slots=True)
class ObservationRow:
    """One metric of one stored reading, as the facade serves it."""

    observation_id: int
    datastream_id: int
    slot: int
    observed_at: datetime
    result: float
    parameters: Any  # {"receivedAt": ...} as the database renders it
    newest: bool  # the reading is its stream's newest (the latest-reading table's)


def load_position(conn: psycopg.Connection[Any], publisher: str) -> FeedPosition | None:
    row = conn.execute(
        "SELECT xid, seq FROM sta_mqtt_position WHERE publisher = %s", (publisher,)
    ).fetchone()
    return FeedPosition(row[0], row[1]) if row else None


def save_position(conn: psycopg.Connection[Any], publisher: str, position: FeedPosition) -> None:
    """Store the position (only forwards: a stale writer never moves it back)."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO sta_mqtt_position (publisher, xid, seq) VALUES (%s, %s, %s)
               ON CONFLICT (publisher) DO UPDATE SET xid = EXCLUDED.xid, seq = EXCLUDED.seq,
                   updated_at = now()
               WHERE (sta_mqtt_position.xid, sta_mqtt_position.seq)
                     < (EXCLUDED.xid, EXCLUDED.seq)""",
            (publisher, position.xid, position.seq),
        )


def _rows_query(change: Change) -> sql.Composed:
    family = change.family
    assert family is not None
    spec = FAMILIES[family]
    keys = spec.key_columns
    types = {"pole_id": "text", "connector_id": "int2", "observed_at": "timestamptz"}
    latest_match = sql.SQL(" AND ").join(
        sql.SQL("l.{k} = r.{k}").format(k=sql.Identifier(k)) for k in keys if k != "observed_at"
    )
    connector = sql.SQL("r.connector_id") if spec.has_connector else sql.SQL("0")
    return sql.SQL(
        """SELECT r.reading_id, r.observed_at,
       jsonb_build_object('receivedAt', r.received_at) AS parameters,
       s.stream_id, l.observed_at IS NOT DISTINCT FROM r.observed_at AS newest, {metrics}
FROM unnest({arrays}) AS k({keys})
JOIN {table} r USING ({keys})
JOIN sta_streams s ON s.pole_id = r.pole_id AND s.family = {family} AND s.connector_id = {connector}
LEFT JOIN {latest} l ON {latest_match}
ORDER BY r.reading_id"""
    ).format(
        metrics=sql.SQL(", ").join(
            sql.SQL("r.{}::float8").format(sql.Identifier(p.column))
            for p in FAMILY_PROPERTIES[family]
        ),
        arrays=sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(k), sql.SQL(types[k])) for k in keys
        ),
        keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
        table=sql.Identifier(spec.table),
        family=sql.Literal(family.value),
        connector=connector,
        latest=sql.Identifier(LATEST_TABLES[family]),
        latest_match=latest_match,
    )


def observation_rows(conn: psycopg.Connection[Any], change: Change) -> list[ObservationRow]:
    """The Observations of the readings a change feed entry names, in reading
    then metric order (a row that retention has dropped meanwhile is missing)."""
    family = change.family
    if family is None or family not in FAMILY_PROPERTIES or change.observed_ats is None:
        return []
    spec = FAMILIES[family]
    arrays: dict[str, list[Any]] = {
        "pole_id": list(change.pole_ids),
        "observed_at": list(change.observed_ats),
    }
    if spec.has_connector:
        arrays["connector_id"] = list(change.connector_ids or ())
    properties = FAMILY_PROPERTIES[family]
    out: list[ObservationRow] = []
    for row in conn.execute(_rows_query(change), arrays):
        reading_id, observed_at, parameters, stream_id, newest = row[:5]
        for prop, value in zip(properties, row[5:], strict=True):
            if value is None:
                continue
            out.append(
                ObservationRow(
                    observation_id(reading_id, prop.slot),
                    datastream_id(stream_id, StreamKind.RAW, prop.slot),
                    prop.slot,
                    observed_at,
                    value,
                    parameters,
                    bool(newest),
                )
            )
    return out
