"""Turning a batch of MQTT messages into rows to store and rows to quarantine."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingest.inbox import InboundMessage
from models.wire import DecodedMessage, DecodeLimits, RejectionKind, decode_message, kept_prefix
from storage.writer import ReceivedReading, ReceivedRejection

log = logging.getLogger(__name__)


@dataclass(slots=True)
class DecodedBatch:
    readings: list[ReceivedReading] = field(default_factory=list)
    rejections: list[ReceivedRejection] = field(default_factory=list)


def decode_batch(messages: Sequence[InboundMessage], limits: DecodeLimits) -> DecodedBatch:
    batch = DecodedBatch()
    arrival = -1.0
    received_at = datetime.min
    for message in messages:
        if message.received_at != arrival:  # messages of one socket read share it
            arrival = message.received_at
            received_at = datetime.fromtimestamp(arrival, UTC)
        try:
            decoded = decode_message(message.topic, message.payload, received_at, limits)
        except Exception as exc:  # a decoder bug must cost one message, not the worker
            log.exception("could not decode a message on %r", message.topic[:200])
            reason = f"internal error while decoding: {type(exc).__name__}"
            rejection = kept_prefix(reason, message.payload, RejectionKind.INTERNAL_ERROR)
            decoded = DecodedMessage(None, rejections=[rejection])
        if decoded.topic is not None:
            batch.readings.extend(
                ReceivedReading(decoded.topic, reading, received_at) for reading in decoded.readings
            )
        batch.rejections.extend(
            ReceivedRejection(message.topic, decoded.topic, rejection, received_at)
            for rejection in decoded.rejections
        )
    return batch
