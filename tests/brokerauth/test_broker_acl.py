"""Who may do what at the broker, against a real Mosquitto running the
repository's mosquitto.conf (rendered as `smartpole up` renders it), with
identities issued as `smartpole poles credentials` issues them, and a real
ingest worker storing what gets through.

With the dynamic security plugin a forbidden SUBSCRIBE is refused in the
SUBACK (0x87); the tests also check that nothing is delivered, which is what
"cannot subscribe" must mean whatever the plugin answers.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import psycopg
import pytest

from brokerauth.bootstrap import INGEST_ACCOUNT, PLATFORM_ACCOUNT
from tests.ingest.test_end_to_end import count, start_and_wait_subscribed
from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import MqttProbe
from tests.support.services import MosquittoServer, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]
NOT_AUTHORIZED = "Not authorized"
# PUBACK reasons below 0x80: taken (0x10 just says nobody subscribed).
ACCEPTED = ("Success", "No matching subscribers")
BAD_CREDENTIALS = ("Not authorized", "Bad user name or password")


def pole(mosquitto: MosquittoServer, pole_id: str, **options: Any) -> MqttProbe:
    """Pole `pole_id` connected with its own identity (and its will)."""
    options.setdefault("will_topic", samples.topic(pole_id, "status"))
    return MqttProbe(mosquitto.pole_endpoint(pole_id), pole_id, **options)


def status_of(db: Conn, pole_id: str) -> str | None:
    row = db.execute("SELECT status FROM poles WHERE pole_id = %s", (pole_id,)).fetchone()
    return None if row is None else str(row[0])


def stored(db: Conn, table: str, pole_id: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table} WHERE pole_id = %s", (pole_id,)).fetchone()  # noqa: S608 - test-only table names
    assert row is not None
    return int(row[0])


def test_a_pole_publishing_as_another_is_refused_and_nothing_of_it_is_stored(
    ingest: IngestProcess, mosquitto: MosquittoServer, db: Conn
) -> None:
    start_and_wait_subscribed(ingest)
    victim = pole(mosquitto, "B-1")
    assert victim.connacks == ["Success"]
    assert victim.publish(samples.topic("B-1", "status"), samples.status(0), retain=True) == (
        "Success"
    )
    assert victim.publish(samples.topic("B-1", "env"), samples.env(0)) == "Success"
    wait_until(lambda: status_of(db, "B-1") == "online", 30, "B-1 online")

    # Pole A's last-will names B's status topic: the broker may not send it.
    attacker = pole(mosquitto, "A-1", will_topic=samples.topic("B-1", "status"))
    assert attacker.connacks == ["Success"]
    forged = [
        (samples.topic("B-1", "env"), samples.env(1, pm10=999.0), False),
        (samples.topic("B-1", "ev/1"), samples.ev(1, status="Available"), False),
        (samples.topic("B-1", "status"), {"status": "offline"}, True),
        ("smartpole/v1/poles/B-1", b"{}", False),
        ("smartpole/v1/other/B-1/env", samples.env(2), False),
    ]
    for topic, payload, retain in forged:
        assert attacker.publish(topic, payload, retain=retain) == NOT_AUTHORIZED, topic
    attacker.drop_with_will()
    # A's own reading goes through; once it is stored, everything A sent before has
    # been through the broker and ingest.
    honest = pole(mosquitto, "A-1", will_topic=None)
    assert honest.publish(samples.topic("A-1", "env"), samples.env(3)) == "Success"
    wait_until(lambda: stored(db, "env_readings", "A-1") == 1, 30, "A-1's own reading")

    assert stored(db, "env_readings", "B-1") == 1
    assert stored(db, "ev_readings", "B-1") == 0
    assert stored(db, "status_events", "B-1") == 1  # its own online status, no will
    assert status_of(db, "B-1") == "online"
    assert count(db, "quarantine") == 0
    # The retained status a newcomer gets is still B's own.
    watcher = MqttProbe(mosquitto.consumer_endpoint, "watcher")
    assert watcher.subscribe(samples.topic("B-1", "status")) == "Granted QoS 1"
    wait_until(lambda: bool(watcher.messages), 10, "the retained status")
    assert [m[1] for m in watcher.messages] == [orjson.dumps(samples.status(0))]
    for client in (victim, honest, watcher):
        client.close()


def test_a_pole_connecting_with_another_poles_client_id_is_refused_and_takes_nothing_over(
    ingest: IngestProcess, mosquitto: MosquittoServer, db: Conn
) -> None:
    start_and_wait_subscribed(ingest)
    victim = pole(mosquitto, "B-2")
    assert victim.publish(samples.topic("B-2", "status"), samples.status(0), retain=True) == (
        "Success"
    )
    wait_until(lambda: status_of(db, "B-2") == "online", 30, "B-2 online")

    impostor = MqttProbe(
        mosquitto.pole_endpoint("A-2"), "B-2", will_topic=samples.topic("A-2", "status")
    )
    assert impostor.connacks[-1] == NOT_AUTHORIZED
    assert not impostor.connected
    impostor.close()

    # B kept its session: it was never disconnected, and still publishes.
    assert victim.connected and victim.disconnects == []
    assert victim.publish(samples.topic("B-2", "env"), samples.env(1)) == "Success"
    wait_until(lambda: stored(db, "env_readings", "B-2") == 1, 30, "B-2 still publishing")
    # Its will never fired.
    assert status_of(db, "B-2") == "online"
    assert stored(db, "status_events", "B-2") == 1
    victim.close()


def test_a_pole_cannot_take_over_a_platform_service_client_id(
    ingest: IngestProcess, mosquitto: MosquittoServer
) -> None:
    start_and_wait_subscribed(ingest)
    squatter = MqttProbe(mosquitto.pole_endpoint("A-3"), ingest.env["SMARTPOLE_MQTT_CLIENT_ID"])
    assert squatter.connacks[-1] == NOT_AUTHORIZED
    squatter.close()
    assert ingest.log_text().count("subscribed to") == 1, "ingest was not disconnected"


@pytest.mark.parametrize("case", ["wrong password", "unknown pole", "anonymous", "no password"])
def test_wrong_unknown_and_anonymous_clients_are_refused(
    mosquitto: MosquittoServer, case: str
) -> None:
    real = mosquitto.pole_endpoint("C-1")
    endpoint = {
        "wrong password": dataclasses.replace(real, password=real.password[:-1] + "x"),
        "unknown pole": dataclasses.replace(real, username="C-404"),
        "anonymous": dataclasses.replace(real, username=None, password=None),
        "no password": dataclasses.replace(real, password=None),
    }[case]
    probe = MqttProbe(endpoint, "C-404" if case == "unknown pole" else "C-1")
    assert probe.connacks[-1] in BAD_CREDENTIALS
    assert not probe.connected
    probe.close()


def test_a_pole_cannot_subscribe_to_other_poles_or_to_everything(
    mosquitto: MosquittoServer,
) -> None:
    spy = pole(mosquitto, "A-4", will_topic=None)
    for topic_filter in (
        "#",
        "smartpole/#",
        "smartpole/v1/poles/#",
        "smartpole/v1/poles/+/env",
        "smartpole/v1/poles/B-4/#",
        "smartpole/v1/poles/A-4/#",  # no command topic yet: a pole reads nothing
        "$share/ingest/smartpole/v1/poles/#",
        "$SYS/#",
        "$CONTROL/dynamic-security/#",
    ):
        assert spy.subscribe(topic_filter) == NOT_AUTHORIZED, topic_filter
    other = pole(mosquitto, "B-4")
    assert other.publish(samples.topic("B-4", "status"), samples.status(0), retain=True) in ACCEPTED
    assert other.publish(samples.topic("B-4", "env"), samples.env(0)) in ACCEPTED
    # What the spy would have received has had time to arrive: a consumer that
    # subscribes now gets the retained status at once.
    witness = MqttProbe(mosquitto.consumer_endpoint, "witness")
    witness.subscribe("smartpole/v1/poles/#")
    wait_until(lambda: bool(witness.messages), 10, "the retained status at a consumer")
    assert spy.messages == []
    for client in (spy, other, witness):
        client.close()


def test_the_consumer_role_reads_pole_and_sensorthings_topics_and_publishes_nothing(
    mosquitto: MosquittoServer,
) -> None:
    consumer = MqttProbe(mosquitto.consumer_endpoint, "city-app")
    assert consumer.subscribe("smartpole/v1/poles/#") == "Granted QoS 1"
    assert consumer.subscribe("smartpole/v1/poles/+/env") == "Granted QoS 1"
    assert consumer.subscribe("v1.1/#") == "Granted QoS 1"
    for topic_filter in ("#", "$share/ingest/smartpole/v1/poles/#", "$CONTROL/#"):
        assert consumer.subscribe(topic_filter) == NOT_AUTHORIZED, topic_filter
    for topic in (samples.topic("D-1", "env"), samples.topic("D-1", "status"),
                  "v1.1/Datastreams(1)/Observations", "anything"):  # fmt: skip
        assert consumer.publish(topic, samples.env(0)) == NOT_AUTHORIZED, topic
    consumer.close()


def test_service_roles_publish_only_what_they_are_for(mosquitto: MosquittoServer) -> None:
    ingest = MqttProbe(mosquitto.endpoint(INGEST_ACCOUNT), "ingest-probe")
    assert ingest.subscribe("$share/other-group/smartpole/v1/poles/#") == "Granted QoS 1"
    assert ingest.subscribe("smartpole/v1/poles/#") == NOT_AUTHORIZED
    assert ingest.publish(samples.topic("E-1", "env"), samples.env(0)) == NOT_AUTHORIZED
    assert ingest.publish("v1.1/Datastreams(1)/Observations", b"{}") == NOT_AUTHORIZED
    platform = MqttProbe(mosquitto.endpoint(PLATFORM_ACCOUNT), "platform-probe")
    assert platform.publish("v1.1/Datastreams(1)/Observations", b'{"result":1}') in ACCEPTED
    assert platform.publish(samples.topic("E-1", "env"), samples.env(0)) == NOT_AUTHORIZED
    assert platform.subscribe("v1.1/#") == NOT_AUTHORIZED
    for client in (ingest, platform):
        client.close()


def test_the_tls_listener_speaks_only_tls(mosquitto: MosquittoServer) -> None:
    plain = dataclasses.replace(mosquitto.pole_endpoint("F-1"), port=mosquitto.tls_port)
    probe = MqttProbe(plain, "F-1", connect=False)
    with pytest.raises((TimeoutError, OSError)):
        probe.connect(timeout=3)
    assert probe.connacks == []
    probe.close()
