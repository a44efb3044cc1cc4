"""The ingest worker: MQTT in, batches of COPY out, acks after commit.

Delivery guarantee: at-least-once from the broker, exactly-once in storage.
A message is acknowledged only after the transaction holding its readings
(or its quarantine entry) has committed; redeliveries hit the natural keys
and are counted as duplicates.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import psycopg

from config import ConfigError
from config.services import IngestSettings
from ingest.decoding import decode_batch
from ingest.inbox import InboundMessage, Inbox
from ingest.mqtt_source import MQTT_RECEIVE_MAXIMUM, MqttSource
from ingest.stats import IngestMetrics, IngestStats
from models.wire import DecodeLimits, Rejection, RejectionKind
from storage.admin import database_size_bytes
from storage.change_feed import prune_changes
from storage.connection import connect_with_retry
from storage.migrate import SchemaNotCurrent, pending_migrations
from storage.quarantine import prune as prune_quarantine
from storage.writer import ReadingWriter, ReceivedRejection, WriteResult

log = logging.getLogger(__name__)

DB_STARTUP_TIMEOUT_S = 60.0
CHANGE_FEED_PRUNE_EVERY_S = 60.0
DATABASE_SIZE_EVERY_S = 30.0


class IngestService:
    def __init__(self, settings: IngestSettings) -> None:
        if settings.ingest_batch_size > MQTT_RECEIVE_MAXIMUM:
            raise ConfigError(
                "SMARTPOLE_INGEST_BATCH_SIZE cannot exceed the MQTT receive maximum "
                f"({MQTT_RECEIVE_MAXIMUM})"
            )
        self.settings = settings
        self.dsn = settings.require_database_url()
        self.inbox = Inbox()
        self.stats = IngestStats()
        self.stopping = threading.Event()
        self.limits = DecodeLimits(
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future_skew=timedelta(seconds=settings.ingest_max_future_skew_s),
        )
        self.source = MqttSource(
            settings.mqtt,
            client_id=settings.mqtt_client_id,
            share_group=settings.mqtt_share_group,
            session_expiry_s=settings.mqtt_session_expiry_s,
            inbox=self.inbox,
            reader=settings.ingest_mqtt_reader,
        )
        self._in_flight = 0  # messages of the batch being written, not yet acknowledged
        self.metrics = IngestMetrics(
            backlog=lambda: len(self.inbox) + self._in_flight,
            broker_connections=lambda: self.source.connection,
            broker_connected=self.source.connected.is_set,
        )
        self.metrics.database_disk_capacity.set(settings.database_disk_capacity_bytes)
        self.metrics_port: int | None = None  # where /metrics is served, once running
        self._conn: psycopg.Connection[Any] | None = None
        self._writer: ReadingWriter | None = None
        self._database_connects = 0

    def install_signal_handlers(self) -> None:
        def request_stop(signum: int, frame: FrameType | None) -> None:
            log.info("received %s: flushing and stopping", signal.Signals(signum).name)
            self.stopping.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def run(self) -> None:
        if self.settings.ingest_metrics_port:
            try:
                self.metrics_port = self.metrics.serve(
                    self.settings.ingest_metrics_host, self.settings.ingest_metrics_port
                )
            except OSError as exc:  # taken, or an address this host does not have
                raise ConfigError(
                    "cannot serve metrics on SMARTPOLE_INGEST_METRICS_HOST:"
                    f"SMARTPOLE_INGEST_METRICS_PORT ({self.settings.ingest_metrics_host}:"
                    f"{self.settings.ingest_metrics_port}): {exc.strerror or exc}"
                ) from None
            log.info(
                "metrics at http://%s:%d/metrics",
                self.settings.ingest_metrics_host,
                self.metrics_port,
            )
        try:
            self._run()
        finally:
            self.metrics.close()

    def _run(self) -> None:
        self._connect_database(give_up_after_s=DB_STARTUP_TIMEOUT_S)
        if self._conn is None:
            return
        self._check_schema(self._conn)
        self.measure_database_size()
        self.source.start()
        log.info(
            "ingest running",
            extra={
                "batch_size": self.settings.ingest_batch_size,
                "batch_max_age_ms": self.settings.ingest_batch_max_age_ms,
                "client_id": self.settings.mqtt_client_id,
                "mqtt_reader": self.settings.ingest_mqtt_reader,
            },
        )
        max_age_s = self.settings.ingest_batch_max_age_ms / 1000
        next_stats_at = time.monotonic() + self.settings.ingest_stats_interval_s
        next_prune_at = time.monotonic()  # at once: a worker back from a long absence
        next_size_at = time.monotonic() + DATABASE_SIZE_EVERY_S
        try:
            while not self.stopping.is_set():
                batch = self.inbox.take_batch(
                    self.settings.ingest_batch_size, max_age_s, wait_s=min(max_age_s, 0.5)
                )
                if batch:
                    self.flush_batch(batch)
                if time.monotonic() >= next_stats_at:
                    self.log_stats()
                    next_stats_at = time.monotonic() + self.settings.ingest_stats_interval_s
                if time.monotonic() >= next_prune_at:
                    self.prune_change_feed()
                    self.prune_quarantine()
                    next_prune_at = time.monotonic() + CHANGE_FEED_PRUNE_EVERY_S
                if time.monotonic() >= next_size_at:
                    self.measure_database_size()
                    next_size_at = time.monotonic() + DATABASE_SIZE_EVERY_S
            self._drain()
        finally:
            self.source.close()
            if self._conn is not None:
                self._conn.close()
            self.log_stats()

    def _drain(self) -> None:
        """On shutdown: stop taking messages, write and ack what we hold."""
        self.source.stop_accepting()
        while batch := self.inbox.take_batch(self.settings.ingest_batch_size, 0, wait_s=0):
            if not self.flush_batch(batch, give_up_when_stopping=True):
                log.error(
                    "database unavailable at shutdown: %d messages left unacknowledged; "
                    "the broker will redeliver them",
                    len(batch) + len(self.inbox),
                )
                return

    def flush_batch(
        self, batch: Sequence[InboundMessage], *, give_up_when_stopping: bool = False
    ) -> bool:
        """Write one batch, retrying through database outages; ack after commit."""
        started = time.monotonic()
        self._in_flight = len(batch)
        self.stats.messages_received += len(batch)
        self.metrics.received.inc(len(batch))
        decoded = decode_batch(batch, self.limits)
        kinds = Counter(item.rejection.kind for item in decoded.rejections)
        while True:
            writer = self._writer
            try:
                if writer is None:
                    raise psycopg.OperationalError("not connected")
                commit_started = time.monotonic()
                result = writer.write_batch(decoded.readings, decoded.rejections)
                self.metrics.commit_seconds.observe(time.monotonic() - commit_started)
                break
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.stats.write_retries += 1
                self.metrics.database_up.set(0)
                log.warning("batch write failed (%s); reconnecting to the database", exc)
                if give_up_when_stopping:
                    try:
                        self._connect_database(give_up_after_s=5.0, honour_stop=False)
                    except psycopg.OperationalError:
                        self._in_flight = 0  # left to the broker to redeliver
                        return False
                else:
                    self._connect_database(give_up_after_s=None)
                    if self._writer is None:  # stop requested while the database was away
                        give_up_when_stopping = True
            except psycopg.Error as exc:
                # The database refused data that passed validation. Find the
                # message(s) responsible instead of retrying the batch forever.
                log.error("batch refused by the database (%s); writing message by message", exc)
                assert writer is not None
                result, kinds = self._write_one_by_one(writer, batch)
                break
        committed_at = time.time()
        self.source.ack(batch)
        self._in_flight = 0
        self.stats.readings_stored += result.stored
        self.stats.duplicates += result.duplicates
        self.stats.quarantined += result.quarantined
        self.stats.record_batch(time.monotonic() - started)
        self._count_committed(batch, result, kinds, committed_at)
        return True

    def _count_committed(
        self,
        batch: Sequence[InboundMessage],
        result: WriteResult,
        kinds: Counter[RejectionKind],
        committed_at: float,
    ) -> None:
        # The writer sets aside readings of retired poles as quarantine rows too.
        set_aside = result.quarantined - sum(kinds.values())
        if set_aside > 0:
            kinds[RejectionKind.DECOMMISSIONED] += set_aside
        metrics = self.metrics
        metrics.stored.inc(result.stored)
        metrics.duplicates.inc(result.duplicates)
        metrics.record_rejections(kinds)
        metrics.batch_size.observe(len(batch))
        metrics.lag_seconds.observe(max(committed_at - batch[0].received_at, 0.0))
        metrics.last_commit.set(committed_at)
        metrics.database_up.set(1)

    def _write_one_by_one(
        self, writer: ReadingWriter, batch: Sequence[InboundMessage]
    ) -> tuple[WriteResult, Counter[RejectionKind]]:
        total = WriteResult()
        kinds: Counter[RejectionKind] = Counter()
        for message in batch:
            decoded = decode_batch([message], self.limits)
            try:
                result = writer.write_batch(decoded.readings, decoded.rejections)
                kinds.update(item.rejection.kind for item in decoded.rejections)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                raise
            except psycopg.Error as exc:
                received_at = datetime.fromtimestamp(message.received_at, UTC)
                reason = f"storage refused: {exc}"[:1000]
                refusal = Rejection(reason, message.payload, None, RejectionKind.STORAGE_REFUSED)
                result = writer.write_batch(
                    [], [ReceivedRejection(message.topic, None, refusal, received_at)]
                )
                kinds[RejectionKind.STORAGE_REFUSED] += 1
            total.stored += result.stored
            total.duplicates += result.duplicates
            total.quarantined += result.quarantined
        return total, kinds

    def measure_database_size(self) -> None:
        if self._conn is None:
            return
        try:
            self.metrics.database_size.set(database_size_bytes(self._conn))
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("could not measure the database's size (%s); next time", exc)

    def prune_change_feed(self) -> None:
        """Drop change feed entries past their retention (every worker may: a
        DELETE of rows nobody else deletes concurrently twice)."""
        if self._conn is None:
            return
        keep = timedelta(seconds=self.settings.change_feed_retention_s)
        try:
            pruned = prune_changes(self._conn, keep)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("change feed pruning failed (%s); next time", exc)
            return
        if pruned:
            log.info("change feed: %d entries past retention deleted", pruned)

    def prune_quarantine(self) -> None:
        """Quarantine retention: by age and by count (SMARTPOLE_QUARANTINE_*)."""
        if self._conn is None:
            return
        days, max_rows = self.settings.quarantine_retention_days, self.settings.quarantine_max_rows
        if not days and not max_rows:
            return
        try:
            pruned = prune_quarantine(
                self._conn, timedelta(days=days) if days else None, max_rows or None
            )
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.warning("quarantine pruning failed (%s); next time", exc)
            return
        if pruned:
            log.info("quarantine: %d rows past retention deleted", pruned)

    def log_stats(self) -> None:
        log.info("ingest counters", extra={**self.stats.snapshot(), "inbox": len(self.inbox)})

    def _connect_database(self, *, give_up_after_s: float | None, honour_stop: bool = True) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._writer = None
        # Raises OperationalError once give_up_after_s has passed; None: never.
        self._conn = connect_with_retry(
            self.dsn,
            give_up_after_s=give_up_after_s,
            should_stop=self.stopping.is_set if honour_stop else lambda: False,
        )
        if self._conn is not None:
            self._writer = ReadingWriter(self._conn)
            self._database_connects += 1
            if self._database_connects > 1:
                self.metrics.database_reconnects.inc()
            self.metrics.database_up.set(1)

    @staticmethod
    def _check_schema(conn: psycopg.Connection[Any]) -> None:
        pending = pending_migrations(conn)
        conn.rollback()
        if pending:
            raise SchemaNotCurrent(
                f"database schema is not up to date (pending: {', '.join(pending)}); "
                "run `smartpole db migrate` first"
            )
