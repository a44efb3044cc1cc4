"""Each ingest worker's Prometheus metrics, scraped from a running worker: the
counters match what it stored, what it found stored already and what it
quarantined, by kind of reason."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.proxy import cuttable_proxy
from tests.support.services import MosquittoServer, free_port, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]


def scrape(port: int) -> dict[str, float]:
    """Every sample as `name{label="value",...}` -> value."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples_by_name: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples_by_name[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples_by_name


def test_a_running_worker_serves_counters_that_match_the_database(
    database_url: str,
    mosquitto: MosquittoServer,
    publisher: TestPublisher,
    db: Conn,
    tmp_path: Path,
) -> None:
    port = free_port()
    ingest = IngestProcess(
        database_url, mosquitto.url, tmp_path / "ingest.log", ingest_metrics_port=port
    )
    ingest.start()
    try:
        wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")
        assert f"metrics at http://127.0.0.1:{port}/metrics" in ingest.log_text()
        before = scrape(port)
        assert before["smartpole_ingest_broker_connected"] == 1
        assert before['smartpole_ingest_quarantined_total{reason="too_large"}'] == 0
        assert before["smartpole_database_size_bytes"] > 1_000_000  # a migrated database

        env = samples.topic("M-1", "env")
        good = [(env, samples.env(m)) for m in range(10)]
        good.append((env, [samples.env(m) for m in range(10, 20)]))
        resent = good[:3]
        bad: list[tuple[str, Any]] = [
            (env, b"{not json"),
            (env, b"[1, 2"),
            (env, samples.env(30, pm10=-5)),
            (env, [samples.env(31), samples.env(32, relativeHumidity=140)]),  # one of two
            (samples.topic("M-1", "nonsense"), samples.env(33)),
            (env, b"x" * 300_000),  # above SMARTPOLE_INGEST_MAX_PAYLOAD_BYTES
        ]
        sent = publisher.publish_all(good) + publisher.publish_all(bad)
        sent += publisher.publish_all(resent)

        def committed() -> bool:  # counted after each batch's commit
            return scrape(port)["smartpole_ingest_batch_size_messages_sum"] == sent

        wait_until(committed, 30, "every message committed")
        figures = scrape(port)
        assert figures["smartpole_ingest_messages_received_total"] == sent
        stored = db.execute("SELECT count(*) FROM env_readings").fetchone()
        assert stored == (21,)
        assert figures["smartpole_ingest_readings_stored_total"] == 21
        assert figures["smartpole_ingest_duplicates_total"] == 3
        by_kind = dict(
            db.execute(
                "SELECT reason_kind, sum(times_seen) FROM quarantine GROUP BY reason_kind"
            ).fetchall()
        )
        assert by_kind == {"malformed_json": 2, "invalid_reading": 2, "topic": 1, "too_large": 1}
        for kind, count in by_kind.items():
            assert figures[f'smartpole_ingest_quarantined_total{{reason="{kind}"}}'] == count
        assert figures['smartpole_ingest_quarantined_total{reason="decommissioned"}'] == 0
        batches = figures["smartpole_ingest_batch_size_messages_count"]
        assert batches >= 1 and figures["smartpole_ingest_batch_size_messages_sum"] == sent
        assert figures["smartpole_ingest_commit_duration_seconds_count"] == batches
        assert figures["smartpole_ingest_lag_seconds_count"] == batches
        assert figures["smartpole_ingest_last_commit_timestamp_seconds"] > 1.7e9
        assert figures["smartpole_ingest_backlog_messages"] == 0
        assert figures["smartpole_ingest_database_up"] == 1
        assert figures["smartpole_ingest_database_reconnects_total"] == 0
        assert figures["smartpole_ingest_broker_reconnects_total"] == 0
    finally:
        ingest.stop()
    # the server went with the worker
    try:
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        raise AssertionError("metrics still served after the worker stopped")
    except httpx.TransportError:
        pass


def test_metrics_are_off_by_default(ingest: IngestProcess) -> None:
    ingest.start()
    wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")
    assert "metrics at" not in ingest.log_text()


