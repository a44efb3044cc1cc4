"""The quarantine as an operator sees it: list, show, replay, purge, retention.

Replay re-validates quarantined messages with today's rules (the decoder of
`models.wire`, with the limits ingest has now) and hands what passes to the
batch writer, so a replayed reading is stored exactly like a live one: same
natural keys (a reading already stored counts as a duplicate), read models,
rollups and change feed updated in the same transaction that deletes its
quarantine row. A row that still fails keeps its place with today's reason.
Replaying again therefore finds only rows that still fail, and changes none
of them. A payload kept only in part (the first 4 KiB of an oversized
message, `payload_truncated`) can never be replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.topics import PoleTopic
from models.wire import DecodeLimits, Rejection, RejectionKind, decode_message
from storage.writer import ReadingWriter, ReceivedReading, ReceivedRejection

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1  # bigint
REPLAY_CHUNK_ROWS = 500
NOT_REPLAYABLE = (
    "not replayable: only the first 4096 bytes of the payload were kept (it was too large, "
    "or on a topic that is not ours)"
)


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """Which rows a command acts on; empty fields do not filter. Times are when
    the message was first received (`received_at`)."""

    kinds: tuple[RejectionKind, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    pole_id: str | None = None
    ids: tuple[int, ...] = ()

    def is_empty(self) -> bool:
        return not (self.kinds or self.since or self.until or self.pole_id or self.ids)

    def params(self) -> dict[str, Any]:
        return {
            "kinds": [k.value for k in self.kinds] or None,
            "since": self.since,
            "until": self.until,
            "pole_id": self.pole_id,
            "ids": [i for i in self.ids if 1 <= i <= MAX_ID] if self.ids else None,
        }


_WHERE = sql.SQL("""
    (%(kinds)s::text[] IS NULL OR reason_kind = ANY(%(kinds)s::text[]))
    AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s::timestamptz)
    AND (%(until)s::timestamptz IS NULL OR received_at < %(until)s::timestamptz)
    AND (%(pole_id)s::text IS NULL OR pole_id = %(pole_id)s::text)
    AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
""")
_ENTRY_COLUMNS = sql.SQL("""
    id, received_at, last_received_at, times_seen, topic, pole_id, family, item_index,
    reason_kind, reason, octet_length(payload) AS payload_bytes, payload_truncated
""")


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: int
    received_at: datetime
    last_received_at: datetime
    times_seen: int
    topic: str
    pole_id: str | None
    family: str | None
    item_index: int | None
    reason_kind: str
    reason: str
    payload_bytes: int
    payload_truncated: bool

    @property
    def replayable(self) -> bool:
        return not self.payload_truncated


@dataclass(frozen=True, slots=True)
class KindSummary:
    reason_kind: str
    rows: int
    messages: int  # times_seen summed: redeliveries and repeats of the same bytes
    not_replayable: int
    first_received_at: datetime
    last_received_at: datetime


def list_entries(
    conn: psycopg.Connection[Any],
    where: QuarantineFilter,
    *,
    after_id: int | None = None,
    limit: int = 100,
) -> list[QuarantineEntry]:
    """Rows matching `where`, oldest id first, after `after_id` (keyset paging)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "SELECT {} FROM quarantine WHERE {} AND id > %(after)s ORDER BY id LIMIT %(limit)s"
            ).format(_ENTRY_COLUMNS, _WHERE),
            {**where.params(), "after": min(after_id or 0, MAX_ID), "limit": limit},
        )
        return [QuarantineEntry(**row) for row in cur.fetchall()]


def summarise(conn: psycopg.Connection[Any], where: QuarantineFilter) -> list[KindSummary]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "SELECT reason_kind, count(*) AS rows, sum(times_seen)::bigint AS messages,"
                " count(*) FILTER (WHERE payload_truncated) AS not_replayable,"
                " min(received_at) AS first_received_at,"
                " max(last_received_at) AS last_received_at"
                " FROM quarantine WHERE {} GROUP BY reason_kind ORDER BY reason_kind"
            ).format(_WHERE),
            where.params(),
        )
        return [KindSummary(**row) for row in cur.fetchall()]


def get_entry(
    conn: psycopg.Connection[Any], entry_id: int
) -> tuple[QuarantineEntry, bytes, bytes] | None:
    """One row with its payload and the payload's SHA-256; None when there is none."""
    if not 1 <= entry_id <= MAX_ID:
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL("SELECT {}, payload, payload_sha256 FROM quarantine WHERE id = %s").format(
                _ENTRY_COLUMNS
            ),
            (entry_id,),
        )
        row = cur.fetchone()
    if row is None:
        return None
    payload, digest = bytes(row.pop("payload")), bytes(row.pop("payload_sha256"))
    return QuarantineEntry(**row), payload, digest


