"""The FastAPI application: create_app(settings) wires routes, errors, CORS, metrics,
the response cache, and opens ONE connection pool per process in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.responses import Response

from api import problems
from api.deps import ApiState
from api.metrics import ApiMetrics, MetricsMiddleware
from api.params import TimeZones
from api.response_cache import ResponseCache, ResponseCacheMiddleware
from api.routes import (
    admin,
    aggregates,
    air_quality,
    ev,
    latest,
    ops,
    pole_health,
    poles,
    series,
    wifi,
)
from api.schemas import License
from config.services import ApiSettings
from inventory.geo import CityArea
from smartpole.logs import configure_logging
from storage.queries.health import known_time_zones

log = logging.getLogger(__name__)

# Interactive reads that run longer than this are cancelled (503 with a hint), so
# one expensive request cannot hold a pool connection for minutes. CSV exports
# lift it for their own transaction.
QUERY_TIMEOUT_MS = 30_000
POOL_WAIT_S = 10.0

DESCRIPTION = """
Open data from the city's smart poles: air quality, noise and weather, street
lighting, EV charging and public Wi-Fi.

* Public reads need no key. Lists and series are paged with keyset cursors:
  follow `next` until it is null. Series stream as CSV without any row cap.
* Times are ISO 8601. Daily and monthly buckets are local to `tz`
  (default Europe/Berlin) and correct across DST changes.
* Errors are RFC 9457 `application/problem+json`.
* Data license: **{license}** ({license_url}); attribute the city when you reuse it.
"""


def _configure_connection(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"SET statement_timeout = {QUERY_TIMEOUT_MS:d}".encode())


def create_app(settings: ApiSettings) -> FastAPI:
    license_ = License(id=settings.data_license, url=settings.data_license_url)
    state = ApiState(
        settings=settings, license=license_, city_area=CityArea.from_settings(settings)
    )
    metrics = ApiMetrics()
    metrics.watch_pool(lambda: state.pool)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ConnectionPool(
            settings.require_database_url(),
            min_size=min(2, settings.api_pool_size),
            max_size=settings.api_pool_size,
            timeout=10.0,  # a request waits this long for a connection, then 503
            kwargs={"autocommit": True, "application_name": "smartpole-api"},
            configure=_configure_connection,
            open=False,
            name="smartpole-api",
        )
        pool.open()
        state.pool = pool
        state.connection_slots = asyncio.Semaphore(settings.api_pool_size)
        try:
            try:
                pool.wait(timeout=POOL_WAIT_S)
                with pool.connection() as conn:
                    state.time_zones = TimeZones(known_time_zones(conn), settings.timezone)
                log.info("api ready: pool of %d connections", settings.api_pool_size)
            except (PoolTimeout, psycopg.OperationalError) as exc:
                # Serve anyway: /health says 503 and the pool keeps reconnecting, so
                # the API recovers on its own when the database comes up.
                log.warning("database not reachable yet (%s); the pool keeps trying", exc)
            yield
        finally:
            state.pool = None
            pool.close()

    app = FastAPI(
        title="smartpole open data API",
        version="1",
        description=DESCRIPTION.format(
            license=settings.data_license, license_url=settings.data_license_url
        ),
        license_info={"name": settings.data_license, "url": settings.data_license_url},
        lifespan=lifespan,
    )
    app.state.api = state
    app.state.metrics = metrics
    problems.install(app)

    @app.exception_handler(psycopg.errors.QueryCanceled)
    async def on_timeout(request: Request, exc: Exception) -> Response:
        return problems.render(
            request,
            problems.ProblemError(
                503,
                "Query timeout",
                "the query took too long; narrow the time range, aggregate, or use the CSV export",
                headers={"Retry-After": "5"},
            ),
        )

    for module in (
        poles,
        latest,
        series,
        aggregates,
        ev,
        wifi,
        air_quality,
        pole_health,
        admin,
        ops,
    ):
        app.include_router(module.router)

    # Middleware order, outermost first: metrics -> CORS -> response cache -> FastAPI
    # routing. A cache hit never reaches routing, yet is counted, timed and gets its
    # CORS headers like any response.
    if settings.api_cache_ttl_s > 0:
        cache = ResponseCache(settings.api_cache_ttl_s)
        app.add_middleware(
            ResponseCacheMiddleware, cache=cache, on_result=metrics.watch_cache(cache)
        )
    origins = [o.strip() for o in settings.api_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["If-None-Match"],
            expose_headers=["ETag", "Link"],
            max_age=3600,
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def create_app_from_environment() -> FastAPI:
    """The factory uvicorn calls in each worker process (`smartpole api` with
    SMARTPOLE_API_WORKERS > 1): every worker reads the settings and opens its pool."""
    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
