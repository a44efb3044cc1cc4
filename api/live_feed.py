"""Live events from the post-commit change feed, fanned out to the streams of
GET /v1/stream.

ONE poller per API process reads the change feed (storage.change_feed) every
SMARTPOLE_API_STREAM_POLL_INTERVAL_S, in a worker thread holding one pooled
connection for the read only, and hands each committed reading (and each
registry change) to the streams whose filter it matches, by appending it to
each stream's bounded buffer in the event loop. It never waits for a client:
a stream whose buffer is full is dropped, so a slow client costs nobody else
anything, ingest least of all (the feed is written by ingest's own
transactions and read here; nothing here can hold a writer up).

Where a client is, is a cursor: the change feed position of a change and the
index of the reading in it (`xid.seq.index`), or a position after which the
client has everything (`xid.seq`, sent with heartbeats). Because the feed
hands out a position only once every older transaction has finished, a
client resuming after its cursor misses nothing, even a batch another worker
committed later than the last one it saw. A resuming client reads its backlog
from the feed itself (in chunks, paced by its own socket, one pooled
connection per chunk), then joins the live fan-out at the poller's position:
the switch happens in the event loop between two polls, and what it read
past the poller is not sent twice (each stream skips events at or before
its cursor).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool, PoolTimeout

from api.deps import ApiState, connection_slot
from models.catalogue.families import FAMILIES
from models.topics import Family
from storage.change_feed import (
    Change,
    FeedPosition,
    feed_watermark,
    fetch_rows,
    pole_districts,
    position_kept,
    read_changes,
)

log = logging.getLogger(__name__)

# The index of a cursor that stands after a whole change (all its readings).
WHOLE = 1 << 62
# Largest parts of a cursor a client may send back (xid8 and bigint; index
# below WHOLE): anything else is not one of ours.
MAX_POSITION_PART = (1 << 63) - 1
# Changes one read of the feed takes, and events one step hands out at most: a
# step's events reach the buffers at once, so a step stays at half the buffer
# size, or a client that keeps up would be dropped for one large batch.
CHANGES_PER_READ = 100
MAX_EVENTS_PER_STEP = 2000


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """After reading `index` of the change at `position` (WHOLE: after all of it)."""

    position: FeedPosition
    index: int = WHOLE

    def __str__(self) -> str:
        if self.index == WHOLE:
            return str(self.position)
        return f"{self.position}.{self.index}"

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """The cursor a client sent back (Last-Event-ID), or None when it is not one."""
        parts = text.strip().split(".")
        if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
            return None
        if any(len(p) > 19 for p in parts):
            return None
        numbers = [int(p) for p in parts]
        if any(n > MAX_POSITION_PART for n in numbers):
            return None
        index = numbers[2] if len(numbers) == 3 else WHOLE
        if index > WHOLE:
            return None
        return cls(FeedPosition(numbers[0], numbers[1]), index)

    @property
    def read_after(self) -> FeedPosition:
        """Where to read the feed from to get everything after this cursor."""
        if self.index == WHOLE:
            return self.position
        # The rest of a partly delivered change: read that change again.
        return FeedPosition(self.position.xid, self.position.seq - 1)


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event as every stream sends it; `districts` for the district filter."""

    cursor: Cursor
    kind: str  # "reading" or "status"
    family: Family | None
    pole_ids: tuple[str, ...]
    districts: tuple[str | None, ...]
    changed_at: datetime | None
    encoded: bytes  # the whole SSE event, for a stream without pole filters

    def encode_for(self, pole_ids: Sequence[str]) -> bytes:
        """A status event naming only some of its poles."""
        return encode_event("status", str(self.cursor), status_data(pole_ids, self.changed_at))


def encode_event(kind: str, event_id: str | None, data: dict[str, Any]) -> bytes:
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head.encode() + b"data: " + orjson.dumps(data, option=orjson.OPT_UTC_Z) + b"\n\n"


