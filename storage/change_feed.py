"""The post-commit change feed: what each committed ingest batch stored, in an order
a consumer can resume from.

The writer inserts the entries in the batch's own transaction (a transactional
outbox, table `change_feed`): an entry exists exactly when its batch committed,
so nothing is announced before its commit and nothing committed is left
unannounced after a crash. One entry per batch and family names the keys of
the rows the batch inserted (pole, connector, device time): the reference to
the stored row, whose values `fetch_rows` reads. A `registry` entry names
poles that are new, or have new capabilities or a new status.

Why the position is the writing transaction's id. Sequence values (and
timestamps) are taken before commit: a worker that takes seq 10 and commits
after another worker's seq 11 was already read would be skipped by a reader
resuming "after 11". So each entry records `pg_current_xact_id()` (64 bits, no
wrap-around), and `read_changes` hands out only entries of transactions older
than the oldest one still running (`pg_snapshot_xmin` of the reading
statement's snapshot): every such transaction has finished, and any
transaction that commits later has an id at least that high, so it sorts
after every position handed out so far. Positions are (xid, seq): ordered,
and resumable without skipping anything. The price: while a transaction that
has written anything stays open (a long migration, a rebuild, a session left
idle in a transaction), entries after it wait, and so do the consumers.

Serialising positions at commit (a counter row every writer updates last)
would give dense positions, but makes every ingest commit wait for the
previous one; this way writers never wait for each other here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.catalogue.families import FAMILIES
from models.topics import Family

REGISTRY_KIND = "registry"


@dataclass(frozen=True, slots=True, order=True)
class FeedPosition:
    """Where a consumer is: the last entry it has (opaque as a string, "xid.seq")."""

    xid: int
    seq: int

    def __str__(self) -> str:
        return f"{self.xid}.{self.seq}"

    @classmethod
    def parse(cls, text: str) -> FeedPosition:
        xid, _, seq = text.partition(".")
        if not (xid.isdigit() and seq.isdigit()):
            raise ValueError(f"not a change feed position: {text!r}")
        return cls(int(xid), int(seq))


@dataclass(frozen=True, slots=True)
class Change:
    """One committed batch's rows of one family (or one registry change)."""

    position: FeedPosition
    created_at: datetime  # the writing transaction's start
    kind: str  # a family's value, or REGISTRY_KIND
    pole_ids: tuple[str, ...]
    connector_ids: tuple[int, ...] | None
    observed_ats: tuple[datetime, ...] | None

    @property
    def family(self) -> Family | None:
        return None if self.kind == REGISTRY_KIND else Family(self.kind)

    def reading_keys(self) -> Iterator[tuple[str, int | None, datetime]]:
        """(pole, connector or None, device time) of each stored reading."""
        if self.observed_ats is None:
            return
        connectors = self.connector_ids or (None,) * len(self.pole_ids)
        yield from zip(self.pole_ids, connectors, self.observed_ats, strict=True)


READ_SQL = """
SELECT xid::text::bigint, seq, created_at, kind, pole_ids, connector_ids, observed_ats
FROM change_feed
WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
  AND (xid, seq) > (%(xid)s::text::xid8, %(seq)s)
ORDER BY xid, seq
LIMIT %(limit)s
"""


def read_changes(
    conn: psycopg.Connection[Any], after: FeedPosition | None, limit: int = 1000
) -> tuple[list[Change], FeedPosition | None]:
    """Up to `limit` entries after `after` (None: from the oldest kept), oldest
    first, and the position to resume from (`after` when there was nothing new).
    Run it outside a transaction that has written, or it waits for itself."""
    start = after or FeedPosition(0, 0)
    rows = conn.execute(
        READ_SQL, {"xid": str(start.xid), "seq": start.seq, "limit": limit}
    ).fetchall()
    changes = [
        Change(
            position=FeedPosition(row[0], row[1]),
            created_at=row[2],
            kind=row[3],
            pole_ids=tuple(row[4]),
            connector_ids=tuple(row[5]) if row[5] is not None else None,
            observed_ats=tuple(row[6]) if row[6] is not None else None,
        )
        for row in rows
    ]
    return changes, (changes[-1].position if changes else after)


def prune_changes(conn: psycopg.Connection[Any], keep: timedelta) -> int:
    """Delete entries older than `keep` (a consumer further behind must catch up
    from the tables themselves); returns how many went."""
    with conn.transaction():
        cur = conn.execute("DELETE FROM change_feed WHERE created_at < now() - %s", (keep,))
        return cur.rowcount


def fetch_rows(conn: psycopg.Connection[Any], change: Change) -> list[dict[str, Any]]:
    """The stored rows a readings entry names, with all their values (a row that
    retention has dropped meanwhile is missing)."""
    family = change.family
    if family is None or change.observed_ats is None:
        return []
    spec = FAMILIES[family]
    keys = spec.key_columns
    arrays = {"pole_id": list(change.pole_ids), "observed_at": list(change.observed_ats)}
    types = {"pole_id": "text", "connector_id": "int2", "observed_at": "timestamptz"}
    if spec.has_connector:
        arrays["connector_id"] = list(change.connector_ids or ())
    query = sql.SQL(
        "SELECT r.* FROM unnest({arrays}) AS k({keys}) JOIN {table} r USING ({keys}) "
        "ORDER BY {keys}"
    ).format(
        arrays=sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Placeholder(k), sql.SQL(types[k])) for k in keys
        ),
        keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
        table=sql.Identifier(spec.table),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, arrays)
        return cur.fetchall()


def feed_watermark(conn: psycopg.Connection[Any]) -> FeedPosition:
    """A position before every entry not yet handed out: every transaction older
    than the oldest one still running has finished, so once `read_changes` has
    returned everything up to now (fewer entries than its limit), a consumer has
    all entries before this position and may resume from the later of it and its
    last entry. Take it before that `read_changes`."""
    row = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone()
    assert row is not None
    return FeedPosition(row[0], 0)


def position_kept(conn: psycopg.Connection[Any], position: FeedPosition) -> bool:
    """Whether resuming after `position` misses nothing: the feed still holds an
    entry at or before it (pruning goes oldest first, so nothing after it was
    pruned), and it is not from a transaction that has not even started (another
    database, a made-up position). False also when the feed was quiet for longer
    than its retention: then nothing after it is known either."""
    row = conn.execute(
        "SELECT %(xid)s::text::xid8 < pg_snapshot_xmax(pg_current_snapshot()) AND EXISTS ("
        "SELECT 1 FROM change_feed WHERE (xid, seq) <= (%(xid)s::text::xid8, %(seq)s))",
        {"xid": str(position.xid), "seq": position.seq},
    ).fetchone()
    return bool(row and row[0])


def pole_districts(conn: psycopg.Connection[Any], pole_ids: list[str]) -> dict[str, str | None]:
    """The registry's district of each of these poles (poles not registered are absent)."""
    rows = conn.execute(
        "SELECT pole_id, district FROM poles WHERE pole_id = ANY(%s)", (pole_ids,)
    ).fetchall()
    return {row[0]: row[1] for row in rows}
