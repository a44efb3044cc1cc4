"""Batch writer: COPY into per-connection staging tables, then merge.

Why staging: COPY cannot say ON CONFLICT, and idempotency is the contract
(a redelivered or resent reading must not create a second row). So each
batch is COPYed into temporary tables (fast, no index checks) and merged
with one INSERT ... SELECT ... ON CONFLICT DO NOTHING per family, whose row
count tells stored from duplicates. The rows actually inserted then update
the read models (storage/readmodels: the latest reading per pole, the hourly
and daily rollups per pole and per district and city) and are announced in
the change feed (storage/change_feed.py). The whole batch, registry updates
and quarantine included, commits in one transaction: the caller acknowledges
the MQTT messages only after `write_batch` returns, and nothing is announced
that did not commit.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import psycopg
from psycopg import sql

from models.catalogue.families import CAPABILITY_FAMILIES, FAMILIES, FamilySpec
from models.readings import PoleStatus, Reading
from models.topics import Family, PoleTopic
from models.wire import Rejection, RejectionKind
from storage.change_feed import REGISTRY_KIND
from storage.readmodels import merge
from storage.readmodels.merge import merge_staged
from storage.readmodels.spec import FAMILY_ORDER, POLE_ROLLUPS


# A NamedTuple: one is built per reading ingested, three times cheaper than a
# frozen dataclass.
class ReceivedReading(NamedTuple):
    topic: PoleTopic
    reading: Reading
    received_at: datetime


@dataclass(frozen=True, slots=True)
class ReceivedRejection:
    topic: str
    pole_topic: PoleTopic | None
    rejection: Rejection
    received_at: datetime


@dataclass(slots=True)
class WriteResult:
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0


Row = tuple[Any, ...]


def status_time(item: ReceivedReading) -> datetime:
    """A last-will carries no time of its own: it counts from its arrival."""
    return item.reading.date_observed or item.received_at


@dataclass(frozen=True, slots=True)
class FamilyLayout:
    """The staging columns of one family with their PostgreSQL types, for binary
    COPY (about 8x cheaper per row in Python than text COPY), and the function
    that turns a reading into a row in exactly that order. Both come from the
    catalogue's field list, so a column can never be written into another's slot."""

    columns_and_types: tuple[tuple[str, str], ...]
    to_row: Callable[[ReceivedReading], Row]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.columns_and_types)

    @property
    def types(self) -> list[str]:
        return [type_name for _, type_name in self.columns_and_types]


def _layout(spec: FamilySpec) -> FamilyLayout:
    keys: tuple[tuple[str, str], ...] = (("pole_id", "text"),)
    if spec.has_connector:
        keys += (("connector_id", "int2"),)
    keys += (("observed_at", "timestamptz"), ("received_at", "timestamptz"))
    columns = (*keys, *((f.column, f.pg_type) for f in spec.fields))
    # All values of a reading in one C call: this runs for every reading ingested.
    # The model's attributes are the catalogue's columns (tests/models check it);
    # StrEnum values are str, so the text dumper writes their wire value.
    values = operator.itemgetter(*spec.value_columns)
    if spec.family is Family.STATUS:

        def to_row(item: ReceivedReading) -> Row:
            return (item.topic.pole_id, status_time(item), item.received_at,
                    *values(item.reading.__dict__))  # fmt: skip

    elif spec.has_connector:

        def to_row(item: ReceivedReading) -> Row:
            return (item.topic.pole_id, item.topic.connector_id, item.reading.date_observed,
                    item.received_at, *values(item.reading.__dict__))  # fmt: skip

    else:

        def to_row(item: ReceivedReading) -> Row:
            return (item.topic.pole_id, item.reading.date_observed, item.received_at,
                    *values(item.reading.__dict__))  # fmt: skip

    return FamilyLayout(columns, to_row)


LAYOUTS: dict[Family, FamilyLayout] = {family: _layout(spec) for family, spec in FAMILIES.items()}
# Families whose arrival tells which capability a pole has.
FAMILY_CAPABILITY = {
    family: capability.value
    for capability, families in CAPABILITY_FAMILIES.items()
    for family in families
}


class ReadingWriter:
    """Writes batches over one connection it does not own (READ COMMITTED, the
    default: the read models rely on each statement seeing what other writers
    committed before it got its locks).

    `change_feed=False` leaves out the change feed entries (only for measuring
    what the feed costs: consumers would miss those batches)."""

    def __init__(self, conn: psycopg.Connection[Any], *, change_feed: bool = True) -> None:
        self.conn = conn
        self.change_feed = change_feed
        self._staging_ready = False

    def write_batch(
        self, readings: Sequence[ReceivedReading], rejections: Sequence[ReceivedRejection]
    ) -> WriteResult:
        """Store one batch in one transaction; returns what was new."""
        result = WriteResult()
        self._ensure_staging()
        # Inside an outer transaction (a caller that queried on this connection),
        # the temp tables are only emptied at its commit: empty them now.
        nested = self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        with self.conn.transaction(), self.conn.cursor() as cur:
            if nested:
                self._empty_temp_tables(cur)
            readings, retired = self.set_aside_retired(readings)
            if retired:
                rejections = [*rejections, *retired]
            by_family: dict[Family, list[ReceivedReading]] = {}
            for item in readings:
                by_family.setdefault(item.topic.family, []).append(item)
            stored: list[Family] = []
            # Catalogue order: every writer takes the read models' locks in one order.
            for family in FAMILY_ORDER:
                items = by_family.get(family)
                if not items:
                    continue
                inserted = self._merge_family(cur, family, items)
                result.stored += inserted
                result.duplicates += len(items) - inserted
                if inserted:
                    stored.append(family)
            registry_changes = self._update_registry(readings, rejections)
            for family in stored:
                for statement in merge.group_upserts(family) if family in POLE_ROLLUPS else ():
                    cur.execute(statement)
                if self.change_feed:
                    cur.execute(merge.feed_insert(family))
            if self.change_feed and registry_changes:
                cur.execute(
                    "INSERT INTO change_feed (kind, pole_ids) VALUES (%s, %s)",
                    (REGISTRY_KIND, registry_changes),
                )
            result.quarantined = self._quarantine(rejections)
        return result

    def set_aside_retired(
        self, readings: Sequence[ReceivedReading]
    ) -> tuple[Sequence[ReceivedReading], list[ReceivedRejection]]:
        """Readings of decommissioned poles received after their retirement become
        quarantine rows (one lookup per batch, in the batch's transaction)."""
        if not readings:
            return readings, []
        pole_ids = list({item.topic.pole_id for item in readings})
        retired_at: dict[str, datetime] = dict(
            self.conn.execute(
                "SELECT pole_id, decommissioned_at FROM poles "
                "WHERE decommissioned_at IS NOT NULL AND pole_id = ANY(%s)",
                (pole_ids,),
            ).fetchall()
        )
        if not retired_at:
            return readings, []
        kept: list[ReceivedReading] = []
        set_aside: list[ReceivedRejection] = []
        for item in readings:
            since = retired_at.get(item.topic.pole_id)
            if since is None or item.received_at < since:
                kept.append(item)
                continue
            reason = (
                f"pole {item.topic.pole_id} was decommissioned at {since.isoformat()}; "
                "readings of a retired pole are not stored"
            )
            # The reading as the pole sent it (re-encoded: the writer holds no raw bytes).
            raw = orjson.dumps(item.reading.wire())
            set_aside.append(
                ReceivedRejection(
                    str(item.topic),
                    item.topic,
                    Rejection(reason, raw, None, RejectionKind.DECOMMISSIONED),
                    item.received_at,
                )
            )
        return kept, set_aside

    def _ensure_staging(self) -> None:
        if self._staging_ready:
            return
        # Its own transaction: were the staging tables created inside a batch
        # that then rolls back, they would be gone while we believed them there.
        with self.conn.transaction():
            for family in FAMILIES:
                for temp, like in merge.temp_tables(family):
                    self.conn.execute(
                        sql.SQL(
                            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS"
                        ).format(sql.Identifier(temp), sql.Identifier(like))
                    )
        self._staging_ready = True

    @staticmethod
    def _empty_temp_tables(cur: psycopg.Cursor[Any]) -> None:
        for family in FAMILIES:
            for temp, _ in merge.temp_tables(family):
                cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(temp)))

    def _merge_family(
        self, cur: psycopg.Cursor[Any], family: Family, items: Iterable[ReceivedReading]
    ) -> int:
        """Stage `items`, insert the new ones and update the read models; returns
        how many were new."""
        self._stage(cur, family, items)
        return merge_staged(cur, family)

    def _stage(
        self, cur: psycopg.Cursor[Any], family: Family, items: Iterable[ReceivedReading]
    ) -> None:
        """COPY `items` into the family's staging table."""
        layout = LAYOUTS[family]
        columns = sql.SQL(", ").join(map(sql.Identifier, layout.columns))
        stage = sql.Identifier(merge.stage_table(family))
        copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, columns)
        with cur.copy(copy_stmt) as copy:
            copy.set_types(layout.types)
            for item in items:
                copy.write_row(layout.to_row(item))

    def _update_registry(
        self, readings: Sequence[ReceivedReading], rejections: Sequence[ReceivedRejection]
    ) -> list[str]:
        """Upsert the poles seen; returns those new, or with new capabilities or a
        new status (the registry changes the change feed announces)."""
        sightings: dict[str, _Sighting] = {}
        for item in readings:
            sighting = sightings.get(item.topic.pole_id)
            if sighting is None:
                sighting = sightings[item.topic.pole_id] = _Sighting(item.received_at)
            sighting.saw(item.received_at)
            capability = FAMILY_CAPABILITY.get(item.topic.family)
            if capability is not None:
                sighting.capabilities.add(capability)
            if item.topic.family is not Family.STATUS:
                observed = item.reading.date_observed
                assert observed is not None
                if sighting.last_observed is None or observed > sighting.last_observed:
                    sighting.last_observed = observed
            else:
                changed_at = status_time(item)
                if sighting.status is None or changed_at >= sighting.status[1]:
                    assert isinstance(item.reading, PoleStatus)
                    sighting.status = (item.reading, changed_at)
        for rejected in rejections:
            if rejected.pole_topic is not None:
                pole_id = rejected.pole_topic.pole_id
                sightings.setdefault(pole_id, _Sighting(rejected.received_at)).saw(
                    rejected.received_at
                )
        if not sightings:
            return []
        # Sorted: two workers updating overlapping poles lock rows in the same
        # order and so cannot deadlock.
        pole_ids = sorted(sightings)
        ordered = [sightings[p] for p in pole_ids]
        # `before` reads the snapshot the statement started with: a capability
        # another writer committed meanwhile is announced twice, never missed.
        changed = self.conn.execute(
            """
            WITH s AS (
                SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[],
                                     %s::timestamptz[], %s::text[])
                    AS s(pole_id, first_seen, last_seen, last_observed_at, capabilities)
            ), before AS (
                SELECT pole_id, capabilities FROM poles WHERE pole_id IN (SELECT pole_id FROM s)
            ), upserted AS (
                INSERT INTO poles AS p (pole_id, first_seen, last_seen, last_observed_at,
                                        capabilities)
                SELECT pole_id, first_seen, last_seen, last_observed_at,
                       coalesce(string_to_array(NULLIF(capabilities, ''), ','), '{}')
                FROM s ORDER BY pole_id
                ON CONFLICT (pole_id) DO UPDATE SET
                    first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
                    last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen),
                    last_observed_at = GREATEST(p.last_observed_at, EXCLUDED.last_observed_at),
                    capabilities = ARRAY(SELECT DISTINCT c FROM unnest(p.capabilities
                                         || EXCLUDED.capabilities) AS c ORDER BY c),
                    updated_at = now()
                RETURNING p.pole_id, p.capabilities
            )
            SELECT u.pole_id FROM upserted u LEFT JOIN before b USING (pole_id)
            WHERE b.capabilities IS DISTINCT FROM u.capabilities
            """,
            (
                pole_ids,
                [s.first_seen for s in ordered],
                [s.last_seen for s in ordered],
                [s.last_observed for s in ordered],
                [",".join(sorted(s.capabilities)) for s in ordered],
            ),
        )
        registry_changes = {row[0] for row in changed.fetchall()}
        changes = [(p, s.status) for p, s in zip(pole_ids, ordered, strict=True) if s.status]
        if changes:
            # Newest device time wins: a late, older status never overrides a newer one.
            updated = self.conn.execute(
                """
                UPDATE poles AS p SET status = c.status, status_since = c.changed_at,
                       firmware_version = COALESCE(c.firmware_version, p.firmware_version),
                       updated_at = now()
                FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::text[])
                     AS c(pole_id, status, changed_at, firmware_version)
                WHERE p.pole_id = c.pole_id
                  AND (p.status_since IS NULL OR c.changed_at >= p.status_since)
                RETURNING p.pole_id
                """,
                (
                    [p for p, _ in changes],
                    [s.status for _, (s, _) in changes],
                    [at for _, (_, at) in changes],
                    [s.firmware_version for _, (s, _) in changes],
                ),
            )
            registry_changes |= {row[0] for row in updated.fetchall()}
        return sorted(registry_changes)

    def _quarantine(self, rejections: Sequence[ReceivedRejection]) -> int:
        if not rejections:
            return 0
        merged: dict[tuple[str, bytes, int | None], list[Any]] = {}
        for item in rejections:
            digest = hashlib.sha256(item.rejection.raw).digest()
            key = (item.topic, digest, item.rejection.item_index)
            if key in merged:
                merged[key][1] = max(merged[key][1], item.received_at)
                merged[key][2] += 1
                continue
            pole_topic = item.pole_topic
            merged[key] = [
                item.received_at, item.received_at, 1, item.topic,
                pole_topic.pole_id if pole_topic else None,
                pole_topic.family.value if pole_topic else None,
                item.rejection.item_index, item.rejection.reason, item.rejection.raw, digest,
                item.rejection.kind.value, item.rejection.truncated,
            ]  # fmt: skip
        with self.conn.cursor() as cur:
            cur.executemany(
                """
                INSERT INTO quarantine AS q (received_at, last_received_at, times_seen, topic,
                    pole_id, family, item_index, reason, payload, payload_sha256, reason_kind,
                    payload_truncated)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (topic, payload_sha256, item_index) DO UPDATE SET
                    times_seen = q.times_seen + EXCLUDED.times_seen,
                    last_received_at = GREATEST(q.last_received_at, EXCLUDED.last_received_at)
                """,
                [tuple(row) for row in merged.values()],
            )
        return len(rejections)


@dataclass(slots=True)
class _Sighting:
    first_seen: datetime
    last_seen: datetime | None = None
    last_observed: datetime | None = None
    capabilities: set[str] = field(default_factory=set)
    status: tuple[PoleStatus, datetime] | None = None

    def saw(self, received_at: datetime) -> None:
        self.first_seen = min(self.first_seen, received_at)
        self.last_seen = received_at if self.last_seen is None else max(self.last_seen, received_at)
