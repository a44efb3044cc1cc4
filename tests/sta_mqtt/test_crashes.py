"""At least once, never invented: through redeliveries and SIGKILLs of ingest
and of the publisher, a subscriber to one Datastream's topic receives,
deduplicated by @iot.id, exactly the Observations stored for it."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from brokerauth.bootstrap import PLATFORM_ACCOUNT
from models.sensorthings.ids import StreamKind, datastream_id
from models.sensorthings.mapping import METRIC_SLOTS
from models.topics import Family, datastream_observations_topic
from tests.api.conftest import Put
from tests.ingest.test_end_to_end import count, start_and_wait_subscribed
from tests.sta_mqtt.conftest import MakePublisher, stored_observation_ids
from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.proxy import cuttable_proxy
from tests.support.services import MosquittoServer, wait_until
from tests.support.sta_publisher import Consumer

Conn = psycopg.Connection[tuple[Any, ...]]
POLES = ("K-1", "K-2")


def send(publisher: TestPublisher, minutes: range, *, twice: bool = False) -> None:
    """Every pole's env reading of each minute; `twice`: as a pole that resends."""
    messages = [
        (samples.topic(pole, "env"), samples.env(m, pm10=float(m)))
        for m in minutes
        for pole in POLES
    ]
    publisher.publish_all(messages + (messages if twice else []))


def stream_of(db: Conn, pole: str) -> int:
    row = db.execute(
        "SELECT stream_id FROM sta_streams WHERE pole_id = %s AND family = 'env'", (pole,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_subscriber_sees_exactly_the_stored_observations_through_crashes(
    *,
    db: Conn,
    mosquitto: MosquittoServer,
    publisher: TestPublisher,
    ingest: IngestProcess,
    client: httpx.Client,
    make_publisher: MakePublisher,
) -> None:
    start_and_wait_subscribed(ingest)
    send(publisher, range(1))
    wait_until(lambda: count(db, "env_readings") == 2, 30, "first readings stored")
    pm10 = datastream_id(stream_of(db, "K-1"), StreamKind.RAW, METRIC_SLOTS[Family.ENV, "pm10"])
    one = Consumer(mosquitto.consumer_endpoint, "one-datastream")
    every = Consumer(mosquitto.consumer_endpoint, "every-datastream")
    try:
        assert one.subscribe(datastream_observations_topic(pm10)) == "Granted QoS 1"
        assert every.subscribe("v1.1/#") == "Granted QoS 1"
        sta = make_publisher(sta_mqtt_max_inflight=50).start()

        # Ingest killed with readings in flight; the broker redelivers what it
        # had not acknowledged, the pole resends some.
        send(publisher, range(1, 100), twice=True)
        ingest.kill()
        send(publisher, range(100, 150))
        ingest.start()
        wait_until(lambda: count(db, "env_readings") >= 200, 60, "backlog stored")

        # The publisher killed while it publishes, twice.
        for minutes in (range(150, 250), range(250, 350)):
            seen = len(every.messages)
            send(publisher, minutes)
            wait_until(lambda s=seen: len(every.messages) > s, 60, "publishing under way")
            sta.kill()
            sta = make_publisher(sta_mqtt_max_inflight=50).start()

        ingest.kill()  # and once more for good measure, after the last message
        ingest.start()
        wait_until(lambda: count(db, "env_readings") == 2 * 350, 60, "every reading stored")
        stored_pm10 = stored_observation_ids(db, pm10)
        stored_all = stored_observation_ids(db)
        assert len(stored_pm10) == 350 and len(stored_all) == 2 * 350 * 9
        wait_until(lambda: one.ids() >= stored_pm10, 120, "pm10 observations received")
        wait_until(lambda: every.ids() >= stored_all, 120, "all observations received")
        assert sta.stop() == 0
    finally:
        ingest.stop()
        one.close()
        every.close()

    assert one.ids() == stored_pm10  # exactly: none missing, none that was not stored
    assert every.ids() == stored_all
    topics = {topic for topic, _, _ in one.observations()}
    assert topics == {datastream_observations_topic(pm10)}
    # Redelivered or not, every copy is the facade's Observation.
    by_id: dict[int, dict[str, Any]] = {}
    for _, doc, _ in one.observations():
        assert by_id.setdefault(doc["@iot.id"], doc) == doc
    for observation_id, doc in by_id.items():
        assert client.get(f"/sta/v1.1/Observations({observation_id})").json() == doc
    print(f"pm10: {len(one.messages)} messages for {len(by_id)} observations")


def test_publisher_killed_while_the_broker_is_unreachable_loses_nothing(
    db: Conn,
    put: Put,
    mosquitto: MosquittoServer,
    consumer: Consumer,
    make_publisher: MakePublisher,
) -> None:
    """What was published but never acknowledged (the link is gone) is sent
    again by the next publisher: the position had not moved past it."""
    consumer.subscribe("v1.1/#")
    with cuttable_proxy(mosquitto.port) as proxy:
        via_proxy = mosquitto.url_at(proxy.port, PLATFORM_ACCOUNT)
        sta = make_publisher(mqtt_url=via_proxy, sta_mqtt_stats_interval_s=0.1).start()
        put("C-1", Family.LIGHT, [samples.light(m) for m in range(3)])
        first = stored_observation_ids(db)
        wait_until(lambda: consumer.ids() >= first, 30, "first observations")
        proxy.cut()
        put("C-1", Family.LIGHT, [samples.light(m) for m in range(3, 10)])
        total = len(stored_observation_ids(db))
        # Published into the cut link (paho holds them unacknowledged), counted
        # twice by the stats line: the publisher is idle after them.
        wait_until(
            lambda: sta.log_text().count(f"published={total} ") >= 2, 30, "all handed to paho"
        )
        sta.kill()
    assert consumer.ids() == first
    again = make_publisher().start()
    wait_until(lambda: consumer.ids() >= stored_observation_ids(db), 30, "the rest published")
    assert again.stop() == 0
    assert consumer.ids() == stored_observation_ids(db)
