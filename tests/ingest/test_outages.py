"""Network drops between ingest and its database or broker, through a real TCP
proxy: the worker reconnects on its own and nothing is lost or duplicated."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from tests.ingest.test_end_to_end import count, start_and_wait_subscribed
from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.proxy import cuttable_proxy
from tests.support.services import MosquittoServer, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]


def test_database_outage_pauses_ingest_and_loses_nothing(
    database_url: str,
    mosquitto: MosquittoServer,
    publisher: TestPublisher,
    db: Conn,
    tmp_path: Path,
) -> None:
    pg_port = urlsplit(database_url).port
    assert pg_port is not None
    with cuttable_proxy(pg_port) as proxy:
        via_proxy = database_url.replace(f":{pg_port}/", f":{proxy.port}/")
        ingest = IngestProcess(via_proxy, mosquitto.url, tmp_path / "ingest.log")
        try:
            start_and_wait_subscribed(ingest)
            publisher.publish_all((samples.topic("D-1", "env"), samples.env(m)) for m in range(50))
            wait_until(lambda: count(db, "env_readings") == 50, 30, "first 50 stored")

            proxy.cut()
            publisher.publish_all(
                (samples.topic("D-1", "env"), samples.env(m)) for m in range(50, 150)
            )
            wait_until(lambda: "reconnecting to the database" in ingest.log_text(), 30, "retry")
            assert count(db, "env_readings") == 50
            assert ingest.running

            proxy.restore()
            wait_until(lambda: count(db, "env_readings") == 150, 60, "backlog stored")
        finally:
            ingest.stop()
    assert db.execute("SELECT count(DISTINCT observed_at) FROM env_readings").fetchone() == (150,)


def test_broker_connection_drop_reconnects_and_redelivers(
    database_url: str,
    mosquitto: MosquittoServer,
    publisher: TestPublisher,
    db: Conn,
    tmp_path: Path,
) -> None:
    with cuttable_proxy(mosquitto.port) as proxy:
        ingest = IngestProcess(database_url, mosquitto.url_at(proxy.port), tmp_path / "ingest.log")
        try:
            start_and_wait_subscribed(ingest)
            publisher.publish_all((samples.topic("M-1", "env"), samples.env(m)) for m in range(50))
            wait_until(lambda: count(db, "env_readings") == 50, 30, "first 50 stored")

            proxy.cut()
            # Published while the worker is cut off: the broker queues them
            # for its persistent session.
            publisher.publish_all(
                (samples.topic("M-1", "env"), samples.env(m)) for m in range(50, 150)
            )
            proxy.restore()
            wait_until(lambda: count(db, "env_readings") == 150, 60, "queued readings stored")
            assert ingest.log_text().count("subscribed to") >= 2
        finally:
            ingest.stop()
    assert db.execute("SELECT count(DISTINCT observed_at) FROM env_readings").fetchone() == (150,)
