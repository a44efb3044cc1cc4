"""What an ingest worker holds in memory stays bounded when its database is
away and its broker link drops again and again: the broker holds the
backlog, the worker at most two connections' worth of its window."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter

import pytest

from ingest.inbox import Inbox
from ingest.mqtt_source import MqttReader, MqttSource
from tests.support import samples
from tests.support.mqtt import TestPublisher
from tests.support.proxy import cuttable_proxy
from tests.support.services import MosquittoServer, wait_until

MESSAGES = 300


@pytest.mark.parametrize("reader", ["bulk", "paho"])
def test_reconnects_while_nothing_commits_do_not_pile_up_redeliveries(
    mosquitto: MosquittoServer,
    publisher: TestPublisher,
    reader: MqttReader,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing takes from the inbox (the writer is stuck on a dead database),
    so nothing is acknowledged and the broker redelivers the whole window on
    every reconnect. Each redelivery must replace the copies of two
    connections ago, not add to them."""
    caplog.set_level(logging.INFO, logger="ingest.mqtt_source")
    inbox = Inbox()
    with cuttable_proxy(mosquitto.port) as proxy:
        endpoint = mosquitto.endpoint()
        source = MqttSource(
            type(endpoint)(endpoint.host, proxy.port, endpoint.username, endpoint.password,
                           tls=False),
            client_id=f"bounded-{reader}-{os.getpid()}",
            share_group="ingest",
            session_expiry_s=300,
            inbox=inbox,
            reader=reader,
        )  # fmt: skip
        source.start()
        try:
            wait_until(source.connected.is_set, 10, "connected")
            wait_until(lambda: "subscribed to" in caplog.text, 10, "subscribed")
            publisher.publish_all(
                (samples.topic("B-1", "env"), samples.env(m)) for m in range(MESSAGES)
            )
            wait_until(lambda: len(inbox) == MESSAGES, 20, "the first delivery")
            for reconnect in range(2, 6):
                proxy.cut()
                wait_until(lambda: not source.connected.is_set(), 10, "link down")
                proxy.restore()
                wait_until(lambda n=reconnect: source.connection == n, 60, f"reconnect {reconnect}")  # type: ignore[misc]
                wait_until(
                    lambda n=reconnect: (
                        sum(m.connection == n for m in list(inbox._items))  # type: ignore[misc]
                        == MESSAGES
                    ),
                    20,
                    f"the redelivery on connection {reconnect}",
                )
        finally:
            source.close()
    held = Counter(m.connection for m in inbox.take_batch(100_000, 0, 0))
    assert held == {4: MESSAGES, 5: MESSAGES}


@pytest.mark.parametrize("reader", ["bulk", "paho"])
def test_a_full_inbox_stops_reading_and_the_broker_keeps_the_rest(
    mosquitto: MosquittoServer,
    publisher: TestPublisher,
    reader: MqttReader,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker may send more than the Receive Maximum allows (Mosquitto
    2.0.11 does with a queued backlog; here the inbox's own limit is set far
    below it to stand in for that): once the inbox is full the worker stops
    reading, so it holds at most the limit plus one socket read, and gets
    the rest as the writer makes room."""
    caplog.set_level(logging.INFO, logger="ingest.mqtt_source")
    limit, sent = 100, 5000
    inbox = Inbox(limit=limit)
    source = MqttSource(
        mosquitto.endpoint(),
        client_id=f"full-{reader}-{os.getpid()}",
        share_group="ingest",
        session_expiry_s=300,
        inbox=inbox,
        reader=reader,
    )
    source.start()
    try:
        wait_until(lambda: "subscribed to" in caplog.text, 10, "subscribed")
        publisher.publish_all((samples.topic("F-1", "env"), samples.env(m)) for m in range(sent))
        wait_until(lambda: len(inbox) >= limit, 10, "the inbox full")
        time.sleep(2)  # a reader that ignored the limit would take everything meanwhile
        held = len(inbox)
        # One socket read (256 KiB) at most beyond the limit with the bulk reader.
        assert limit <= held <= limit + 256 * 1024 // 150, held
        received = 0
        deadline = time.monotonic() + 60
        while received < sent and time.monotonic() < deadline:
            received += len(inbox.take_batch(50, 0, wait_s=0.5))
        assert received == sent
    finally:
        source.close()
