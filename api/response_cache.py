"""A per-process micro-cache of public read responses, as pure ASGI middleware.

Open-data clients ask the same questions again and again (the newest reading of
every pole, a district's daily means, a popular pole's week). Computing an
answer costs a database query and about a millisecond of Python in FastAPI; a
stored answer costs a dictionary lookup, and a hit never reaches FastAPI's
routing, dependencies or the connection pool.

What is stored: GET responses with status 200 whose `Cache-Control` says
`public` (and not `private`, `no-store` or `no-cache`), with a Content-Length of
at most `max_entry_bytes` and no `Set-Cookie` or `Vary`. Streamed responses
have no Content-Length, so they pass through, as do `/health`, `/metrics`,
`/v1/admin/...` and CSV exports, which are never even looked up. The key is
scheme, Host, path, query string and Accept: the body holds absolute `next`
links, so two hosts never share an entry. Keys longer than `MAX_KEY_BYTES`
bypass the cache, and the store is an LRU bounded in entries and bytes, so
hostile URLs cannot grow it.

Freshness: an entry is served for `ttl` seconds. A request finding it expired
(but younger than two TTLs) is answered with it at once ("stale") and starts
one background recomputation, as a copy of itself; so a TTL expiry under load
never makes clients wait. Concurrent misses of one key wait for one
computation instead of all querying the database (single flight).

Invalidation: a successful unsafe request (PUT/PATCH/POST/DELETE: the admin
routes) clears this process's cache before its response goes out, and answers
computed while it ran are not stored. Other worker processes keep their entries
until these expire and are refreshed, so they converge within two TTLs.

`If-None-Match` is answered from the cache (304 with the stored ETag). An answer
from the cache carries `Age` and `X-Cache: hit`, `stale` or `shared` (it waited
for a concurrent computation); a computed answer `X-Cache: miss`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import if_none_match_matches

log = logging.getLogger(__name__)

MAX_ENTRY_BYTES = 1 << 20
MAX_TOTAL_BYTES = 64 << 20
MAX_ENTRIES = 10_000
# Scheme + host + path + query + Accept; longer requests are answered, never stored.
MAX_KEY_BYTES = 4096
# Bookkeeping of one entry beyond its body and headers, roughly.
ENTRY_OVERHEAD_BYTES = 300
# Background refreshes running at once, per process. Entries stored together (say,
# by a burst of first requests) expire together; refreshing them all at once would
# stall the hits for tens of milliseconds. Past this, expired entries are served
# as they are until a refresh is free (and at most until two TTLs have passed).
MAX_REFRESHES = 2
# A request waiting for another one's computation of the same key gives up after
# this and computes its own (longer than the API's 30 s query timeout).
MAX_WAIT_S = 35.0

NEVER_CACHED_PREFIXES = ("/health", "/metrics", "/v1/admin/", "/v1/stream")
NEVER_CACHED_SUFFIXES = (".csv",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# What a 304 repeats of the 200 it stands for (RFC 9110 15.4.5), plus the license link.
NOT_MODIFIED_HEADERS = frozenset(
    {b"cache-control", b"content-location", b"etag", b"expires", b"link", b"vary"}
)
_DISQUALIFYING_DIRECTIVES = frozenset({b"private", b"no-store", b"no-cache"})
_MISS = (b"x-cache", b"miss")

Key = tuple[str, bytes, str, bytes, bytes]
Result = Literal["hit", "stale", "miss", "shared"]
RESULTS: tuple[Result, ...] = ("hit", "stale", "miss", "shared")


@dataclass(frozen=True, slots=True)
class CachedResponse:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str | None
    stored_at: float
    size: int
    route: Any  # the matched route, so metrics label a hit by its route template


class ResponseCache:
    """The store: an LRU of responses, bounded in entries and bytes. Single-threaded:
    used from the event loop of one process only."""

    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_TOTAL_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("a response cache needs a positive TTL")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock
        # Bumped by clear(): answers computed across a clear are not stored.
        self.generation = 0
        self._entries: OrderedDict[Key, CachedResponse] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: Key, now: float) -> CachedResponse | None:
        """The entry if it is fresh or still servable as stale (within two TTLs)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry.stored_at >= 2 * self.ttl_s:
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def is_fresh(self, entry: CachedResponse, now: float) -> bool:
        return now - entry.stored_at < self.ttl_s

    def put(self, key: Key, entry: CachedResponse) -> None:
        if entry.size > self.max_entry_bytes:
            return
        if key in self._entries:
            self._remove(key)
        self._entries[key] = entry
        self._bytes += entry.size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self.generation += 1

    def _remove(self, key: Key) -> None:
        self._bytes -= self._entries.pop(key).size


