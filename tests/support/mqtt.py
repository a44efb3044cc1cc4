"""A real MQTT client for tests: publishes like a pole does (MQTT v5, QoS 1).

It authenticates as the test broker's test publisher, whose role may publish
for any pole id (tests send what a pole of any id would send). What one pole
may do is tested with real pole identities (tests/brokerauth)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from brokerauth import client as mqtt_setup
from config.endpoints import MqttEndpoint
from tests.support.services import credentials_for_port, wait_until

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


class MqttProbe:
    """A client that records what the broker answers: CONNACK, SUBACK and
    PUBACK reason codes, disconnects, and the messages delivered to it."""

    __test__ = False

    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        *,
        will_topic: str | None = None,
        connect: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        mqtt_setup.configure(self.client, endpoint)
        if will_topic is not None:
            self.client.will_set(will_topic, b'{"status":"offline"}', qos=1, retain=True)
        self.client.reconnect_delay_set(60, 60)  # no quiet retry behind the test's back
        self.lock = threading.Lock()
        self.connacks: list[str] = []
        self.disconnects: list[str] = []
        self.subacks: dict[int, list[str]] = {}
        self.pubacks: dict[int, str] = {}
        self.messages: list[tuple[str, bytes, bool]] = []
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        if connect:
            self.connect()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self.lock:
            self.connacks.append(str(reason))

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       props: Any) -> None:  # fmt: skip
        with self.lock:
            self.disconnects.append(str(reason))

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        with self.lock:
            self.subacks[mid] = [str(r) for r in reasons]

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self.lock:
            self.pubacks[mid] = str(reason)

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def connect(self, timeout: float = 10) -> str:
        """Connect and return the CONNACK's reason ("Success", "Not authorized", ...)."""
        seen = len(self.connacks)
        self.client.connect(self.endpoint.host, self.endpoint.port, keepalive=30)
        self.client.loop_start()
        wait_until(lambda: len(self.connacks) > seen, timeout, "a CONNACK")
        return self.connacks[-1]

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def subscribe(self, topic: str, timeout: float = 10) -> str:
        _, mid = self.client.subscribe(topic, qos=1)
        wait_until(lambda: mid in self.subacks, timeout, f"SUBACK for {topic}")
        return self.subacks[mid][0]

    def publish(
        self, topic: str, payload: bytes | dict[str, Any], *, retain: bool = False,
        timeout: float = 10,
    ) -> str:  # fmt: skip
        """Publish at QoS 1 and return the PUBACK's reason."""
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = self.client.publish(topic, data, qos=1, retain=retain)
        wait_until(lambda: info.mid in self.pubacks, timeout, f"PUBACK for {topic}")
        return self.pubacks[info.mid]

    def drop_with_will(self) -> None:
        """Vanish as a pole losing power does: the broker publishes the will."""
        self.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        self.client.loop_stop()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
