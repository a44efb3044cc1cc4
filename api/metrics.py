"""Prometheus metrics of one API process (a registry per app, not the global one,
so several apps in one process, as in the tests, do not collide)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from psycopg_pool import ConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.live_feed import LiveFeed
from api.response_cache import RESULTS, ResponseCache, Result


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "smartpole_api_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "smartpole_api_request_seconds",
            "Time to the response headers, by route template",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.admin_failures = Counter(
            "smartpole_api_admin_auth_failures",
            "Admin requests refused: missing key, wrong key, or admin API disabled",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "smartpole_api_rate_limited",
            "Requests answered 429 because their client exceeded the rate limit",
            registry=self.registry,
        )
        self.cache_requests = Counter(
            "smartpole_api_cache_requests",
            "Cacheable reads by how the response cache answered: hit (fresh entry), stale "
            "(expired entry, served while another request refreshes it), shared (waited for "
            "a concurrent computation of the same response), miss (computed)",
            ["result"],
            registry=self.registry,
        )

    def watch_cache(self, cache: ResponseCache) -> Callable[[Result], None]:
        """Export the cache's size; returns the counter of its answers."""
        self.registry.register(_CacheCollector(cache))
        counters = {result: self.cache_requests.labels(result) for result in RESULTS}
        return lambda result: counters[result].inc()

    def watch_streams(self, feed: LiveFeed) -> None:
        self.registry.register(_StreamCollector(feed))

    def watch_pool(
        self, pool: Callable[[], ConnectionPool | None], slot_waits: Callable[[], int]
    ) -> None:
        self.registry.register(_PoolCollector(pool, slot_waits))


class _PoolCollector(Collector):
    def __init__(
        self, pool: Callable[[], ConnectionPool | None], slot_waits: Callable[[], int]
    ) -> None:
        self._pool = pool
        self._slot_waits = slot_waits

    def collect(self) -> Any:
        waits = GaugeMetricFamily(
            "smartpole_api_db_slot_waits",
            "Requests waiting (in the event loop) for one of the pool's connection slots",
        )
        waits.add_metric([], float(self._slot_waits()))
        yield waits
        pool = self._pool()
        if pool is None:
            return
        stats = pool.get_stats()
        for name in ("pool_size", "pool_available", "requests_waiting"):
            gauge = GaugeMetricFamily(f"smartpole_api_db_{name}", f"psycopg pool {name}")
            gauge.add_metric([], float(stats.get(name, 0)))
            yield gauge


class _StreamCollector(Collector):
    def __init__(self, feed: LiveFeed) -> None:
        self._feed = feed

    def collect(self) -> Any:
        feed = self._feed
        open_streams = GaugeMetricFamily(
            "smartpole_api_streams", "Live streams (GET /v1/stream) open in this process"
        )
        open_streams.add_metric([], float(len(feed.streams)))
        yield open_streams
        for name, value, text in (
            ("refused", feed.refused, "Live streams refused with 503 (stream limit reached)"),
            ("dropped", feed.dropped, "Live streams dropped because their client fell behind"),
            ("resets", feed.resets, "Resuming streams told to reset (Last-Event-ID too old)"),
            ("events", feed.events_offered, "Events handed to live streams' buffers"),
        ):
            counter = CounterMetricFamily(f"smartpole_api_stream_{name}", text)
            counter.add_metric([], float(value))
            yield counter


class _CacheCollector(Collector):
    def __init__(self, cache: ResponseCache) -> None:
        self._cache = cache

    def collect(self) -> Any:
        entries = GaugeMetricFamily(
            "smartpole_api_cache_entries", "Responses held by this process's response cache"
        )
        entries.add_metric([], float(len(self._cache)))
        size = GaugeMetricFamily(
            "smartpole_api_cache_bytes", "Approximate memory held by the response cache"
        )
        size.add_metric([], float(self._cache.bytes))
        yield entries
        yield size


class MetricsMiddleware:
    """Counts requests by route *template* (never the raw path: a client sending
    random paths must not grow the label set)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                self.metrics.latency.labels(scope["method"], template).observe(
                    time.perf_counter() - started
                )
                self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            await send(message)

        await self.app(scope, receive, send_wrapper)