def status_data(pole_ids: Sequence[str], changed_at: datetime | None) -> dict[str, Any]:
    return {"pole_ids": list(pole_ids), "changed_at": changed_at and changed_at.astimezone(UTC)}


def reading_data(family: Family, row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as the stream sends it: the API's field names of the family
    (the catalogue's columns, as /v1/poles/{id}/latest names them)."""
    spec = FAMILIES[family]
    return {
        "pole_id": row["pole_id"],
        "family": family.value,
        "connector_id": row["connector_id"] if spec.has_connector else None,
        "observed_at": row["observed_at"].astimezone(UTC),
        "values": {column: row[column] for column in spec.value_columns},
    }


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What one stream asked for (None: everything)."""

    families: frozenset[Family] | None = None
    pole_ids: frozenset[str] | None = None
    districts: frozenset[str] | None = None

    def _pole_matches(self, pole_id: str, district: str | None) -> bool:
        if self.pole_ids is not None and pole_id not in self.pole_ids:
            return False
        return self.districts is None or district in self.districts

    def render(self, event: LiveEvent) -> bytes | None:
        """The bytes this stream sends for `event`, or None when it does not want it."""
        if event.kind == "reading":
            if self.families is not None and event.family not in self.families:
                return None
            if not self._pole_matches(event.pole_ids[0], event.districts[0]):
                return None
            return event.encoded
        # Registry changes are not of a family: only the pole filters apply.
        if self.pole_ids is None and self.districts is None:
            return event.encoded
        poles = [
            p
            for p, d in zip(event.pole_ids, event.districts, strict=True)
            if self._pole_matches(p, d)
        ]
        if not poles:
            return None
        return event.encoded if len(poles) == len(event.pole_ids) else event.encode_for(poles)


@dataclass(frozen=True, slots=True)
class Interest:
    """What any live stream wants: changes nobody wants are not fetched."""

    families: frozenset[Family] | None  # None: all
    pole_ids: frozenset[str] | None  # None: all

    def covers(self, stream_filter: StreamFilter) -> bool:
        """Whether every event the filter lets through is fetched under this interest."""
        wanted = stream_filter.families
        if self.families is not None and (wanted is None or not wanted <= self.families):
            return False
        poles = stream_filter.pole_ids
        return self.pole_ids is None or (poles is not None and poles <= self.pole_ids)

    def wants(self, change: Change) -> bool:
        family = change.family
        if family is not None and self.families is not None and family not in self.families:
            return False
        return self.pole_ids is None or not self.pole_ids.isdisjoint(change.pole_ids)

    @classmethod
    def of(cls, filters: Iterable[StreamFilter]) -> Interest:
        families: set[Family] | None = set()
        poles: set[str] | None = set()
        for f in filters:
            if families is not None:
                families = None if f.families is None else families | f.families
            if poles is not None:
                poles = None if f.pole_ids is None else poles | f.pole_ids
        return cls(
            None if families is None else frozenset(families),
            None if poles is None else frozenset(poles),
        )


@dataclass(slots=True)
class FeedRead:
    events: list[LiveEvent]
    # Where the reader has everything up to (None: nothing read yet).
    through: Cursor
    # More is waiting: read again at once.
    more: bool


def read_events(
    conn: psycopg.Connection[Any], after: Cursor, interest: Interest, *, limit: int
) -> FeedRead:
    """The events after `after`, at most `limit` (a large batch is handed out in
    steps: the cursor can stand inside a change)."""
    watermark = feed_watermark(conn)
    changes, _ = read_changes(conn, after.read_after, CHANGES_PER_READ)
    taken: list[Change] = []
    readings = 0
    for change in changes:
        if readings >= limit:
            break
        taken.append(change)
        if interest.wants(change):
            readings += len(change.pole_ids)
    events = _events_of(conn, [c for c in taken if interest.wants(c)], after)
    if len(events) > limit:
        del events[limit:]
        return FeedRead(events, events[-1].cursor, more=True)
    through = max(after, Cursor(taken[-1].position)) if taken else after
    more = len(taken) < len(changes) or len(changes) == CHANGES_PER_READ
    if not more:
        through = max(through, Cursor(watermark))
    return FeedRead(events, through, more)


def _events_of(
    conn: psycopg.Connection[Any], changes: list[Change], after: Cursor
) -> list[LiveEvent]:
    if not changes:
        return []
    districts = pole_districts(conn, sorted({p for c in changes for p in c.pole_ids}))
    events: list[LiveEvent] = []
    for change in changes:
        family = change.family
        if family is None:
            cursor = Cursor(change.position, 0)
            if cursor <= after:
                continue
            poles = change.pole_ids
            events.append(
                LiveEvent(
                    cursor,
                    "status",
                    None,
                    poles,
                    tuple(districts.get(p) for p in poles),
                    change.created_at,
                    encode_event("status", str(cursor), status_data(poles, change.created_at)),
                )
            )
            continue
        # Each reading's index is its place among the change's keys, which stays
        # the same when the rows are read again (a row dropped by retention
        # meanwhile is missing, without moving the others).
        index_of = {key: i for i, key in enumerate(change.reading_keys())}
        spec = FAMILIES[family]
        rows = []
        for row in fetch_rows(conn, change):
            connector = row["connector_id"] if spec.has_connector else None
            index = index_of.get((row["pole_id"], connector, row["observed_at"]))
            if index is not None:
                rows.append((index, row))
        rows.sort(key=lambda item: item[0])
        for index, row in rows:
            cursor = Cursor(change.position, index)
            if cursor <= after:
                continue
            pole = row["pole_id"]
            events.append(
                LiveEvent(
                    cursor,
                    "reading",
                    family,
                    (pole,),
                    (districts.get(pole),),
                    None,
                    encode_event("reading", str(cursor), reading_data(family, row)),
                )
            )
    return events


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream: its filter, its buffer and where it is."""

    filter: StreamFilter
    buffer_size: int
    # Live: fed by the poller, events at or before `after` skipped.
    live: bool = False
    after: Cursor | None = None
    # Everything the poller handed out up to here is in the buffer (or was sent).
    dispatched_through: Cursor | None = None
    buffer: deque[bytes] = field(default_factory=deque)
    dropped: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, payload: bytes) -> bool:
        if len(self.buffer) >= self.buffer_size:
            return False
        self.buffer.append(payload)
        self.wake.set()
        return True


class LiveFeed:
    """The process's poller and the streams it feeds."""

    def __init__(self, state: ApiState) -> None:
        self.state = state
        settings = state.settings
        self.poll_interval_s = settings.api_stream_poll_interval_s
        self.max_clients = settings.api_stream_max_clients
        self.buffer_size = settings.api_stream_client_buffer
        self.step = max(1, min(MAX_EVENTS_PER_STEP, self.buffer_size // 2))
        self.head: Cursor | None = None
        self.streams: set[Subscriber] = set()
        # For /metrics.
        self.refused = 0
        self.dropped = 0
        self.resets = 0
        self.events_offered = 0
        self._task: asyncio.Task[None] | None = None
        # What the poller's read under way fetches (None: no read under way).
        self._reading: Interest | None = None
        self._last_error: str | None = None

    # -- the streams ---------------------------------------------------------

    def subscribe(self, stream_filter: StreamFilter) -> Subscriber | None:
        """A new stream, or None when this process serves as many as it may."""
        if len(self.streams) >= self.max_clients:
            self.refused += 1
            return None
        subscriber = Subscriber(stream_filter, self.buffer_size)
        self.streams.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.streams.discard(subscriber)
        subscriber.live = False

    def go_live(self, subscriber: Subscriber, after: Cursor | None) -> bool:
        """Join the fan-out if the poller is not ahead of `after` (False: read on)."""
        if after is not None and (self.head is None or after < self.head):
            # Behind the poller, or the poller has not read the feed yet (its first
            # read moves to now and would skip what follows `after`).
            return False
        reading = self._reading
        if after is not None and reading is not None and not reading.covers(subscriber.filter):
            # The read under way skips changes no stream wanted when it began: it
            # would move the head past events this stream wants.
            return False
        subscriber.after = after
        subscriber.dispatched_through = after if after is not None else self.head
        subscriber.live = True
        return True

    async def read_backlog(
        self, after: Cursor, stream_filter: StreamFilter, *, check_kept: bool
    ) -> FeedRead | None:
        """One chunk of a resuming stream's backlog (None: the feed no longer holds
        what follows `after`: the client must start over)."""
        pool = self._pool()
        interest = Interest.of([stream_filter])

        def read() -> FeedRead | None:
            with pool.connection() as conn:
                if check_kept and not position_kept(conn, after.position):
                    return None
                return read_events(conn, after, interest, limit=MAX_EVENTS_PER_STEP)

        async with connection_slot(self.state):
            return await run_in_threadpool(read)

    # -- the poller ------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="smartpole-live-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscriber in list(self.streams):
            subscriber.wake.set()

    async def _run(self) -> None:
        while True:
            try:
                more = await self.poll()
                self._last_error = None
            except (psycopg.Error, PoolTimeout) as exc:
                # The database is away: the streams stay open (with heartbeats) and
                # carry on from where the feed was once it is back.
                if str(exc) != self._last_error:
                    log.warning("live feed: cannot read the change feed (%s); retrying", exc)
                    self._last_error = str(exc)
                more = False
            except Exception:
                # A bug must not end the live streams for the process's lifetime.
                log.exception("live feed: reading the change feed failed; retrying")
                more = False
            if more:
                await asyncio.sleep(0)  # let the streams write what they got
            else:
                await asyncio.sleep(self.poll_interval_s)

    def _pool(self) -> ConnectionPool:
        pool = self.state.pool
        if pool is None:
            raise PoolTimeout("the pool is closed")
        return pool

    async def poll(self) -> bool:
        """Read what the feed has after the head and hand it out; True when more waits."""
        pool = self._pool()
        head = self.head
        live = [s for s in self.streams if s.live]
        if head is None or not live:
            # Nobody to hand anything to: move to now (catching-up streams read
            # the feed themselves until they pass the head).
            def watermark() -> FeedPosition:
                with pool.connection() as conn:
                    return feed_watermark(conn)

            async with connection_slot(self.state):
                mark = Cursor(await run_in_threadpool(watermark))
            if self.head is None or mark > self.head:
                self.head = mark
            return False
        interest = Interest.of(s.filter for s in live)

        def read() -> FeedRead:
            with pool.connection() as conn:
                return read_events(conn, head, interest, limit=self.step)

        self._reading = interest
        try:
            async with connection_slot(self.state):
                result = await run_in_threadpool(read)
        finally:
            self._reading = None
        self.dispatch(result.events, result.through)
        return result.more

    def dispatch(self, events: list[LiveEvent], through: Cursor) -> None:
        """Hand events to the live streams (in the event loop, never waiting)."""
        for subscriber in [s for s in self.streams if s.live]:
            after = subscriber.after
            for event in events:
                if after is not None and event.cursor <= after:
                    continue
                payload = subscriber.filter.render(event)
                if payload is None:
                    continue
                if not subscriber.offer(payload):
                    self.drop(
                        subscriber,
                        f"this client fell more than {subscriber.buffer_size} events behind; "
                        "reconnect with Last-Event-ID (and narrower filters) to resume",
                    )
                    break
                self.events_offered += 1
            else:
                current = subscriber.dispatched_through
                subscriber.dispatched_through = (
                    through if current is None else max(current, through)
                )
        if self.head is None or through > self.head:
            self.head = through

    def drop(self, subscriber: Subscriber, reason: str) -> None:
        self.dropped += 1
        subscriber.live = False
        subscriber.dropped = reason
        subscriber.buffer.clear()
        subscriber.wake.set()
