"""Four changes to how paho moves bytes, each measured on the ingest drain
benchmark (bench/ingest.py): buffered reads, draining the buffer per loop
iteration, PUBLISH packets taken from the buffer in bulk (see
ingest/publish_reader.py), and PUBACKs written as one batch.

Read buffering:

paho reads every packet with at least three recv() calls (command byte, then
the remaining length one byte at a time, then the body). At tens of thousands
of small PUBLISH packets a second those syscalls are most of an ingest
worker's CPU. This wrapper reads up to 256 KiB per recv() and serves paho
from the buffer; `pending()` (which paho already consults for TLS sockets)
tells paho's loop that buffered bytes are ready, so it does not wait in
select() while whole packets sit in our buffer.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from ingest.publish_reader import RawPublish, take_publishes

READ_CHUNK = 256 * 1024
PUBACK = 0x40
PUBACK_PREFIX = bytes((PUBACK, 2))  # fixed header: PUBACK, remaining length 2 (the packet id)


class BufferedSocket:
    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self._sock = sock
        self.buffer = bytearray()

    def recv(self, bufsize: int) -> bytes:
        if not self.buffer:
            # Raises BlockingIOError / SSLWantReadError exactly like the raw
            # socket when nothing is there; paho handles both.
            chunk = self._sock.recv(READ_CHUNK)
            if not chunk:
                return b""  # peer closed
            self.buffer += chunk
        data = bytes(self.buffer[:bufsize])
        del self.buffer[:bufsize]
        return data

    def buffered(self) -> int:
        return len(self.buffer)

    def pending(self) -> int:
        inner = self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0
        return len(self.buffer) + inner

    def __getattr__(self, name: str) -> Any:
        # send, fileno, close, setblocking, ...: the socket's own.
        return getattr(self._sock, name)


class DrainingClient(mqtt.Client):
    """A paho client that handles every buffered packet per loop iteration.

    paho's loop reads one packet, then selects, writes and checks keep-alives
    again; with a BufferedSocket the packets are already in memory, so the
    loop drains them before going back to select().

    With `on_publishes` set, QoS 0/1 PUBLISH packets bypass paho's decoding
    and on_message: the callback receives them in bulk, in arrival order,
    on the network thread. Every other packet still goes through paho."""

    on_publishes: Callable[[list[RawPublish]], None] | None = None

    def _packet_read(self) -> MQTTErrorCode:
        sock = self._sock
        if (
            self.on_publishes is not None
            and isinstance(sock, BufferedSocket)
            and sock.buffered()
            and self._in_packet["command"] == 0  # paho is not halfway through a packet
        ):
            publishes = take_publishes(sock.buffer)
            if publishes:
                with self._msgtime_mutex:  # what paho's keep-alive check reads
                    self._last_bytes_received = mqtt.time_func()
                self.on_publishes(publishes)
                if not sock.buffered():
                    return MQTTErrorCode.MQTT_ERR_AGAIN  # "nothing more to read now"
        # Another packet type, or an incomplete or malformed one: paho's way.
        return super()._packet_read()

    def reading_paused(self) -> bool:
        """True: read no more for now (a subclass's back-pressure)."""
        return False

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        # Each round consumes buffered bytes, so this ends when the buffer
        # does (a packet cut at the buffer's end refills it: the pause check
        # keeps that from reading on and on).
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not self.reading_paused():
            sock = self._sock
            if not isinstance(sock, BufferedSocket) or not sock.buffered():
                break
            rc = super().loop_read(max_packets)
        return rc

    def ack_many(self, mids: list[int]) -> None:
        """Send the PUBACKs of QoS 1 messages as one write.

        `Client.ack()` queues one packet per message, each with its own wake-up
        of the network thread and its own send(): a tenth of a worker's CPU at
        ten thousand messages a second. The concatenated PUBACKs are exactly
        the bytes `ack()` would send, one after another."""
        if not mids:
            return
        packets = b"".join(PUBACK_PREFIX + mid.to_bytes(2, "big") for mid in mids)
        self._packet_queue(PUBACK, packets, 0, 1)
