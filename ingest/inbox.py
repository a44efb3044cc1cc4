"""Hand-over from the MQTT network thread to the batch writer.

The network thread only appends; the writer takes a batch when it is full or
when its oldest message has waited long enough. Nothing here is acknowledged:
that happens after the batch commits.

What it holds is bounded twice. By the broker: at most the worker's MQTT
Receive Maximum of unacknowledged QoS 1 messages per connection. And here,
because a broker does not always keep to that (Mosquitto 2.0.11 sent an
ingest worker 441,000 unacknowledged messages of a queued backlog against a
Receive Maximum of 65,535): above `limit` messages the network thread stops
reading from the socket (`is_full`, `wait_for_room`) until the writer has
taken a batch, and the broker keeps the rest. On a reconnect whose session the broker kept, QoS 1
messages of connections before the previous one are dropped
(`drop_redelivered`): they can no longer be acknowledged and the broker sends
them again, so keeping them would let a worker that reconnects again and
again while its database is away hold one more copy of its whole window each
time. The previous connection's are kept: should the broker have lost them
(a crash restores its last save, which may predate them), the inbox holds
the only copy, and writing them twice costs a counted duplicate at most.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple


# A NamedTuple rather than a frozen dataclass: built once per message on the
# network thread, where a frozen dataclass's __init__ costs three times as much.
class InboundMessage(NamedTuple):
    topic: str
    payload: bytes
    received_at: float  # time.time() on arrival
    mid: int
    qos: int
    # Which MQTT connection delivered it: packet ids are only meaningful on
    # the connection that assigned them, so acks of older ones are skipped.
    connection: int


# What a worker holds at most, and announces to the broker as its MQTT
# Receive Maximum (the protocol's largest: batches of thousands build up
# while the previous one commits).
MAX_UNACKNOWLEDGED = 65535


class Inbox:
    def __init__(self, limit: int = MAX_UNACKNOWLEDGED) -> None:
        self.limit = limit
        self._items: deque[InboundMessage] = deque()
        self._arrived = threading.Condition()

    def is_full(self) -> bool:
        return len(self._items) >= self.limit

    def wait_for_room(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the writer to take a batch; True when
        there is room."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._items) < self.limit, timeout_s)

    def put_many(self, messages: Iterable[InboundMessage]) -> None:
        with self._arrived:
            self._items.extend(messages)
            self._arrived.notify()

    def drop_redelivered(self, current_connection: int) -> int:
        """Drop the QoS 1 messages of connections before the one before
        `current_connection` (the broker redelivers them: call only when it
        kept the session); returns how many."""
        with self._arrived:
            kept = deque(
                m for m in self._items if m.qos != 1 or m.connection >= current_connection - 1
            )
            dropped = len(self._items) - len(kept)
            self._items = kept
            return dropped

    def __len__(self) -> int:
        return len(self._items)

    def take_batch(self, max_items: int, max_age_s: float, wait_s: float) -> list[InboundMessage]:
        """Wait up to `wait_s` for a full batch or for the oldest message to age out.

        Returns an empty list when neither happened in time, so the caller can
        look at its stop flag. `max_age_s=0` takes whatever is there (drain)."""
        # Ages come from each message's own arrival time (wall clock, as
        # stored in received_at), so what is left after a full batch keeps its age.
        deadline = time.time() + wait_s
        with self._arrived:
            while True:
                now = time.time()
                if len(self._items) >= max_items:
                    break
                oldest_at = self._items[0].received_at if self._items else None
                if oldest_at is not None and now - oldest_at >= max_age_s:
                    break
                if now >= deadline:
                    return []
                wake_at = deadline if oldest_at is None else min(deadline, oldest_at + max_age_s)
                self._arrived.wait(max(wake_at - now, 0.001))
            count = min(max_items, len(self._items))
            batch = [self._items.popleft() for _ in range(count)]
            self._arrived.notify_all()  # a network thread may wait for room
            return batch
