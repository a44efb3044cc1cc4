"""The bulk PUBLISH reader (ingest/publish_reader.py) against paho's own decoder,
on random and hostile bytes, and through a real broker with MQTT v5 properties."""

from __future__ import annotations

import random
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt import _packet as paho_packet  # paho's decoder: the reference
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.publish_reader import RawPublish, take_publishes
from tests.ingest.test_end_to_end import count, start_and_wait_subscribed
from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.services import MosquittoServer, credentials_for_port, wait_until

PINGRESP = b"\xd0\x00"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def publish_packet(
    topic: bytes,
    payload: bytes,
    *,
    qos: int = 1,
    mid: int = 1,
    properties: bytes = b"\x00",
    flags: int = 0,
) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic
    body += mid.to_bytes(2, "big") if qos else b""
    body += properties + payload
    return bytes([0x30 | qos << 1 | flags]) + varint(len(body)) + body


def random_properties(rng: random.Random) -> bytes:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if rng.random() < 0.5:
        props.UserProperty = [("k" * rng.randint(0, 40), "v" * rng.randint(0, 300))]
    if rng.random() < 0.3:
        props.ContentType = "application/json"
    if rng.random() < 0.3:
        props.MessageExpiryInterval = rng.randint(0, 2**31)
    if rng.random() < 0.3:
        props.SubscriptionIdentifier = [rng.randint(1, 2**27)]
    packed: bytes = props.pack()  # type: ignore[no-untyped-call]
    return packed


def random_packet(rng: random.Random) -> tuple[bytes, RawPublish]:
    topic = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 30, 300])))
    payload = rng.randbytes(rng.choice([0, 5, 127, 128, 16_383, 16_384, 70_000]))
    qos = rng.choice([0, 1])
    mid = rng.randint(1, 65535) if qos else 0
    packet = publish_packet(
        topic, payload, qos=qos, mid=mid, properties=random_properties(rng),
        flags=rng.choice([0, 1, 8, 9]),  # retain, dup
    )  # fmt: skip
    return packet, RawPublish(topic, payload, mid, qos)


def paho_decodes(packet: bytes) -> RawPublish:
    """What paho makes of one complete packet (fixed header stripped as paho does)."""
    header_end = 2
    while packet[header_end - 1] & 0x80:
        header_end += 1
    decoded = paho_packet.decode_publish(packet[0], packet[header_end:], MQTTProtocolVersion.MQTTv5)
    return RawPublish(bytes(decoded.topic), bytes(decoded.payload), decoded.mid, decoded.qos)


def test_agrees_with_paho_on_random_packets() -> None:
    rng = random.Random(20261124)
    for _ in range(300):
        packet, expected = random_packet(rng)
        buffer = bytearray(packet)
        assert take_publishes(buffer) == [expected] == [paho_decodes(packet)]
        assert buffer == b""


def test_a_stream_cut_anywhere_yields_every_packet_once_in_order() -> None:
    rng = random.Random(7)
    packets, expected = zip(*(random_packet(rng) for _ in range(60)), strict=True)
    stream = b"".join(packets)
    for _ in range(20):
        buffer = bytearray()
        got: list[RawPublish] = []
        position = 0
        while position < len(stream):
            step = rng.choice([1, 2, 3, 100, 4096, 65536])
            buffer += stream[position : position + step]
            position += step
            got += take_publishes(buffer)
        assert got == list(expected)
        assert buffer == b""


def test_stops_at_the_first_packet_that_is_not_a_qos0_or_qos1_publish() -> None:
    first = publish_packet(b"a/b", b"1")
    qos2 = publish_packet(b"a/b", b"2", qos=2)
    for other in (PINGRESP, qos2, b"\x90\x03\x00\x01\x00"):  # PINGRESP, QoS 2, SUBACK
        buffer = bytearray(first + other + first)
        assert take_publishes(buffer) == [RawPublish(b"a/b", b"1", 1, 1)]
        assert buffer == other + first  # left for paho, untouched


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(b"\x32\xff\xff\xff\xff\x01" + b"x" * 10, id="remaining length of 5 bytes"),
        pytest.param(b"\x36\x05\x00\x01a\x00\x01", id="QoS 3"),
        pytest.param(b"\x32\x01\x00", id="no room for the topic length"),
        pytest.param(b"\x32\x04\x00\x09ab", id="topic longer than the packet"),
        pytest.param(b"\x32\x05\x00\x01a\x00", id="packet id cut short"),
        pytest.param(b"\x32\x06\x00\x01a\x00\x01\x7f", id="properties longer than the packet"),
        pytest.param(b"\x32\x07\x00\x01a\x00\x01\xff\xff", id="properties length runs off"),
    ],
)
def test_malformed_packets_are_left_for_paho_to_refuse(packet: bytes) -> None:
    good = publish_packet(b"a/b", b"ok")
    buffer = bytearray(good + packet)
    assert take_publishes(buffer) == [RawPublish(b"a/b", b"ok", 1, 1)]
    assert buffer == packet


def test_an_incomplete_packet_waits_for_the_rest() -> None:
    packet = publish_packet(b"a/b", b"x" * 300)
    for cut in range(len(packet)):
        buffer = bytearray(packet[:cut])
        assert take_publishes(buffer) == []
        assert buffer == packet[:cut]


def test_qos0_and_properties_through_a_real_broker_are_stored(
    ingest: IngestProcess, mosquitto: MosquittoServer, db: psycopg.Connection[Any]
) -> None:
    start_and_wait_subscribed(ingest)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="test-properties",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(*credentials_for_port(mosquitto.port))
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("firmware", "2.1.0"), ("site", "x" * 2000)]
        props.ContentType = "application/json"
        props.MessageExpiryInterval = 3600
        topic = samples.topic("PROP-1", "env")
        infos = [
            client.publish(
                topic, orjson.dumps(samples.env(minute)), qos=minute % 2, properties=props
            )
            for minute in range(200)
        ]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()
    wait_until(lambda: count(db, "env_readings") == 200, 30, "200 readings stored")
    assert count(db, "quarantine") == 0
