"""The event loop never waits for the database: during an outage, or while streams
hold every pooled connection, requests that need no database still answer.

No timing assertions: each test waits for a state the server reports in /metrics
(a request queued for the pool, or for a connection slot) and checks what else is
true at that moment."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest

import api.app
from config.services import ApiSettings
from tests.api.conftest import run_api
from tests.support.proxy import CuttableProxy, cuttable_proxy
from tests.support.services import PostgresServer

# anyio's default limit of worker threads, which sync handlers and stream steps use.
WORKER_THREADS = 40


def gauge(http: httpx.Client, name: str) -> float:
    response = http.get("/metrics", timeout=5)
    assert response.status_code == 200
    line = next(line for line in response.text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw: {what}")
        time.sleep(0.05)


def test_a_database_outage_does_not_block_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, database_url: str, postgres: PostgresServer
) -> None:
    """The database is down from the start, so the time zones (read from it at
    start-up) are still unknown when a series request needs them: loading them
    waits for the pool, which must happen in a worker thread, not in the loop.
    When the database comes back, the API recovers on its own."""
    monkeypatch.setattr(api.app, "POOL_WAIT_S", 0.2)  # start-up need not wait
    with cuttable_proxy(postgres.port) as proxy:
        proxy.cut()
        through_proxy = database_url.replace(f":{postgres.port}/", f":{proxy.port}/")
        settings = ApiSettings(database_url=through_proxy, api_cache_ttl_s=0, api_pool_size=2)  # type: ignore[arg-type]
        _outage_then_recovery(settings, proxy)


def _outage_then_recovery(settings: ApiSettings, proxy: CuttableProxy) -> None:
    with run_api(settings) as running, httpx.Client(base_url=running.url) as http:
        finished = threading.Event()
        answer: dict[str, int] = {}

        def series_request() -> None:
            with httpx.Client(base_url=running.url, timeout=60) as other:
                answer["status"] = other.get("/v1/poles/P1/series/env/pm10").status_code
            finished.set()

        threading.Thread(target=series_request, daemon=True).start()
        # While that request waits for a connection (up to the pool's 10 s), the
        # loop serves /metrics, which shows it waiting.
        wait_for(
            lambda: gauge(http, "smartpole_api_db_requests_waiting") >= 1,
            "the series request waiting for the pool",
        )
        assert not finished.is_set()
        assert http.get("/health", timeout=15).status_code == 503
        finished.wait(30)
        assert answer["status"] == 503
        # Back: the pool (which must not have been closed at start-up) reconnects.
        proxy.restore()
        wait_for(lambda: http.get("/health").status_code == 200, "the API recovered", 60)
        assert http.get("/v1/poles/P1/series/env/pm10").status_code == 404  # no such pole


def test_streams_wait_for_a_connection_slot_not_in_worker_threads(
    database_url: str, db: psycopg.Connection[Any]
) -> None:
    """GeoJSON streams read the database while they are sent. With one pooled
    connection held by a stream nobody reads, more streams must queue for the slot
    in the event loop; queued in worker threads they would take every thread."""
    db.execute(
        "INSERT INTO poles (pole_id, name, district, latitude, longitude)"
        " SELECT 'P-' || lpad(i::text, 6, '0'), 'Pole number ' || i, 'District ' || (i % 15),"
        " 51.5 + i * 1e-6, 7.3 + i * 1e-6 FROM generate_series(1, 60000) i"
    )
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0, api_pool_size=1)  # type: ignore[arg-type]
    with (
        run_api(settings) as running,
        httpx.Client(base_url=running.url) as http,
        httpx.Client(base_url=running.url, timeout=60) as blocker,
        # Read one chunk, then nothing for a while: the server sends into full
        # socket buffers, holding the slot and the connection.
        blocker.stream("GET", "/v1/poles.geojson") as held,
    ):
        next(held.iter_raw())
        queued = WORKER_THREADS + 5

        async def more_streams() -> None:
            async with httpx.AsyncClient(base_url=running.url, timeout=60) as client:
                await asyncio.gather(
                    *(client.get("/v1/poles.geojson") for _ in range(queued)),
                    return_exceptions=True,
                )

        threading.Thread(target=lambda: asyncio.run(more_streams()), daemon=True).start()
        # Streams are served one at a time through the one connection, so
        # a few may be done by the time /metrics looks.
        wait_for(
            lambda: gauge(http, "smartpole_api_db_slot_waits") >= WORKER_THREADS,
            f"{WORKER_THREADS} streams queued for the slot",
        )
        # /metrics answered in a worker thread, and nobody waits in the pool.
        assert gauge(http, "smartpole_api_db_requests_waiting") == 0