def _cache_key(scope: Scope) -> tuple[Key | None, str | None]:
    """(the cache key, or None when this request bypasses the cache; the client's
    If-None-Match)."""
    host = accept = b""
    if_none_match: str | None = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
        elif name == b"accept":
            accept = value if not accept else accept + b"," + value
        elif name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    path: str = scope["path"]
    if (
        scope["method"] != "GET"
        or path.startswith(NEVER_CACHED_PREFIXES)
        or path.endswith(NEVER_CACHED_SUFFIXES)
    ):
        return None, if_none_match
    query: bytes = scope["query_string"]
    scheme: str = scope["scheme"]
    if len(host) + len(path) + len(query) + len(accept) + len(scheme) > MAX_KEY_BYTES:
        return None, if_none_match
    return (scheme, host, path, query, accept), if_none_match


def storable(message: Message, max_entry_bytes: int) -> bool:
    """Whether a response start describes an answer the cache may keep."""
    if message["status"] != 200:
        return False
    length: int | None = None
    public = False
    for raw_name, value in message.get("headers", ()):
        name = raw_name.lower()
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return False
        elif name == b"cache-control":
            directives = {d.strip().split(b"=", 1)[0].lower() for d in value.split(b",")}
            if directives & _DISQUALIFYING_DIRECTIVES:
                return False
            public = public or b"public" in directives
        elif name in (b"set-cookie", b"vary"):
            return False
    return public and length is not None and length <= max_entry_bytes


