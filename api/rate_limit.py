"""Per-client rate limiting of the public API: a token bucket per client
address, shared by every worker process of the API.

Each client (an IPv4 address, or the /64 an IPv6 address belongs to, since
one subscriber usually holds a whole /64) gets a bucket of `burst` tokens
that refills at `rate` per second; a request takes one token or is answered
429 with Retry-After. The buckets live in a file mapped into memory by every
worker (`SMARTPOLE_API_RATE_LIMIT_STATE_FILE`, made by `smartpole api` for
its workers when unset), guarded by an advisory lock held for the few
microseconds a bucket update takes: the limit holds for the whole API, not
per process, and costs no database round trip, so answers from the response
cache count too.

The table has a fixed number of slots (SMARTPOLE_API_RATE_LIMIT_CLIENTS);
a client hashes to a run of 8 of them. When all 8 are taken by others, the
longest-idle bucket is reused: that client starts over with a full bucket,
which is what an idle client would have anyway.

Which address is the client's: the peer's, unless the peer is a trusted
proxy (SMARTPOLE_API_TRUSTED_PROXIES), whose X-Forwarded-For uvicorn
resolves before we see the request (`api.cli.server_options`).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import ipaddress
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from config import ConfigError

MAGIC = b"SPRLv1\0\0"
_HEADER = struct.Struct("<8sQ")  # magic, slots
_SLOT = struct.Struct("<16sdd")  # client digest, tokens, last update (wall clock, s)
PROBES = 8
EMPTY = bytes(16)
EXEMPT_PATHS = frozenset({"/health", "/metrics"})


@functools.lru_cache(maxsize=8192)
def client_key(host: str | None) -> bytes:
    """16 bytes naming a client: its IPv4 address, or its IPv6 /64."""
    if not host:
        return hashlib.blake2b(b"unknown", digest_size=16).digest()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode()
    else:
        if isinstance(address, ipaddress.IPv6Address):
            mapped = address.ipv4_mapped
            name = mapped.packed if mapped is not None else address.packed[:8]  # the /64
        else:
            name = address.packed
    return hashlib.blake2b(name, digest_size=16).digest()


class SharedBuckets:
    """The bucket table in a memory-mapped file, shared across processes."""

    def __init__(self, path: Path | None, slots: int) -> None:
        self.slots = slots
        size = _HEADER.size + slots * _SLOT.size
        self._fd: int | None = None
        self._thread_lock = threading.Lock()
        if path is None:  # one process: anonymous memory, a lock of this process
            self._map = mmap.mmap(-1, size)
            _HEADER.pack_into(self._map, 0, MAGIC, slots)
            return
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with self._locked():
            current = os.fstat(self._fd).st_size
            if current == 0:
                os.ftruncate(self._fd, size)
            elif current != size:
                raise ConfigError(
                    f"SMARTPOLE_API_RATE_LIMIT_STATE_FILE {path}: made for another table size "
                    f"({current} bytes, expected {size}); remove it or use another file"
                )
            self._map = mmap.mmap(self._fd, size)
            magic, stored_slots = _HEADER.unpack_from(self._map, 0)
            if magic != MAGIC:
                _HEADER.pack_into(self._map, 0, MAGIC, slots)
            elif stored_slots != slots:
                raise ConfigError(f"{path}: made for {stored_slots} clients, not {slots}")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def _acquire(self) -> None:
        self._thread_lock.acquire()
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def _release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def take(self, key: bytes, *, rate: float, burst: float, now: float | None = None) -> float:
        """Take a token for `key`: 0.0 when granted, else the seconds until one is due."""
        now = time.time() if now is None else now
        start = int.from_bytes(key[:8], "little") % self.slots
        self._acquire()  # not a context manager: this runs on every request
        try:
            return self._take(key, start, rate, burst, now)
        finally:
            self._release()

    def _take(self, key: bytes, start: int, rate: float, burst: float, now: float) -> float:
        chosen = None
        oldest_at, oldest = math.inf, start
        for probe in range(PROBES):
            index = (start + probe) % self.slots
            offset = _HEADER.size + index * _SLOT.size
            owner, tokens, updated = _SLOT.unpack_from(self._map, offset)
            if owner == key:
                chosen = offset
                tokens = min(burst, tokens + max(0.0, now - updated) * rate)
                break
            if owner == EMPTY:
                oldest_at, oldest = -math.inf, index
            elif updated < oldest_at:
                oldest_at, oldest = updated, index
        if chosen is None:  # new here (or evicted): a full bucket
            chosen = _HEADER.size + oldest * _SLOT.size
            tokens = burst
        if tokens >= 1.0:
            _SLOT.pack_into(self._map, chosen, key, tokens - 1.0, now)
            return 0.0
        _SLOT.pack_into(self._map, chosen, key, tokens, now)
        wait: float = (1.0 - tokens) / rate
        return wait

    def close(self) -> None:
        self._map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


class RateLimitMiddleware:
    """429 problem+json with Retry-After once a client's bucket is empty;
    /health and /metrics are exempt (monitoring must not be locked out)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: SharedBuckets,
        rate: float,
        burst: int,
        on_limited: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.rate = rate
        self.burst = float(burst)
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = client[0] if client else None
        wait = self.buckets.take(client_key(host), rate=self.rate, burst=self.burst)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        self.on_limited()
        retry_after = max(1, math.ceil(wait))
        body = orjson.dumps(
            {
                "type": PROBLEM_TYPE_BASE + "too-many-requests",
                "title": "Too many requests",
                "status": 429,
                "detail": f"this client made more than {int(self.burst)} requests in a burst "
                f"or {self.rate:g} per second for a while; retry after {retry_after} s",
                "instance": scope["path"],
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