def purge(conn: psycopg.Connection[Any], where: QuarantineFilter, *, dry_run: bool = False) -> int:
    """Delete the rows matching `where`; returns how many (would) go."""
    with conn.transaction():
        if dry_run:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM quarantine WHERE {}").format(_WHERE), where.params()
            ).fetchone()
            return int(row[0]) if row else 0
        cur = conn.execute(
            sql.SQL("DELETE FROM quarantine WHERE {}").format(_WHERE), where.params()
        )
        return cur.rowcount


def prune(conn: psycopg.Connection[Any], keep: timedelta | None, max_rows: int | None) -> int:
    """Retention: delete rows first received longer than `keep` ago, then the
    oldest beyond `max_rows` (so a pole sending garbage cannot fill the disk);
    returns how many went. Several ingest workers may run it at once."""
    deleted = 0
    with conn.transaction():
        if keep is not None:
            deleted += conn.execute(
                "DELETE FROM quarantine WHERE received_at < now() - %s", (keep,)
            ).rowcount
        if max_rows is not None:
            deleted += conn.execute(
                "DELETE FROM quarantine WHERE id <= (SELECT id FROM quarantine"
                " ORDER BY id DESC OFFSET %s LIMIT 1)",
                (max_rows,),
            ).rowcount
    return deleted


@dataclass(slots=True)
class ReplayReport:
    dry_run: bool
    examined: int = 0  # replayable rows matching the filter
    not_replayable: int = 0  # rows matching, kept only in part
    resolved: int = 0  # rows that now pass (deleted, their readings handed to the writer)
    stored: int = 0  # readings newly stored
    duplicates: int = 0  # readings that were stored already
    still_quarantined: int = 0  # rows that fail today's rules too (kept)
    reason_changed: int = 0  # of those, rows whose reason is now a different one
    now_by_kind: dict[str, int] = field(default_factory=dict)  # kinds of the rows kept

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "examined": self.examined,
            "not_replayable": self.not_replayable,
            "resolved": self.resolved,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "still_quarantined": self.still_quarantined,
            "reason_changed": self.reason_changed,
            "still_quarantined_by_kind": dict(sorted(self.now_by_kind.items())),
        }


@dataclass(slots=True)
class _Outcome:
    readings: list[ReceivedReading] = field(default_factory=list)
    rejections: list[ReceivedRejection] = field(default_factory=list)
    update: tuple[int, Rejection] | None = None  # still failing: the row and its new reason
    delete: int | None = None


def replay(
    conn: psycopg.Connection[Any],
    where: QuarantineFilter,
    limits: DecodeLimits,
    *,
    dry_run: bool = False,
    chunk_rows: int = REPLAY_CHUNK_ROWS,
) -> ReplayReport:
    """Re-validate the matching rows with today's rules and store what passes.

    Each chunk of rows commits on its own (rows are locked FOR UPDATE SKIP
    LOCKED: two replays at once never hand the same row to the writer twice).
    A dry run does all of it in one transaction and rolls it back, so its
    figures (stored versus already stored included) are exactly what a replay
    would do, and nothing stays written."""
    report = ReplayReport(dry_run=dry_run)
    writer = ReadingWriter(conn)
    autocommit = conn.autocommit
    conn.autocommit = False
    conn.rollback()
    # The writer's staging tables, committed before anything is written: a
    # chunk the database refuses must not take them with it.
    writer.write_batch([], [])
    conn.commit()
    params = where.params()
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM quarantine WHERE {} AND payload_truncated").format(_WHERE),
        params,
    ).fetchone()
    report.not_replayable = int(row[0]) if row else 0
    conn.commit()
    after = 0
    try:
        while True:
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    sql.SQL(
                        "SELECT id, received_at, topic, item_index, reason, reason_kind, payload"
                        " FROM quarantine WHERE {} AND NOT payload_truncated AND id > %(after)s"
                        " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
                    ).format(_WHERE),
                    {**params, "after": after, "limit": chunk_rows},
                )
                rows = cur.fetchall()
            if not rows:
                break
            after = rows[-1]["id"]
            report.examined += len(rows)
            _replay_chunk(conn, writer, rows, limits, report)
            if not dry_run:
                conn.commit()
    finally:
        conn.rollback()  # a dry run's writes; a failed chunk's
        conn.autocommit = autocommit
    return report


