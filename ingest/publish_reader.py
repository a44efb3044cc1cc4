"""A thin reader for the one packet an ingest worker receives by the thousand:
MQTT v5 PUBLISH at QoS 0 or 1.

paho decodes each PUBLISH into an MQTTMessage with a parsed Properties object,
matches its topic against the callback table and calls on_message: about two
thirds of an ingest worker's CPU at one reading per message. This reader takes
every complete PUBLISH at the head of the receive buffer in one pass and hands
over (topic, payload, packet id, QoS) tuples. Anything else (CONNACK, SUBACK,
PINGRESP, DISCONNECT, QoS 2, an incomplete packet, a malformed one) stops it,
so paho's own reader handles that packet exactly as before, errors included.

Properties are skipped, not parsed: ingest uses none of them, and it never
allows topic aliases (it sends no Topic Alias Maximum, so the broker may not
use them); a PUBLISH with an empty topic reaches the quarantine as an invalid
topic, just as through paho.
"""

from __future__ import annotations

from typing import NamedTuple

PUBLISH = 0x30
MAX_VARINT_BYTES = 4


class RawPublish(NamedTuple):
    topic: bytes
    payload: bytes
    mid: int  # 0 at QoS 0
    qos: int


def _varint(buffer: bytearray, pos: int, end: int) -> tuple[int, int] | None:
    """MQTT variable byte integer at `pos` -> (value, position after it);
    None when it runs past `end` or is longer than four bytes."""
    value = 0
    shift = 0
    for index in range(pos, min(end, pos + MAX_VARINT_BYTES)):
        byte = buffer[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    return None


def take_publishes(buffer: bytearray) -> list[RawPublish]:
    """Remove every complete, well-formed QoS 0/1 PUBLISH from the front of
    `buffer` and return them in order; stop at the first other packet."""
    out: list[RawPublish] = []
    size = len(buffer)
    pos = 0
    # Slices of a memoryview copy once (bytearray slices copy twice); it must
    # be released before the buffer is resized.
    with memoryview(buffer) as view:
        while pos < size:
            header = buffer[pos]
            if header & 0xF0 != PUBLISH:
                break
            qos = (header >> 1) & 0x03
            if qos > 1:  # QoS 2 needs paho's PUBREC/PUBREL state; 3 is malformed
                break
            length = _varint(buffer, pos + 1, size)
            if length is None:  # incomplete (or malformed: paho reports that)
                break
            remaining, body = length
            end = body + remaining
            if end > size:
                break  # the rest has not arrived yet
            if remaining < 2:
                break  # malformed (no room for the topic length): paho reports it
            topic_end = body + 2 + ((buffer[body] << 8) | buffer[body + 1])
            cursor = topic_end + (2 if qos else 0)
            if cursor >= end:
                break  # malformed: topic, packet id or properties length missing
            mid = (buffer[topic_end] << 8) | buffer[topic_end + 1] if qos else 0
            if buffer[cursor] == 0:  # the common case: no properties
                payload_at = cursor + 1
            else:
                properties = _varint(buffer, cursor, end)
                if properties is None or properties[1] + properties[0] > end:
                    break
                payload_at = properties[1] + properties[0]
            out.append(
                RawPublish(bytes(view[body + 2 : topic_end]), bytes(view[payload_at:end]), mid, qos)
            )
            pos = end
    if pos:
        del buffer[:pos]
    return out
