"""Ingest end to end: a real MQTT client, a real Mosquitto, a real PostgreSQL,
and `smartpole ingest` running as its own process."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import psycopg
from psycopg import sql

from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.services import wait_until

Conn = psycopg.Connection[tuple[Any, ...]]


def start_and_wait_subscribed(ingest: IngestProcess) -> None:
    ingest.start()
    wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")


def count(db: Conn, table: str) -> int:
    row = db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def test_ingest_runs_with_the_configured_mqtt_reader(ingest: IngestProcess) -> None:
    """scripts/test runs this suite twice: with the bulk PUBLISH reader (default)
    and with SMARTPOLE_INGEST_MQTT_READER=paho, paho's public API only."""
    start_and_wait_subscribed(ingest)
    expected = os.environ.get("SMARTPOLE_INGEST_MQTT_READER", "bulk")
    wait_until(lambda: f"mqtt_reader={expected}" in ingest.log_text(), 10, "reader logged")


def test_every_family_single_and_array_is_stored_exactly_once(
    ingest: IngestProcess, publisher: TestPublisher, db: Conn
) -> None:
    start_and_wait_subscribed(ingest)
    messages: list[tuple[str, Any]] = [
        (samples.topic("P-1", "env"), samples.env(0)),
        (samples.topic("P-1", "env"), [samples.env(1), samples.env(2), samples.env(3)]),
        (samples.topic("P-1", "light"), samples.light(0)),
        (samples.topic("P-1", "light"), [samples.light(1), samples.light(2)]),
        (samples.topic("P-1", "wifi"), samples.wifi(0)),
        (samples.topic("P-1", "wifi"), [samples.wifi(1), samples.wifi(2)]),
        (samples.topic("P-1", "ev/1"), samples.ev(0)),
        (samples.topic("P-1", "ev/2"), [samples.ev(1, status="Available", chargingPower=0)]),
        (samples.topic("P-1", "status"), samples.status(0)),
        (samples.topic("P-1", "status"), [samples.status(5, status="offline")]),
    ]
    publisher.publish_all(messages)
    # The same readings again, as a pole resending after a lost PUBACK would.
    publisher.publish_all(messages)

    expected = {
        "env_readings": 4,
        "light_readings": 3,
        "wifi_readings": 3,
        "ev_readings": 2,
        "status_events": 2,
    }
    wait_until(lambda: all(count(db, t) == n for t, n in expected.items()), 30, f"rows {expected}")
    wait_until(lambda: "duplicates=14" in ingest.log_text(), 10, "duplicate counter")

    env = db.execute(
        "SELECT pm25, pm10, no2, o3, temperature, relative_humidity, atmospheric_pressure,"
        " laeq, lamax, received_at >= observed_at FROM env_readings"
        " WHERE observed_at = %s",
        (samples.BASE_TIME,),
    ).fetchone()
    assert env == (8.5, 17.0, 31.2, 54.0, 6.5, 81.0, 1012.3, 55.1, 71.4, True)
    ev = db.execute(
        "SELECT connector_id, status, error_code, charging_power, transaction_id"
        " FROM ev_readings ORDER BY connector_id"
    ).fetchall()
    assert ev == [
        (1, "Charging", "NoError", 10.8, "tx-4711"),
        (2, "Available", "NoError", 0.0, "tx-4711"),
    ]
    pole = db.execute(
        "SELECT status, firmware_version, capabilities, last_observed_at FROM poles"
    ).fetchone()
    assert pole is not None
    assert pole[0] == "offline" and pole[1] == "2.4.1"
    assert pole[2] == ["env", "ev", "light", "wifi"]
    assert count(db, "quarantine") == 0
    assert ingest.running


def test_sigkill_while_messages_flow_loses_and_duplicates_nothing(
    ingest: IngestProcess, publisher: TestPublisher, db: Conn
) -> None:
    poles, per_pole = 50, 200
    ingest.env["SMARTPOLE_INGEST_BATCH_SIZE"] = "500"
    start_and_wait_subscribed(ingest)

    def publish_everything() -> None:
        publisher.publish_all(
            (samples.topic(f"K-{p}", "env"), samples.env(minute))
            for minute in range(per_pole)
            for p in range(poles)
        )

    sender = threading.Thread(target=publish_everything)
    sender.start()
    total = poles * per_pole
    wait_until(lambda: count(db, "env_readings") > total // 10, 60, "first readings stored")
    ingest.kill()  # SIGKILL: no flush, no acks for what it held
    stored_at_kill = count(db, "env_readings")
    ingest.start()
    sender.join(120)
    assert not sender.is_alive()
    wait_until(lambda: count(db, "env_readings") >= total, 120, f"{total} readings stored")

    assert stored_at_kill < total, "the kill came too late to prove anything"
    assert count(db, "env_readings") == total
    distinct = db.execute(
        "SELECT count(DISTINCT (pole_id, observed_at)) FROM env_readings"
    ).fetchone()
    assert distinct == (total,)
    per_pole_counts = db.execute(
        "SELECT min(n), max(n) FROM (SELECT count(*) AS n FROM env_readings GROUP BY pole_id) s"
    ).fetchone()
    assert per_pole_counts == (per_pole, per_pole)


def test_sigterm_flushes_held_messages_before_exiting(
    ingest: IngestProcess, publisher: TestPublisher, db: Conn
) -> None:
    # A batch that would only flush after a minute: SIGTERM must not wait for it.
    ingest.env["SMARTPOLE_INGEST_BATCH_MAX_AGE_MS"] = "60000"
    start_and_wait_subscribed(ingest)
    publisher.publish_all((samples.topic("T-1", "env"), samples.env(m)) for m in range(100))
    wait_until(lambda: "inbox=100" in ingest.log_text(), 30, "messages held in the inbox")
    assert count(db, "env_readings") == 0

    assert ingest.stop(signal.SIGTERM) == 0
    assert count(db, "env_readings") == 100
    assert "flushing and stopping" in ingest.log_text()


def test_acknowledged_messages_are_not_redelivered_after_a_restart(
    ingest: IngestProcess, publisher: TestPublisher, db: Conn
) -> None:
    """Proves the PUBACKs reach the broker: were they lost, the broker would
    redeliver everything to the restarted session (silently absorbed as
    duplicates, so only the counters can tell)."""
    start_and_wait_subscribed(ingest)
    publisher.publish_all((samples.topic("A-1", "env"), samples.env(m)) for m in range(500))
    wait_until(lambda: count(db, "env_readings") == 500, 30, "500 stored")
    assert ingest.stop() == 0

    ingest.logfile.write_text("")
    start_and_wait_subscribed(ingest)
    publisher.publish_all([(samples.topic("A-1", "env"), samples.env(500))])
    wait_until(lambda: count(db, "env_readings") == 501, 30, "the new reading stored")
    assert ingest.stop() == 0
    final_counters = [line for line in ingest.log_text().splitlines() if "ingest counters" in line][
        -1
    ]
    assert "messages_received=1 " in final_counters
    assert "duplicates=0 " in final_counters
