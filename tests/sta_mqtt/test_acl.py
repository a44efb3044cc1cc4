"""Only the platform publisher may publish SensorThings topics: a pole, a
consumer or ingest cannot forge an Observation (nor a retained one), and a
publisher with the wrong identity keeps its position until it may publish."""

from __future__ import annotations

from typing import Any

import psycopg

from brokerauth.bootstrap import INGEST_ACCOUNT, PLATFORM_ACCOUNT
from models.topics import Family, datastream_observations_topic
from smartpole.local_services import LOCAL_CONSUMER
from tests.api.conftest import Put
from tests.sta_mqtt.conftest import MakePublisher, stored_observation_ids
from tests.support import samples
from tests.support.mqtt import MqttProbe
from tests.support.services import MosquittoServer, wait_until
from tests.support.sta_publisher import Consumer

Conn = psycopg.Connection[tuple[Any, ...]]
NOT_AUTHORIZED = "Not authorized"
FORGED = b'{"@iot.id": 1, "result": 1e9}'


def test_only_the_platform_publisher_may_publish_under_v1_1(
    mosquitto: MosquittoServer, consumer: Consumer
) -> None:
    assert consumer.subscribe("v1.1/#") == "Granted QoS 1"
    topic = datastream_observations_topic(130)
    pole = MqttProbe(mosquitto.pole_endpoint("S-1"), "S-1")
    other_consumer = MqttProbe(mosquitto.consumer_endpoint, "other-consumer")
    ingest = MqttProbe(mosquitto.endpoint(INGEST_ACCOUNT), "ingest-probe")
    try:
        for probe in (pole, other_consumer, ingest):
            for target in (topic, "v1.1/Datastreams(1)/Observations", "v1.1/Things"):
                assert probe.publish(target, FORGED) == NOT_AUTHORIZED, (probe, target)
                assert probe.publish(target, FORGED, retain=True) == NOT_AUTHORIZED
        platform = MqttProbe(mosquitto.endpoint(PLATFORM_ACCOUNT), "platform-probe")
        assert platform.publish(topic, b'{"@iot.id": 2}', retain=True) == "Success"
        wait_until(lambda: bool(consumer.messages), 10, "the platform's message")
        platform.close()
    finally:
        for probe in (pole, other_consumer, ingest):
            probe.close()
    assert [(t, p) for t, p, _ in consumer.messages] == [(topic, b'{"@iot.id": 2}')]
    # Nothing forged was retained either.
    late = Consumer(mosquitto.consumer_endpoint, "late")
    late.subscribe("v1.1/#")
    wait_until(lambda: bool(late.messages), 10, "the retained message")
    late.close()
    assert [(t, p) for t, p, _ in late.messages] == [(topic, b'{"@iot.id": 2}')]


def test_a_refused_publisher_keeps_its_position_until_it_may_publish(
    db: Conn,
    put: Put,
    consumer: Consumer,
    mosquitto: MosquittoServer,
    make_publisher: MakePublisher,
) -> None:
    put("R-1", Family.LIGHT, [samples.light(m) for m in range(5)])
    stored = stored_observation_ids(db)
    consumer.subscribe("v1.1/#")
    wrong = make_publisher(mqtt_url=mosquitto.url_at(mosquitto.port, LOCAL_CONSUMER)).start()
    wait_until(lambda: "the broker refused a publish" in wrong.log_text(), 30, "refusal")
    assert wrong.stop() == 0
    assert db.execute("SELECT count(*) FROM sta_mqtt_position").fetchone() == (0,)
    assert consumer.ids() == set()
    right = make_publisher().start()
    wait_until(lambda: consumer.ids() >= stored, 30, "published once allowed")
    assert right.stop() == 0
    assert consumer.ids() == stored
