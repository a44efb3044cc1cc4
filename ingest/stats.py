"""Ingest counters: logged periodically, and served to Prometheus by each worker.

Each worker has its own registry and, when SMARTPOLE_INGEST_METRICS_PORT is
set, its own HTTP server (`GET /metrics`): Prometheus scrapes every worker and
sums. Counters count from the worker's start (Prometheus' rate() handles
restarts). The names are what deploy/prometheus/ alerts on and the Operations
dashboard plots: keep them stable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from models.wire import RejectionKind


@dataclass(slots=True)
class IngestStats:
    messages_received: int = 0
    readings_stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    batches: int = 0
    batch_seconds_total: float = 0.0
    batch_seconds_max: float = 0.0
    write_retries: int = 0

    def record_batch(self, seconds: float) -> None:
        self.batches += 1
        self.batch_seconds_total += seconds
        self.batch_seconds_max = max(self.batch_seconds_max, seconds)

    def snapshot(self) -> dict[str, float | int]:
        figures: dict[str, float | int] = asdict(self)
        figures["batch_ms_avg"] = round(1000 * self.batch_seconds_total / max(self.batches, 1), 2)
        figures["batch_ms_max"] = round(1000 * self.batch_seconds_max, 2)
        del figures["batch_seconds_total"], figures["batch_seconds_max"]
        return figures


BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


class _BrokerCollector(Collector):
    """The MQTT connection's state, read from the source when scraped."""

    def __init__(self, connections: Callable[[], int], connected: Callable[[], bool]) -> None:
        self.connections = connections
        self.connected = connected

    def collect(self) -> Iterable[Metric]:
        reconnects = CounterMetricFamily(
            "smartpole_ingest_broker_reconnects",
            "Connections to the broker after the first (a broker restart, a network cut)",
        )
        reconnects.add_metric([], max(self.connections() - 1, 0))
        yield reconnects
        up = GaugeMetricFamily(
            "smartpole_ingest_broker_connected", "1 while connected to the broker"
        )
        up.add_metric([], 1 if self.connected() else 0)
        yield up

    def describe(self) -> Iterator[Metric]:
        return iter(())


class IngestMetrics:
    """One worker's Prometheus metrics (a registry of its own, not the process-global
    one, so tests can run several in one process)."""

    def __init__(
        self,
        *,
        backlog: Callable[[], int],
        broker_connections: Callable[[], int],
        broker_connected: Callable[[], bool],
    ) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.received = Counter(
            "smartpole_ingest_messages_received", "MQTT messages taken in", registry=registry
        )
        self.stored = Counter(
            "smartpole_ingest_readings_stored", "Readings newly stored", registry=registry
        )
        self.duplicates = Counter(
            "smartpole_ingest_duplicates",
            "Readings already stored (a redelivery, a resend)",
            registry=registry,
        )
        self.quarantined = Counter(
            "smartpole_ingest_quarantined",
            "Messages or array items quarantined, by kind of reason",
            ["reason"],
            registry=registry,
        )
        for kind in RejectionKind:  # every series exists from the start: rate() sees 0
            self.quarantined.labels(kind.value)
        self.batch_size = Histogram(
            "smartpole_ingest_batch_size_messages",
            "MQTT messages per committed batch",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "smartpole_ingest_commit_duration_seconds",
            "Time to write and commit one batch (COPY, merge, read models)",
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.lag_seconds = Histogram(
            "smartpole_ingest_lag_seconds",
            "Per batch: from the arrival (received_at) of its oldest message to its commit",
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.last_commit = Gauge(
            "smartpole_ingest_last_commit_timestamp_seconds",
            "Unix time of the last committed batch (0: none yet)",
            registry=registry,
        )
        self.database_reconnects = Counter(
            "smartpole_ingest_database_reconnects",
            "Reconnections to the database after a failure",
            registry=registry,
        )
        self.database_up = Gauge(
            "smartpole_ingest_database_up",
            "1 while the database answers this worker, 0 while it retries",
            registry=registry,
        )
        self.database_size = Gauge(
            "smartpole_database_size_bytes",
            "Disk used by the database (pg_database_size), refreshed about every 30 s",
            registry=registry,
        )
        self.database_disk_capacity = Gauge(
            "smartpole_database_disk_capacity_bytes",
            "Size of the database's disk as configured (SMARTPOLE_DATABASE_DISK_CAPACITY_BYTES; "
            "0: unknown)",
            registry=registry,
        )
        backlog_gauge = Gauge(
            "smartpole_ingest_backlog_messages",
            "Messages received and not yet committed: waiting, or in the batch being written",
            registry=registry,
        )
        backlog_gauge.set_function(lambda: float(backlog()))
        registry.register(_BrokerCollector(broker_connections, broker_connected))
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def record_rejections(self, kinds: dict[RejectionKind, int]) -> None:
        for kind, count in kinds.items():
            if count:
                self.quarantined.labels(kind.value).inc(count)

    def serve(self, host: str, port: int) -> int:
        """Serve GET /metrics on host:port (0: any free port); returns the port."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._server, self._thread = server, thread
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
