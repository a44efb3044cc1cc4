"""The FastAPI application: create_app(settings) wires routes, errors, CORS, metrics,
the response cache, and opens ONE connection pool per process in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.responses import Response

from api import http_limits, problems, sta, web
from api.deps import ApiState
from api.live_feed import LiveFeed
from api.metrics import ApiMetrics, MetricsMiddleware
from api.params import TimeZones
from api.rate_limit import EXEMPT_PATHS, RateLimitMiddleware, SharedBuckets
from api.response_cache import ResponseCache, ResponseCacheMiddleware
from api.routes import (
    admin,
    admin_quarantine,
    aggregates,
    air_quality,
    air_quality_statistics,
    ev,
    latest,
    map,
    ops,
    pole_health,
    poles,
    series,
    stream,
    wifi,
)
from api.schemas import License
from config.logging_setup import configure_logging
from config.services import ApiSettings
from inventory.geo import CityArea
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


ROUTERS = (
    poles, latest, series, aggregates, ev, wifi, air_quality, air_quality_statistics,
    pole_health, map, admin, admin_quarantine, ops, stream, sta,
)  # fmt: skip


def create_app(settings: ApiSettings, *, response_cache: ResponseCache | None = None) -> FastAPI:
    """The app; `response_cache` replaces the one the settings describe (tests pass
    one with a clock they control)."""
    state = ApiState(
        settings=settings,
        license=License(id=settings.data_license, url=settings.data_license_url),
        admin_keys=settings.admin_keys(),
        city_area=CityArea.from_settings(settings),
    )
    metrics = ApiMetrics()
    metrics.watch_pool(lambda: state.pool, lambda: state.slot_waiters)
    live_feed = LiveFeed(state)
    metrics.watch_streams(live_feed)
    http_limits.configure(
        max_request_line_bytes=settings.api_max_request_line_bytes,
        max_header_bytes=settings.api_max_header_bytes,
        max_headers=settings.api_max_headers,
    )
    app = FastAPI(
        title="smartpole open data API",
        version="1",
        description=DESCRIPTION.format(
            license=settings.data_license, license_url=settings.data_license_url
        ),
        license_info={"name": settings.data_license, "url": settings.data_license_url},
        lifespan=_lifespan(state, live_feed),
        # Served by api/web.py from the built assets instead of a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.api = state
    app.state.live_feed = live_feed
    app.state.metrics = metrics
    _install_error_handlers(app)
    for module in ROUTERS:
        app.include_router(module.router)
    web.install(app, state)
    _install_middleware(app, settings, metrics, response_cache)
    return app


def _lifespan(
    state: ApiState, live_feed: LiveFeed
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """ONE connection pool per process, opened when the app starts, closed when it
    stops; and the one poller of the change feed that feeds the live streams."""
    settings = state.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ConnectionPool(
            settings.require_database_url(),
            min_size=min(2, settings.api_pool_size),
            max_size=settings.api_pool_size,
            timeout=10.0,  # a request waits this long for a connection, then 503
            kwargs={"autocommit": True, "application_name": "smartpole-api"},
            configure=_configure_connection,
            # A connection the database dropped (restart, failover, an operator's
            # pg_terminate_backend) is found on checkout and replaced, instead of
            # failing the request it is handed to: one empty query per checkout.
            check=ConnectionPool.check_connection,
            open=False,
            name="smartpole-api",
        )
        pool.open()
        state.pool = pool
        state.connection_slots = asyncio.Semaphore(settings.api_pool_size)
        try:
            _load_time_zones(state, pool)
            live_feed.start()
            yield
        finally:
            await live_feed.stop()
            state.pool = None
            pool.close()

    return lifespan


def _load_time_zones(state: ApiState, pool: ConnectionPool) -> None:
    try:
        # Not pool.wait(): on a timeout it closes the pool, and an API started
        # while the database was down would answer 503 forever.
        with pool.connection(timeout=POOL_WAIT_S) as conn:
            state.time_zones = TimeZones(known_time_zones(conn), state.settings.timezone)
        log.info("api ready: pool of %d connections", state.settings.api_pool_size)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        # Serve anyway: /health says 503 and the pool keeps reconnecting, so the
        # API recovers on its own when the database comes up (api.deps.time_zones
        # loads the zones then).
        log.warning("database not reachable yet (%s); the pool keeps trying", exc)


def _install_error_handlers(app: FastAPI) -> None:
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


def _install_middleware(
    app: FastAPI,
    settings: ApiSettings,
    metrics: ApiMetrics,
    response_cache: ResponseCache | None,
) -> None:
    """Outermost first: metrics -> CORS -> rate limit -> response cache -> FastAPI
    routing. A cache hit never reaches routing, yet is counted, timed, rate limited
    and gets its CORS headers like any response; a 429 is counted and carries CORS
    headers, so a browser app can read it. (add_middleware puts each new one outside
    the previous ones.)"""
    if response_cache is None and settings.api_cache_ttl_s > 0:
        response_cache = ResponseCache(settings.api_cache_ttl_s)
    if response_cache is not None:
        app.add_middleware(
            ResponseCacheMiddleware,
            cache=response_cache,
            on_result=metrics.watch_cache(response_cache),
        )
    if settings.api_rate_limit_per_s > 0:
        buckets = SharedBuckets(settings.api_rate_limit_state_file, settings.api_rate_limit_clients)
        app.add_middleware(
            RateLimitMiddleware,
            buckets=buckets,
            rate=settings.api_rate_limit_per_s,
            burst=settings.api_rate_limit_burst,
            on_limited=metrics.rate_limited.inc,
        )
        document_rate_limit(app)
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


def document_rate_limit(app: FastAPI) -> None:
    """Every operation but the exempt ones may answer 429: say so in the spec."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        too_many = {
            **problems.problem_response_doc(
                "Too many requests from this client (SMARTPOLE_API_RATE_LIMIT_PER_S, "
                "SMARTPOLE_API_RATE_LIMIT_BURST); retry after the seconds in Retry-After."
            ),
            "headers": {
                "Retry-After": {
                    "description": "Seconds until the client may send again",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        }
        for path, operations in schema.get("paths", {}).items():
            if path in EXEMPT_PATHS:
                continue
            for operation in operations.values():
                operation.setdefault("responses", {})["429"] = too_many
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_environment() -> FastAPI:
    """The factory uvicorn calls in each worker process (`smartpole api` with
    SMARTPOLE_API_WORKERS > 1): every worker reads the settings and opens its pool."""
    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
