"""The change feed: nothing before its commit, nothing skipped when a batch that
started earlier commits later, resumable positions, the stored rows behind an entry."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from models.readings import EnvReading
from models.topics import Family, PoleTopic
from storage.change_feed import REGISTRY_KIND, FeedPosition, fetch_rows, prune_changes, read_changes
from storage.writer import ReadingWriter, ReceivedReading

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def env(pole: str, minute: int) -> ReceivedReading:
    at = T0 + timedelta(minutes=minute)
    reading = EnvReading.model_validate({"dateObserved": at, "pm10": float(minute % 1000)})
    return ReceivedReading(PoleTopic(pole, Family.ENV), reading, at)


def keys(changes: list[Any]) -> list[tuple[str, int | None, datetime]]:
    return [k for c in changes for k in c.reading_keys()]


def test_a_batch_committed_after_a_later_one_is_not_skipped(database_url: str) -> None:
    with (
        psycopg.connect(database_url) as slow_conn,
        psycopg.connect(database_url) as fast_conn,
        psycopg.connect(database_url, autocommit=True) as reader,
    ):
        fast = ReadingWriter(fast_conn)
        fast.write_batch([env("A", 0)], [])
        changes, position = read_changes(reader, None)
        assert [c.kind for c in changes] == ["env", REGISTRY_KIND]
        # The slow worker's transaction starts first (its id is lower) and holds
        # its batch open; the fast one commits a batch meanwhile.
        slow_conn.execute("SELECT pg_current_xact_id()")
        slow_conn.execute("INSERT INTO change_feed (kind, pole_ids) VALUES ('registry', '{S}')")
        fast.write_batch([env("B", 1)], [])
        # Not announced: B's entry is committed, but a transaction before it runs.
        assert read_changes(reader, position) == ([], position)
        slow_conn.commit()
        changes, position = read_changes(reader, position)
        assert [c.pole_ids for c in changes] == [("S",), ("B",), ("B",)]
        assert keys(changes) == [("B", None, T0 + timedelta(minutes=1))]
        # Resuming from the string form gives nothing new; a rolled-back batch never shows.
        assert read_changes(reader, FeedPosition.parse(str(position)))[0] == []
        with slow_conn.transaction(force_rollback=True):
            slow_conn.execute("INSERT INTO change_feed (kind, pole_ids) VALUES ('env', '{X}')")
        assert read_changes(reader, position)[0] == []
        # The entry refers to the stored rows: fetch their values.
        entry = next(c for c in read_changes(reader, None)[0] if c.kind == "env")
        assert [r["pm10"] for r in fetch_rows(reader, entry)] == [0.0]
        assert prune_changes(reader, timedelta(days=1)) == 0


def test_concurrent_writers_announce_every_stored_reading_once(database_url: str) -> None:
    batches = [[env(f"P{w}", m + 1000 * b) for m in range(50)] for w in range(2) for b in range(20)]
    seen: list[tuple[str, int | None, datetime]] = []
    done = threading.Event()

    def consume() -> None:
        with psycopg.connect(database_url, autocommit=True) as reader:
            position = None
            while True:
                finished = done.is_set()
                changes, position = read_changes(reader, position, limit=7)
                seen.extend(k for c in changes if c.kind == "env" for k in c.reading_keys())
                if finished and not changes:
                    return

    def write(mine: list[list[ReceivedReading]]) -> None:
        with psycopg.connect(database_url) as conn:
            writer = ReadingWriter(conn)
            for batch in mine:
                writer.write_batch(batch + batch[:5], [])  # redelivered within the batch

    consumer = threading.Thread(target=consume)
    consumer.start()
    writers = [threading.Thread(target=write, args=(batches[w::2],)) for w in range(2)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(120)
    done.set()
    consumer.join(120)
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT pole_id, NULL::int, observed_at FROM env_readings").fetchall()
    assert len(seen) == len(set(seen)) == len(stored) == 2000
    assert set(seen) == set(stored)
