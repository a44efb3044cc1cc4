"""GET /v1/stream: newly stored readings and registry changes as Server-Sent
Events, from the post-commit change feed (api/live_feed.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, TypeAlias

import anyio
from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from api.deps import State
from api.http_limits import END_STREAM
from api.live_feed import Cursor, LiveFeed, StreamFilter, Subscriber, encode_event
from api.params import DistrictQuery, PoleQuery
from api.problems import COMMON_PROBLEMS, ProblemError, problem_response_doc
from api.responses import license_link
from models.catalogue.families import FAMILIES
from models.topics import Family

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["live"])

if TYPE_CHECKING:
    StreamFamily: TypeAlias = Family
else:
    StreamFamily = StrEnum("StreamFamily", {f.name: f.value for f in FAMILIES})

MEDIA_TYPE = "text/event-stream"
# A client that accepts nothing for this long is gone: its connection is closed.
SEND_TIMEOUT_S = 30.0
# Bytes of events written at once.
CHUNK_BYTES = 64 * 1024

STREAM_DOC = """
Each newly stored reading as it is committed, as Server-Sent Events (use the
browser's `EventSource`). Events:

* `reading`: one stored reading, `data` = `{"pole_id", "family", "connector_id"
  (ev; otherwise null), "observed_at" (ISO 8601, UTC), "values": {field: value}}`,
  the fields named as in `/v1/poles/{pole_id}/latest`.
* `status`: a registry change (a new pole, new capabilities, a new status):
  `data` = `{"pole_ids": [...], "changed_at"}`; refetch those poles. `family`
  does not filter these, `pole_id` and `district` do.
* `dropped`: this client fell too far behind (`data.reason`); the stream ends.
  Reconnect with `Last-Event-ID` to resume.
* `reset`: the `Last-Event-ID` sent is older than the change feed keeps (or is
  not one of ours): refetch the state you show, then live events follow.

Every event has an `id`; a client that reconnects with it (`EventSource` does
on its own, as header `Last-Event-ID`) gets everything it missed first, within
the change feed's retention (`SMARTPOLE_CHANGE_FEED_RETENTION_S`), with nothing
twice and nothing skipped. Readings come in commit order, and within one
ingest batch in key order; a batch committed later may hold older readings.
Comment lines (`: keepalive`) keep idle connections open. Each API process
serves a limited number of streams (503 with Retry-After beyond it).
"""


@router.get(
    "/stream",
    summary="Live readings and status changes (Server-Sent Events)",
    description=STREAM_DOC,
    response_model=None,
    response_class=Response,
    responses={
        200: {
            "description": "An endless stream of events",
            "content": {
                MEDIA_TYPE: {
                    "schema": {"type": "string"},
                    "example": 'event: reading\nid: 812.44.0\ndata: {"pole_id": "CR-0001", '
                    '"family": "env", "connector_id": null, "observed_at": '
                    '"2026-05-01T10:00:00Z", "values": {"pm10": 21.5}}\n\n',
                }
            },
        },
        503: problem_response_doc("This API process serves as many streams as it may"),
        **COMMON_PROBLEMS,
    },
)
async def stream(
    *,
    request: Request,
    state: State,
    family: Annotated[StreamFamily | None, Query(description="Only this family")] = None,
    pole_id: PoleQuery = None,
    district: DistrictQuery = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=100,
            description="The id of the last event received: resume after it",
        ),
    ] = None,
) -> Response:
    feed: LiveFeed = request.app.state.live_feed
    stream_filter = StreamFilter(
        families=None if family is None else frozenset({Family(family.value)}),
        pole_ids=None if pole_id is None else frozenset({pole_id}),
        districts=None if district is None else frozenset({district}),
    )
    subscriber = feed.subscribe(stream_filter)
    if subscriber is None:
        raise ProblemError(
            503,
            "Too many streams",
            f"this server serves {feed.max_clients} live streams at once; retry later",
            headers={"Retry-After": str(max(1, state.settings.api_stream_retry_ms // 1000))},
        )
    resume = None if last_event_id is None else Cursor.parse(last_event_id)
    return EventStream(
        feed,
        subscriber,
        resume=resume,
        reset=last_event_id is not None and resume is None,
        retry_ms=state.settings.api_stream_retry_ms,
        heartbeat_s=state.settings.api_stream_heartbeat_s,
        license_header=license_link(state.license),
    )


class EventStream(Response):
    """The response: writes one subscriber's events until the client goes, is
    dropped, or the server shuts down."""

    def __init__(
        self,
        feed: LiveFeed,
        subscriber: Subscriber,
        *,
        resume: Cursor | None,
        reset: bool,
        retry_ms: int,
        heartbeat_s: float,
        license_header: str,
    ) -> None:
        super().__init__(
            status_code=200,
            media_type=MEDIA_TYPE,
            headers={
                "Content-Type": MEDIA_TYPE,
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: pass events on at once
                "Link": license_header,
            },
        )
        # An endless body has no length (Response assumed an empty one).
        self.raw_headers = [h for h in self.raw_headers if h[0] != b"content-length"]
        self.feed = feed
        self.subscriber = subscriber
        self.resume = resume
        self.reset = reset
        self.retry_ms = retry_ms
        self.heartbeat_s = heartbeat_s
        self.ended = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The HTTP protocol calls it when the server shuts down, so open streams
        # do not hold the shutdown up forever (their clients reconnect and resume).
        scope[END_STREAM] = self.end
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": self.raw_headers,
                }
            )
            async with anyio.create_task_group() as tasks:

                async def until_disconnect() -> None:
                    while True:
                        message: Message = await receive()
                        if message["type"] == "http.disconnect":
                            tasks.cancel_scope.cancel()
                            return

                tasks.start_soon(until_disconnect)
                try:
                    await self._pump(send)
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                except TimeoutError:
                    # (Caught in here: out of the task group it would be a group.)
                    log.info(
                        "live stream: the client accepted nothing for %.0f s; closed",
                        SEND_TIMEOUT_S,
                    )
                tasks.cancel_scope.cancel()
        finally:
            self.feed.unsubscribe(self.subscriber)

    def end(self) -> None:
        self.ended.set()
        self.subscriber.wake.set()

    async def _write(self, send: Send, body: bytes) -> None:
        with anyio.fail_after(SEND_TIMEOUT_S):
            await send({"type": "http.response.body", "body": body, "more_body": True})

    async def _pump(self, send: Send) -> None:
        feed, subscriber = self.feed, self.subscriber
        await self._write(send, f"retry: {self.retry_ms}\n\n".encode())
        if self.resume is not None:
            if not await self._backlog(send, self.resume):
                return
        else:
            feed.go_live(subscriber, None)
            if self.reset:
                await self._send_reset(send, "Last-Event-ID is not an id of this stream")
        sent_through = subscriber.dispatched_through
        while not self.ended.is_set():
            if subscriber.dropped is not None:
                await self._write(
                    send, encode_event("dropped", None, {"reason": subscriber.dropped})
                )
                return
            if subscriber.buffer:
                await self._write(send, _take(subscriber))
                continue
            subscriber.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat_s):
                    await subscriber.wake.wait()
                continue
            # Idle: a comment keeps proxies from closing the connection, and the id
            # (where the client has everything) keeps a narrow filter's client
            # resumable after a quiet while.
            through = subscriber.dispatched_through
            if through is not None and through != sent_through:
                sent_through = through
                await self._write(send, f": keepalive\nid: {through}\n\n".encode())
            else:
                await self._write(send, b": keepalive\n\n")

    async def _backlog(self, send: Send, after: Cursor) -> bool:
        """Send what the client missed, then join the live fan-out; False when the
        stream ended meanwhile."""
        feed, subscriber = self.feed, self.subscriber
        cursor = after
        first = True
        while not self.ended.is_set():
            chunk = await feed.read_backlog(cursor, subscriber.filter, check_kept=first)
            if chunk is None:
                feed.go_live(subscriber, None)
                await self._send_reset(
                    send,
                    "Last-Event-ID is older than the change feed keeps: refetch the state "
                    "you show; live events follow",
                )
                return True
            first = False
            parts = [p for e in chunk.events if (p := subscriber.filter.render(e)) is not None]
            for start in range(0, len(parts), 200):
                await self._write(send, b"".join(parts[start : start + 200]))
            cursor = max(cursor, chunk.through)
            if chunk.more:
                continue
            if feed.go_live(subscriber, cursor):
                return True
            # The poller is ahead (read on at once), has not read yet, or is reading
            # what this stream cannot join in the middle of (wait for it).
            if feed.head is None or cursor >= feed.head:
                await asyncio.sleep(min(0.05, feed.poll_interval_s))
        return False

    async def _send_reset(self, send: Send, reason: str) -> None:
        self.feed.resets += 1
        through = self.subscriber.dispatched_through
        await self._write(
            send,
            encode_event("reset", None if through is None else str(through), {"reason": reason}),
        )


def _take(subscriber: Subscriber) -> bytes:
    """Up to CHUNK_BYTES of the buffered events (at least one)."""
    buffer = subscriber.buffer
    parts = [buffer.popleft()]
    size = len(parts[0])
    while buffer and size < CHUNK_BYTES:
        part = buffer.popleft()
        parts.append(part)
        size += len(part)
    return b"".join(parts)
