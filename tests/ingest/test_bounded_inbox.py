"""What an ingest worker holds in memory stays bounded when its database is
away and its broker link drops again and again: the broker holds the
backlog, the worker at most two connections' worth of its window."""

from __future__ import annotations

import logging
import os
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