def _replay_chunk(
    conn: psycopg.Connection[Any],
    writer: ReadingWriter,
    rows: Sequence[dict[str, Any]],
    limits: DecodeLimits,
    report: ReplayReport,
) -> None:
    outcomes = [_decide(row, limits) for row in rows]
    # A retired pole's readings would be set aside by the writer again: keep
    # their row instead of deleting and re-creating it.
    for outcome, row in zip(outcomes, rows, strict=True):
        if outcome.readings and not outcome.rejections:
            kept, retired = writer.set_aside_retired(outcome.readings)
            if retired and not kept and len(retired) == 1:
                outcome.readings = []
                outcome.update = (row["id"], _as_row_rejection(retired[0].rejection, row))
    readings = [r for o in outcomes if o.update is None for r in o.readings]
    rejections = [j for o in outcomes if o.update is None for j in o.rejections]
    try:
        with conn.transaction():
            result = writer.write_batch(readings, rejections)
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except psycopg.Error as exc:
        # The database refuses one of them (a constraint an operator added):
        # find which, row by row, like ingest does.
        log.warning("replay: the database refused a chunk (%s); writing row by row", exc)
        for outcome, row in zip(outcomes, rows, strict=True):
            if outcome.update is not None:
                continue
            try:
                with conn.transaction():
                    one = writer.write_batch(outcome.readings, outcome.rejections)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise
            except psycopg.Error as refused:
                reason = f"storage refused: {refused}"[:1000]
                kind = RejectionKind.STORAGE_REFUSED
                outcome.update = (row["id"], Rejection(reason, b"", row["item_index"], kind))
                outcome.delete = None
                continue
            report.stored += one.stored
            report.duplicates += one.duplicates
    else:
        report.stored += result.stored
        report.duplicates += result.duplicates
    _record(conn, outcomes, rows, report)


def _record(
    conn: psycopg.Connection[Any],
    outcomes: Sequence[_Outcome],
    rows: Sequence[dict[str, Any]],
    report: ReplayReport,
) -> None:
    """Keep the rows that still fail with today's reason; delete the others."""
    for outcome, row in zip(outcomes, rows, strict=True):
        if outcome.update is not None:
            _, rejection = outcome.update
            report.still_quarantined += 1
            report.now_by_kind[rejection.kind.value] = (
                report.now_by_kind.get(rejection.kind.value, 0) + 1
            )
            changed = conn.execute(
                "UPDATE quarantine SET reason = %s, reason_kind = %s WHERE id = %s"
                " AND (reason, reason_kind) IS DISTINCT FROM (%s, %s)",
                (rejection.reason, rejection.kind.value, row["id"],
                 rejection.reason, rejection.kind.value),
            ).rowcount  # fmt: skip
            report.reason_changed += changed
        else:
            conn.execute("DELETE FROM quarantine WHERE id = %s", (row["id"],))
            report.resolved += 1
            for rejected in outcome.rejections:  # an array that now splits
                kind = rejected.rejection.kind.value
                report.now_by_kind[kind] = report.now_by_kind.get(kind, 0) + 1


def _decide(row: dict[str, Any], limits: DecodeLimits) -> _Outcome:
    received_at: datetime = row["received_at"]
    payload = bytes(row["payload"])
    decoded = decode_message(row["topic"], payload, received_at, limits)
    outcome = _Outcome()
    if not decoded.readings and len(decoded.rejections) == 1:
        outcome.update = (row["id"], _as_row_rejection(decoded.rejections[0], row))
        return outcome
    topic: PoleTopic | None = decoded.topic
    if topic is not None:
        outcome.readings = [ReceivedReading(topic, r, received_at) for r in decoded.readings]
    outcome.rejections = [
        ReceivedRejection(row["topic"], topic, _as_row_rejection(j, row), received_at)
        for j in decoded.rejections
    ]
    outcome.delete = row["id"]
    return outcome


def _as_row_rejection(rejection: Rejection, row: dict[str, Any]) -> Rejection:
    """A new rejection of a row that held one array item: it keeps the item's index
    (and so its place in the quarantine's key) and says which item it was."""
    index: int | None = row["item_index"]
    if index is None or rejection.item_index is not None:
        return rejection
    return Rejection(
        f"item {index}: {rejection.reason}", rejection.raw, index, rejection.kind, False
    )
