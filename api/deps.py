"""What route handlers receive: the database, the settings, the parsed basics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request, Security
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.security import APIKeyHeader
from psycopg_pool import ConnectionPool

from api.params import MAX_LIMIT, TimeZones
from api.problems import ProblemError
from api.schemas import License
from config.services import ApiSettings
from inventory.geo import CityArea
from storage.queries.health import known_time_zones


@dataclass
class ApiState:
    """Everything the app holds for its lifetime (app.state.api)."""

    settings: ApiSettings
    license: License
    admin_keys: dict[str, bytes] = field(default_factory=dict)  # name -> SHA-256 of the key
    pool: ConnectionPool | None = None
    time_zones: TimeZones | None = None
    # One slot per pooled connection. Requests wait for a slot here, in the event
    # loop, not in a worker thread: a thread blocked on the pool would hold a
    # threadpool token that a connection holder may need to run its handler.
    connection_slots: asyncio.Semaphore | None = None
    # Requests waiting for a slot right now (/metrics: smartpole_api_db_slot_waits).
    slot_waiters: int = 0
    # What the admin inventory import checks positions against (loaded once).
    city_area: CityArea | None = None


@asynccontextmanager
async def connection_slot(state: ApiState) -> AsyncIterator[None]:
    """Hold one of the pool's connection slots (waiting in the event loop)."""
    slots = state.connection_slots
    assert slots is not None, "the lifespan opens the pool"
    state.slot_waiters += 1
    try:
        await slots.acquire()
    finally:
        state.slot_waiters -= 1
    try:
        yield
    finally:
        slots.release()


async def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


State = Annotated[ApiState, Depends(api_state)]


class Database:
    """A request's claim on one pooled connection. The slot behind it was taken in
    the event loop; the connection itself is taken and given back in the handler's
    own worker thread, so a request costs one thread hop, not three (taking and
    returning the connection in threads of their own cost about a tenth of the
    CPU of a small read)."""

    __slots__ = ("_pool",)

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        return self._pool.connection()


async def database(state: State) -> AsyncIterator[Database]:
    pool = state.pool
    assert pool is not None, "the lifespan opens the pool"
    async with connection_slot(state):
        yield Database(pool)


# scope="function": the slot is free again once the handler returns, before the
# response is sent.
Db = Annotated[Database, Depends(database, scope="function")]


async def stream_holding_a_slot(
    state: ApiState, chunks: Callable[[], Iterator[bytes]]
) -> AsyncIterator[bytes]:
    """A streamed body (CSV export, GeoJSON) that reads the database while it is
    sent: it holds a connection slot for the whole stream, like a handler holds one
    for its query, so streams cannot take every pooled connection (and with it the
    worker threads) from the other requests. The generator's steps run in worker
    threads, never in the event loop."""
    async with connection_slot(state):
        async for chunk in iterate_in_threadpool(chunks()):
            yield chunk


async def time_zones(state: State) -> TimeZones:
    # async: no thread hop per request once the zones are known. They are loaded
    # at start-up; only when the database was down then does a request load them,
    # in a worker thread and holding a connection slot like any query, so a
    # database outage never blocks the event loop (and /metrics, /health or a
    # cached answer keep answering).
    if state.time_zones is None:
        pool = state.pool
        assert pool is not None, "the lifespan opens the pool"

        def load() -> TimeZones:
            with pool.connection() as conn:
                return TimeZones(known_time_zones(conn), state.settings.timezone)

        async with connection_slot(state):
            state.time_zones = await run_in_threadpool(load)
    return state.time_zones


Zones = Annotated[TimeZones, Depends(time_zones)]


def page_size(state: ApiState, limit: int | None) -> int:
    return min(limit or state.settings.api_page_size, MAX_LIMIT)


api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Admin key (SMARTPOLE_API_ADMIN_KEYS). Public reads never need it.",
)


def matching_key(presented: str, keys: dict[str, bytes]) -> str | None:
    """The name of the configured key `presented` is, compared with every key in
    constant time (no early exit, so timing tells nothing about which or how
    close); None when it is none of them."""
    digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
    found = None
    for name, expected in keys.items():
        if hmac.compare_digest(digest, expected) and found is None:
            found = name
    return found


def require_admin(
    request: Request, state: State, key: Annotated[str | None, Security(api_key_header)] = None
) -> str:
    """Admits a request with a configured admin key; returns the key's name
    (the actor of what the request changes: `admin-key:<name>`)."""
    failures = request.app.state.metrics.admin_failures
    if not state.admin_keys:
        failures.labels("disabled").inc()
        raise ProblemError(
            403,
            "Forbidden",
            "the admin API is disabled: no SMARTPOLE_API_ADMIN_KEYS on this server",
        )
    if not key:
        failures.labels("missing").inc()
        raise ProblemError(
            401,
            "Unauthorized",
            "the admin API needs the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    name = matching_key(key, state.admin_keys)
    if name is None:
        failures.labels("wrong").inc()
        raise ProblemError(403, "Forbidden", "wrong API key")
    return name


AdminKeyName = Annotated[str, Depends(require_admin)]