def _etag(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"etag":
            return value.decode("latin-1")
    return None


async def _send_answer(
    send: Send,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    if_none_match: str | None,
    extra: list[tuple[bytes, bytes]],
) -> None:
    """A storable (status 200) answer with `extra` headers, or the 304 standing for
    it when the client's If-None-Match names its ETag."""
    etag = _etag(headers)
    if etag is not None and if_none_match_matches(if_none_match, etag):
        for reply in _not_modified(headers, extra):
            await send(reply)
        return
    await send({"type": "http.response.start", "status": 200, "headers": headers + extra})
    await send({"type": "http.response.body", "body": body})


def _without_if_none_match(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The request's headers minus If-None-Match: asked that way, the app gives the
    whole answer, which can be stored; the 304 is decided here."""
    return [h for h in scope["headers"] if h[0] != b"if-none-match"]


def _not_modified(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[Message]:
    """The 304 that stands for a 200 with `headers`, plus the `extra` headers."""
    kept = [(n, v) for n, v in headers if n.lower() in NOT_MODIFIED_HEADERS] + extra
    return [
        {"type": "http.response.start", "status": 304, "headers": kept},
        {"type": "http.response.body", "body": b""},
    ]


class _Recorder:
    """The send() of the request computing a key: holds back a storable answer until it
    is complete; forwards anything else at once (marked as a miss), releasing the
    requests waiting for this key as soon as it is clear there is nothing to share."""

    def __init__(
        self,
        *,
        scope: Scope,
        inner_scope: Scope,
        send: Send,
        if_none_match: str | None,
        max_entry_bytes: int,
        on_not_storable: Callable[[], None],
    ) -> None:
        self.scope = scope
        self.inner_scope = inner_scope
        self.send = send
        self.if_none_match = if_none_match
        self.max_entry_bytes = max_entry_bytes
        self.on_not_storable = on_not_storable
        self.start: Message | None = None
        self.parts: list[bytes] = []
        self.complete = False
        self.passing_through = False
        self.swallowing_body = False

    async def __call__(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if "route" in self.inner_scope:  # the metrics label responses by route
                self.scope["route"] = self.inner_scope["route"]
            if storable(message, self.max_entry_bytes):
                self.start = message
                return
            self.on_not_storable()
            self.passing_through = True
            headers = [*message.get("headers", ())]
            etag = _etag(headers)
            if (
                message["status"] == 200
                and etag
                and if_none_match_matches(self.if_none_match, etag)
            ):
                # The request's If-None-Match was taken off to get a storable answer.
                self.swallowing_body = True
                for reply in _not_modified(headers, [_MISS]):
                    await self.send(reply)
                return
            await self.send({**message, "headers": [*headers, _MISS]})
        elif kind == "http.response.body" and not self.passing_through:
            self.parts.append(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        elif not self.swallowing_body:
            await self.send(message)


class ResponseCacheMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        cache: ResponseCache,
        on_result: Callable[[Result], None] | None = None,
    ) -> None:
        self.app = app
        self.cache = cache
        self.on_result = on_result
        # Keys being computed now; requests for the same key wait on the event.
        self._inflight: dict[Key, asyncio.Event] = {}
        self._refreshes: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] not in SAFE_METHODS:
            await self.app(scope, receive, self._clearing_on_success(send))
        else:
            key, if_none_match = _cache_key(scope)
            if key is None:
                await self.app(scope, receive, send)
            else:
                await self._answer(scope, receive, send, key, if_none_match)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, key: Key, if_none_match: str | None
    ) -> None:
        cache = self.cache
        now = cache.clock()
        entry = cache.get(key, now)
        if entry is not None:
            if cache.is_fresh(entry, now):
                await self._serve(scope, send, entry, if_none_match, "hit")
                return
            # Expired but recent: answer with it now, refresh it in the background.
            if key not in self._inflight and len(self._refreshes) < MAX_REFRESHES:
                self._refresh(scope, key)
            await self._serve(scope, send, entry, if_none_match, "stale")
            return
        flight = self._inflight.get(key)
        if flight is None:
            self._count("miss")
            flight = self._take_off(key)
            await self._compute(
                scope, receive, send, key, if_none_match=if_none_match, flight=flight
            )
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(MAX_WAIT_S):
                await flight.wait()
        now = cache.clock()
        entry = cache.get(key, now)
        if entry is not None and cache.is_fresh(entry, now):
            await self._serve(scope, send, entry, if_none_match, "shared")
            return
        # The computation gave nothing storable (an error, a large or private answer):
        # answer this request on its own, as without a cache.
        self._count("miss")

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), _MISS]}
            await send(message)

        await self.app(scope, receive, marked)

    def _count(self, result: Result) -> None:
        if self.on_result is not None:
            self.on_result(result)

    async def _serve(
        self,
        scope: Scope,
        send: Send,
        entry: CachedResponse,
        if_none_match: str | None,
        result: Result,
    ) -> None:
        self._count(result)
        if entry.route is not None:
            scope["route"] = entry.route
        age = int(self.cache.clock() - entry.stored_at)
        extra = [(b"age", b"%d" % age), (b"x-cache", result.encode())]
        await _send_answer(send, entry.headers, entry.body, if_none_match, extra)

    def _take_off(self, key: Key) -> asyncio.Event:
        """Mark `key` as being computed (before any await, so no second request can
        start computing it too)."""
        flight = asyncio.Event()
        self._inflight[key] = flight
        return flight

    def _refresh(self, scope: Scope, key: Key) -> None:
        """Recompute `key` in the background, as a copy of the request that found its
        entry expired, answered to nobody."""
        flight = self._take_off(key)
        inner = {
            **scope,
            "headers": _without_if_none_match(scope),
            "state": dict(scope.get("state", {})),
        }
        inner.pop("route", None)
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def nobody(message: Message) -> None:
            pass

        async def refresh() -> None:
            try:
                await self._compute(inner, receive, nobody, key, if_none_match=None, flight=flight)
            except Exception:
                # The stale entry stays until it is too old; the next request retries.
                log.warning("refreshing a cached response failed", exc_info=True)

        task = asyncio.create_task(refresh())
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _compute(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: Key,
        *,
        if_none_match: str | None,
        flight: asyncio.Event,
    ) -> None:
        """Run the app as the one request computing `key`; store the answer if it may
        be stored, then let the requests waiting for it (`flight`) go on."""
        cache = self.cache
        generation = cache.generation

        def release() -> None:
            if self._inflight.get(key) is flight:
                del self._inflight[key]
            flight.set()

        inner = scope
        if if_none_match is not None:
            inner = {**scope, "headers": _without_if_none_match(scope)}
        recorder = _Recorder(
            scope=scope,
            inner_scope=inner,
            send=send,
            if_none_match=if_none_match,
            max_entry_bytes=cache.max_entry_bytes,
            on_not_storable=release,
        )
        try:
            await self.app(inner, receive, recorder)
            if recorder.start is None:
                return  # passed through
            headers = [*recorder.start.get("headers", ())]
            body = b"".join(recorder.parts)
            if recorder.complete and cache.generation == generation:
                cache.put(key, _entry(key, headers, body, cache.clock(), scope.get("route")))
            release()
            await _send_answer(send, headers, body, if_none_match, [_MISS])
        finally:
            release()

    def _clearing_on_success(self, send: Send) -> Send:
        async def clearing(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                self.cache.clear()
            await send(message)

        return clearing


def _entry(
    key: Key, headers: list[tuple[bytes, bytes]], body: bytes, now: float, route: Any
) -> CachedResponse:
    size = (
        len(body)
        + sum(len(n) + len(v) for n, v in headers)
        + sum(len(part) for part in key)
        + ENTRY_OVERHEAD_BYTES
    )
    return CachedResponse(
        headers=headers, body=body, etag=_etag(headers), stored_at=now, size=size, route=route
    )