def test_a_metrics_port_that_is_taken_stops_the_worker_with_the_setting_named(
    database_url: str, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ingest = IngestProcess(
            database_url, mosquitto.url, tmp_path / "ingest.log", ingest_metrics_port=taken
        )
        ingest.start()
        assert ingest.process is not None
        assert ingest.process.wait(60) == 2
    log = ingest.log_text()
    assert "SMARTPOLE_INGEST_METRICS_PORT" in log and "Traceback" not in log


def test_outages_show_in_the_metrics(
    database_url: str,
    mosquitto: MosquittoServer,
    publisher: TestPublisher,
    db: Conn,
    tmp_path: Path,
) -> None:
    """A database cut: database_up 0 and the backlog held while it lasts, one
    database reconnect after; a broker cut: one broker reconnect."""
    pg_port = urlsplit(database_url).port
    assert pg_port is not None
    port = free_port()
    env = samples.topic("O-1", "env")
    with cuttable_proxy(pg_port) as pg_proxy, cuttable_proxy(mosquitto.port) as mqtt_proxy:
        ingest = IngestProcess(
            database_url.replace(f":{pg_port}/", f":{pg_proxy.port}/"),
            mosquitto.url_at(mqtt_proxy.port),
            tmp_path / "ingest.log",
            ingest_metrics_port=port,
        )
        ingest.start()
        try:
            wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")
            publisher.publish_all([(env, samples.env(m)) for m in range(10)])
            wait_until(lambda: count(db, "env_readings") == 10, 30, "first readings stored")

            pg_proxy.cut()
            publisher.publish_all([(env, samples.env(m)) for m in range(10, 20)])

            def database_down() -> bool:
                figures = scrape(port)
                return (
                    figures["smartpole_ingest_database_up"] == 0
                    and figures["smartpole_ingest_backlog_messages"] > 0
                )

            wait_until(database_down, 30, "database_up 0 with messages held")
            pg_proxy.restore()
            wait_until(lambda: count(db, "env_readings") == 20, 60, "held readings stored")
            figures = scrape(port)
            assert figures["smartpole_ingest_database_up"] == 1
            assert figures["smartpole_ingest_database_reconnects_total"] >= 1
            assert figures["smartpole_ingest_broker_reconnects_total"] == 0

            mqtt_proxy.cut()
            mqtt_proxy.restore()
            wait_until(
                lambda: scrape(port)["smartpole_ingest_broker_reconnects_total"] >= 1,
                60,
                "a broker reconnect counted",
            )
            wait_until(
                lambda: scrape(port)["smartpole_ingest_broker_connected"] == 1, 60, "reconnected"
            )
        finally:
            ingest.stop()


def count(db: Conn, table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - a constant
    assert row is not None
    return int(row[0])


def test_ingest_applies_the_quarantine_retention(
    database_url: str, mosquitto: MosquittoServer, db: Conn, tmp_path: Path
) -> None:
    for n in range(5):
        db.execute(
            "INSERT INTO quarantine (received_at, last_received_at, topic, reason, reason_kind,"
            " payload, payload_sha256) VALUES (now() - %s * interval '1 day', now(), 't',"
            " 'malformed JSON: x', 'malformed_json', %s, %s)",
            (40 if n == 0 else 0, b"bad %d" % n, b"%d" % n),
        )
    ingest = IngestProcess(
        database_url,
        mosquitto.url,
        tmp_path / "ingest.log",
        quarantine_retention_days=30,
        quarantine_max_rows=3,
    )
    ingest.start()
    try:
        wait_until(lambda: count(db, "quarantine") == 3, 30, "the quarantine pruned")
        kept = [bytes(p) for (p,) in db.execute("SELECT payload FROM quarantine ORDER BY id")]
        assert kept == [b"bad 2", b"bad 3", b"bad 4"]  # the 40-day-old one, then the oldest
        assert "quarantine: 2 rows past retention deleted" in ingest.log_text()
    finally:
        ingest.stop()
