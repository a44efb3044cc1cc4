"""The ingest worker's MQTT side: a persistent MQTT v5 session in a shared group.

- clean_start=False plus a session expiry: while the worker is down the broker
  keeps its subscription and queues its QoS 1 messages.
- manual acks: a PUBACK is sent only after the reading is committed, so a
  crash at any moment leaves the message with the broker, which redelivers it.
- Receive Maximum 65535: the broker may have that many unacknowledged
  messages in flight to us, which is what lets a batch of thousands build up
  while the previous one commits. Should the broker send more (Mosquitto
  2.0.11 does, for a queued backlog), the network thread stops reading once
  the inbox holds that many and waits for the writer: memory stays bounded
  and the broker keeps the backlog. While it waits it reads no PINGRESP
  either, so a wait of more than two keep-alives (a database outage) ends
  in a reconnect, which costs nothing but the redelivery.

Two readers (`SMARTPOLE_INGEST_MQTT_READER`): "bulk" takes QoS 0/1 PUBLISH
packets straight out of the receive buffer and acks a batch in one write
(`paho_fastpath`, which relies on paho-mqtt 2.2 internals); "paho" uses only
paho's public API (on_message, Client.ack), at about half the throughput, as
the fallback should a paho release break the internals. The test suite runs
the ingest tests with both.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from brokerauth import client as mqtt_setup
from config.endpoints import MqttEndpoint
from ingest.inbox import MAX_UNACKNOWLEDGED, InboundMessage, Inbox
from ingest.paho_fastpath import BufferedSocket, DrainingClient
from ingest.publish_reader import RawPublish
from models.topics import SUBSCRIPTION_FILTER

log = logging.getLogger(__name__)

MQTT_RECEIVE_MAXIMUM = MAX_UNACKNOWLEDGED
MqttReader = Literal["bulk", "paho"]
# What paho's public API gives for a topic that is not UTF-8 (the broker
# should never deliver one): it reaches the quarantine under this name.
UNDECODABLE_TOPIC = "<topic is not valid UTF-8>"


# How long the network thread waits for room in a full inbox before it looks
# at its socket (writes: acknowledgements, pings) again.
ROOM_WAIT_S = 0.05


class _ReadsWhenThereIsRoom(mqtt.Client):
    """Reads nothing while the inbox is full (only after the CONNACK: a new
    connection must still be able to complete)."""

    inbox: Inbox | None = None
    accepting_publishes = False

    def reading_paused(self) -> bool:
        return self.accepting_publishes and self.inbox is not None and self.inbox.is_full()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if self.reading_paused():
            assert self.inbox is not None
            self.inbox.wait_for_room(ROOM_WAIT_S)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super().loop_read(max_packets)


class _PahoClient(_ReadsWhenThereIsRoom):
    pass


class _BulkClient(_ReadsWhenThereIsRoom, DrainingClient):
    pass


class MqttSource:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        client_id: str,
        share_group: str,
        session_expiry_s: int,
        inbox: Inbox,
        reader: MqttReader = "bulk",
    ) -> None:
        self.endpoint = endpoint
        self.subscription = f"$share/{share_group}/{SUBSCRIPTION_FILTER}"
        self.session_expiry_s = session_expiry_s
        self.inbox = inbox
        self.connection = 0  # bumped on every (re)connect, see InboundMessage.connection
        self.connected = threading.Event()
        self._accepting = True
        self.bulk = reader == "bulk"
        client_class = _BulkClient if self.bulk else _PahoClient
        self._client = client_class(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        # Identity and TLS (CA, client certificate, host name check) from the settings.
        mqtt_setup.configure(self._client, endpoint)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        if isinstance(self._client, DrainingClient):
            self._client.on_publishes = self._on_publishes
        self._client.on_subscribe = self._on_subscribe
        self._client.inbox = inbox

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = MQTT_RECEIVE_MAXIMUM
        self._client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def stop_accepting(self) -> None:
        """Ignore messages from now on; unacknowledged, the broker keeps them."""
        self._accepting = False

    def ack(self, messages: Iterable[InboundMessage]) -> int:
        """Acknowledge committed messages of the current connection; returns how many."""
        current = self.connection
        qos1_mids = []
        for message in messages:
            if message.connection != current or message.qos == 0:
                continue
            if message.qos == 1 and isinstance(self._client, DrainingClient):
                qos1_mids.append(message.mid)
            else:
                self._client.ack(message.mid, message.qos)
        if isinstance(self._client, DrainingClient):
            self._client.ack_many(qos1_mids)
        return len(qos1_mids)

    def close(self) -> None:
        # A normal DISCONNECT keeps the session (expiry came with CONNECT):
        # whatever we did not acknowledge is redelivered next time.
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        self.connection += 1
        assert isinstance(client, _ReadsWhenThereIsRoom)
        client.accepting_publishes = True
        if flags.session_present:
            # The broker kept the session and resends every unacknowledged
            # message on this connection: older copies waiting in the inbox
            # (never to be acknowledged) go, see Inbox.drop_redelivered.
            dropped = self.inbox.drop_redelivered(self.connection)
            if dropped:
                log.info("dropped %d messages the broker redelivers on this connection", dropped)
        if self.bulk:
            # Safe here: paho has consumed exactly the CONNACK, nothing is buffered yet.
            raw_socket = client._sock
            if isinstance(raw_socket, socket.socket):  # ssl.SSLSocket is one too
                client._sock = BufferedSocket(raw_socket)  # type: ignore[assignment,unused-ignore]
        log.info(
            "connected to %s (session present: %s); subscribing %s",
            self.endpoint.redacted(),
            flags.session_present,
            self.subscription,
        )
        client.subscribe(self.subscription, options=SubscribeOptions(qos=1))
        self.connected.set()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("broker refused the subscription %s: %s", self.subscription, reason_codes)
        else:
            log.info("subscribed to %s", self.subscription)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        if isinstance(client, _ReadsWhenThereIsRoom):
            client.accepting_publishes = False  # the next CONNACK must get through
        if reason_code.is_failure:
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_publishes(self, publishes: list[RawPublish]) -> None:
        """The bulk path (paho_fastpath): every PUBLISH read from one buffer fill."""
        if not self._accepting:
            return
        received_at = time.time()
        connection = self.connection
        # The raw topic, decoded leniently: a hostile topic must reach the
        # quarantine, not raise inside the network thread.
        messages = [
            InboundMessage(
                p.topic.decode("utf-8", errors="replace"),
                p.payload,
                received_at,
                p.mid,
                p.qos,
                connection,
            )
            for p in publishes
        ]
        self.inbox.put_many(messages)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """paho's path: every message with the paho reader; with the bulk reader,
        the PUBLISH packets it leaves to paho (QoS 2, odd framing)."""
        try:
            topic = message.topic.encode()
        except UnicodeDecodeError:
            topic = UNDECODABLE_TOPIC.encode()
        self._on_publishes([RawPublish(topic, bytes(message.payload), message.mid, message.qos)])
