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
from typing import Any

import orjson
from pydantic import ValidationError

from models.readings import DEFAULT_MAX_FUTURE_SKEW, MODEL_FOR_FAMILY, Reading
from models.topics import PoleTopic, TopicError

DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
MAX_REASON_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a message was refused. `item_index` is the array position."""

    reason: str
    raw: bytes
    item_index: int | None = None


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
        return DecodedMessage(None, rejections=[Rejection(f"topic: {exc}", payload[:4096])])

    if len(payload) > limits.max_payload_bytes:
        reason = (
            f"payload too large: {len(payload)} bytes (limit {limits.max_payload_bytes}); "
            "first 4096 bytes kept"
        )
        return DecodedMessage(pole_topic, rejections=[Rejection(reason, payload[:4096])])

    try:
        document = orjson.loads(payload)  # strict JSON: NaN/Infinity are syntax errors
    except orjson.JSONDecodeError as exc:
        return DecodedMessage(pole_topic, rejections=[Rejection(f"malformed JSON: {exc}", payload)])

    if isinstance(document, dict):
        items: list[Any] = [document]
        indexed = False
    elif isinstance(document, list) and document:
        items = document
        indexed = True
    else:
        what = "an empty array" if document == [] else f"a JSON {type(document).__name__}"
        reason = f"payload must be a JSON object or a non-empty array of objects, got {what}"
        return DecodedMessage(pole_topic, rejections=[Rejection(reason, payload)])

    decoded = DecodedMessage(pole_topic)
    model = MODEL_FOR_FAMILY[pole_topic.family]
    context = {"received_at": received_at, "max_future_skew": limits.max_future_skew}
    for index, item in enumerate(items):
        item_index = index if indexed else None
        if not isinstance(item, dict):
            raw = _item_bytes(item, payload, indexed)
            reason = f"a reading must be a JSON object, got {type(item).__name__}"
            decoded.rejections.append(Rejection(_prefixed(reason, item_index), raw, item_index))
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
