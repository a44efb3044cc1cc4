"""Decoding an MQTT message into validated readings and precise rejections.

Shared by ingest (which stores what passes and quarantines the rest) and the
simulators (which check that what they publish would pass). A payload is one
JSON object or a JSON array of them (a store-and-forward backlog); each
element stands or falls on its own, so one bad reading never costs its
neighbours.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from pydantic import ValidationError

from models.readings import DEFAULT_MAX_FUTURE_SKEW, MODEL_FOR_FAMILY, Reading
from models.topics import PoleTopic, TopicError

DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
MAX_REASON_CHARS = 1000
# What the quarantine keeps of a payload it cannot keep whole (too large, or on
# a topic that is not ours).
KEPT_PREFIX_BYTES = 4096


class RejectionKind(StrEnum):
    """Why a message was quarantined, as a closed vocabulary: the quarantine's
    `reason_kind`, the `--reason` of `smartpole quarantine`, the label of the
    ingest metric. The `reason` text says the details."""

    TOPIC = "topic"  # not a topic of the v1 contract
    TOO_LARGE = "too_large"  # over SMARTPOLE_INGEST_MAX_PAYLOAD_BYTES: first 4 KiB kept
    MALFORMED_JSON = "malformed_json"
    NOT_A_READING = "not_a_reading"  # JSON, but not an object or an array of objects
    INVALID_READING = "invalid_reading"  # an object the family's model refuses
    DECOMMISSIONED = "decommissioned"  # a retired pole's reading
    STORAGE_REFUSED = "storage_refused"  # valid, but the database refused it
    INTERNAL_ERROR = "internal_error"  # a decoder bug


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a message was refused. `item_index` is the array position;
    `truncated`: `raw` is only the first KEPT_PREFIX_BYTES of the payload, so it
    can never be replayed."""

    reason: str
    raw: bytes
    item_index: int | None = None
    kind: RejectionKind = RejectionKind.INVALID_READING
    truncated: bool = False


def kept_prefix(
    reason: str, payload: bytes, kind: RejectionKind, item_index: int | None = None
) -> Rejection:
    """A rejection that keeps at most the first KEPT_PREFIX_BYTES of `payload`."""
    truncated = len(payload) > KEPT_PREFIX_BYTES
    return Rejection(reason, payload[:KEPT_PREFIX_BYTES], item_index, kind, truncated)


@dataclass(slots=True)
class DecodedMessage:
    topic: PoleTopic | None
    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW


def decode_message(
    topic: str, payload: bytes, received_at: datetime, limits: DecodeLimits | None = None
) -> DecodedMessage:
    limits = limits or DecodeLimits()
    try:
        pole_topic = _parse_topic(topic)
    except TopicError as exc:
        rejection = kept_prefix(f"topic: {exc}", payload, RejectionKind.TOPIC)
        return DecodedMessage(None, rejections=[rejection])

    if len(payload) > limits.max_payload_bytes:
        reason = (
            f"payload too large: {len(payload)} bytes (limit {limits.max_payload_bytes}); "
            f"first {KEPT_PREFIX_BYTES} bytes kept"
        )
        rejection = Rejection(
            reason, payload[:KEPT_PREFIX_BYTES], None, RejectionKind.TOO_LARGE, truncated=True
        )
        return DecodedMessage(pole_topic, rejections=[rejection])

    try:
        document = orjson.loads(payload)  # strict JSON: NaN/Infinity are syntax errors
    except orjson.JSONDecodeError as exc:
        rejection = Rejection(f"malformed JSON: {exc}", payload, None, RejectionKind.MALFORMED_JSON)
        return DecodedMessage(pole_topic, rejections=[rejection])

    if isinstance(document, dict):
        items: list[Any] = [document]
        indexed = False
    elif isinstance(document, list) and document:
        items = document
        indexed = True
    else:
        what = "an empty array" if document == [] else f"a JSON {type(document).__name__}"
        reason = f"payload must be a JSON object or a non-empty array of objects, got {what}"
        rejection = Rejection(reason, payload, None, RejectionKind.NOT_A_READING)
        return DecodedMessage(pole_topic, rejections=[rejection])

    decoded = DecodedMessage(pole_topic)
    model = MODEL_FOR_FAMILY[pole_topic.family]
    context = {"received_at": received_at, "max_future_skew": limits.max_future_skew}
    for index, item in enumerate(items):
        item_index = index if indexed else None
        if not isinstance(item, dict):
            raw = _item_bytes(item, payload, indexed)
            reason = f"a reading must be a JSON object, got {type(item).__name__}"
            reason = _prefixed(reason, item_index)
            kind = RejectionKind.NOT_A_READING
            decoded.rejections.append(Rejection(reason, raw, item_index, kind))
            continue
        try:
            decoded.readings.append(model.model_validate(item, context=context))
        except ValidationError as exc:
            raw = _item_bytes(item, payload, indexed)
            reason = _prefixed(describe_validation_error(exc), item_index)
            decoded.rejections.append(Rejection(reason, raw, item_index))
    return decoded


# A fleet publishes on a few topics per pole, over and over: parse each once.
# Only valid topics are cached (lru_cache does not keep exceptions).
_parse_topic = functools.lru_cache(maxsize=1 << 16)(PoleTopic.parse)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: `field: message (got value)`, shortest useful form."""
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "reading"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] not in ("missing", "extra_forbidden", "value_error"):
            message += f" (got {_short_repr(error.get('input'))})"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{location}: {message}")
    return "; ".join(parts)[:MAX_REASON_CHARS]


def _item_bytes(item: Any, payload: bytes, indexed: bool) -> bytes:
    """The bytes to quarantine for one array element (the whole payload otherwise)."""
    if not indexed:
        return payload
    try:
        return orjson.dumps(item)
    except (TypeError, RecursionError):  # absurdly deep nesting: keep the original
        return payload


def _prefixed(reason: str, item_index: int | None) -> str:
    return reason if item_index is None else f"item {item_index}: {reason}"


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return f"a deeply nested {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
