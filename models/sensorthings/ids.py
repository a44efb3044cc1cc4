"""The SensorThings id scheme: stable integers below 2^53.

JavaScript clients (Masterportal) build URLs and MQTT topics from the ids
unquoted and the OGC test suite reads them as integers, so every id is an
integer that a double holds exactly. None is a hash of a natural key (hundreds
of millions of observations with microsecond times would collide); each is
made of stored numbers (migration 0040) and small frozen slots:

- Thing, Location, FeatureOfInterest: the pole's `sta_things.thing_id` (an
  identity given when the pole is first inserted).
- HistoricalLocation: the `pole_registry_history.id` of the change that set
  the position.
- Sensor: the family's slot (`SENSOR_SLOTS`); ObservedProperty: the metric's
  slot (`METRIC_SLOTS`, 1..31).
- Datastream: `(stream_id * 4 + kind) * 32 + metric slot`. A stream is one
  pole's (one connector's) family (`sta_streams`); kind 0 is the raw
  readings, 1 the hourly and 2 the daily aggregates.
- Observation (raw): `reading_id * 32 + metric slot`. `reading_id` is one
  bigint sequence shared by the reading tables, so the number names one row
  of one table.
- Observation (aggregate): `2^52 + datastream_id * 2^20 + hours since
  2000-01-01 of the bucket start`.

Limits: raw Observation ids stay below 2^52 while fewer than 2^47 (1.4e14)
readings were stored; aggregate ids below 2^53 while Datastream ids are below
2^32 (33 million streams) and buckets start before 2119. The slots are
append-only: a new metric takes the next free slot, none is ever reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

MAX_ID = 2**53 - 1
METRIC_STRIDE = 32  # metric slots 1..31
KIND_STRIDE = 4
AGGREGATE_BASE = 2**52
AGGREGATE_BUCKET_BITS = 20
AGGREGATE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_READING_ID = (AGGREGATE_BASE - 1) // METRIC_STRIDE


class StreamKind(IntEnum):
    """What a Datastream of a stream holds."""

    RAW = 0
    HOURLY = 1
    DAILY = 2


@dataclass(frozen=True, slots=True)
class DatastreamKey:
    stream_id: int
    kind: StreamKind
    slot: int


def datastream_id(stream_id: int, kind: StreamKind, slot: int) -> int:
    return (stream_id * KIND_STRIDE + kind) * METRIC_STRIDE + slot


def split_datastream_id(value: int) -> DatastreamKey | None:
    """The parts of a Datastream id, or None for a number no Datastream can have."""
    if value <= 0 or value > MAX_ID:
        return None
    slot = value % METRIC_STRIDE
    rest = value // METRIC_STRIDE
    kind = rest % KIND_STRIDE
    if slot == 0 or kind > max(StreamKind):
        return None
    return DatastreamKey(rest // KIND_STRIDE, StreamKind(kind), slot)


def observation_id(reading_id: int, slot: int) -> int:
    return reading_id * METRIC_STRIDE + slot


def split_observation_id(value: int) -> tuple[int, int] | None:
    """(reading_id, metric slot) of a raw Observation id, or None."""
    if value <= 0 or value >= AGGREGATE_BASE:
        return None
    slot = value % METRIC_STRIDE
    if slot == 0:
        return None
    return value // METRIC_STRIDE, slot


def bucket_number(start: datetime) -> int:
    return int((start - AGGREGATE_EPOCH) // timedelta(hours=1))


def aggregate_observation_id(datastream: int, bucket_start: datetime) -> int:
    return AGGREGATE_BASE + (datastream << AGGREGATE_BUCKET_BITS) + bucket_number(bucket_start)


def split_aggregate_observation_id(value: int) -> tuple[int, datetime] | None:
    """(Datastream id, bucket start) of an aggregate Observation id, or None."""
    if value < AGGREGATE_BASE or value > MAX_ID:
        return None
    rest = value - AGGREGATE_BASE
    hours = rest & ((1 << AGGREGATE_BUCKET_BITS) - 1)
    return rest >> AGGREGATE_BUCKET_BITS, AGGREGATE_EPOCH + timedelta(hours=hours)
