"""A real MQTT client for tests: publishes like a pole does (MQTT v5, QoS 1).

It authenticates as the test broker's test publisher, whose role may publish
for any pole id (tests send what a pole of any id would send). What one pole
may do is tested with real pole identities (tests/brokerauth)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.support.services import credentials_for_port

_ids = itertools.count()


class TestPublisher:
    __test__ = False  # not a pytest class

    def __init__(self, port: int, credentials: tuple[str, str] | None = None) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-publisher-{next(_ids)}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        username, password = credentials or credentials_for_port(port)
        self.client.username_pw_set(username, password)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(
        self, topic: str, payload: bytes | dict[str, Any] | list[Any], *, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        return self.client.publish(topic, data, qos=1, retain=retain)

    def publish_all(
        self, messages: Iterable[tuple[str, bytes | dict[str, Any] | list[Any]]]
    ) -> int:
        infos = [self.publish(topic, payload) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)
            if not info.is_published():
                raise RuntimeError("broker did not acknowledge a publish")
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
