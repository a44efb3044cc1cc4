"""One Observation as the JSON document a client reads: the single renderer of
the facade's Observations (api/sta/render.py) and of the MQTT receive-updates
extension (sta_mqtt), so a published message is exactly what
GET /sta/v1.1/Observations(<id>) answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from models.sensorthings.mapping import OBSERVED_PROPERTIES, OM_COUNT

# Where the API serves the facade (api/sta/router.py PREFIX is the same).
FACADE_PATH = "/sta/v1.1"
# An Observation's relations, in the order its document links them.
OBSERVATION_NAVIGATION: tuple[str, ...] = ("Datastream", "FeatureOfInterest")

Span = tuple[datetime | None, datetime | None]
ZERO = timedelta(0)


def iso_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso(value: datetime | None) -> datetime | None:
    """A time for the JSON body: orjson writes it as ISO 8601 with Z (dumps())."""
    if value is None or value.utcoffset() == ZERO:
        return value
    return value.astimezone(UTC)


def dumps(payload: Any) -> bytes:
    """The JSON of a document (times as ISO 8601 with Z)."""
    return orjson.dumps(payload, option=orjson.OPT_UTC_Z)


def span_text(value: Span | None) -> str | None:
    """An ISO 8601 interval, or None for a missing or half-open one."""
    if value is None:
        return None
    start, end = value
    if start is None or end is None:
        return None
    return f"{iso_text(start)}/{iso_text(end)}"


def observation_properties(
    *,
    slot: int | None,
    phenomenon_time: datetime,
    phenomenon_end: datetime | None = None,
    result_time: datetime | None,
    result: Any,
    result_quality: Any = None,
    valid_time: Span | None = None,
    parameters: Any = None,
) -> dict[str, Any]:
    """An Observation's own properties, by SensorThings name: an instant, or the
    interval up to `phenomenon_end` (an aggregate's bucket). A count metric's
    result is an integer; the optional properties appear only when set."""
    d = OBSERVED_PROPERTIES.get(slot or 0)
    if d is not None and d.observation_type == OM_COUNT and result is not None:
        result = int(result)
    out: dict[str, Any] = {
        "phenomenonTime": span_text((phenomenon_time, phenomenon_end))
        if phenomenon_end is not None
        else iso(phenomenon_time),
        "resultTime": iso(result_time),
        "result": result,
    }
    if result_quality is not None:
        out["resultQuality"] = result_quality
    if valid_time is not None:
        out["validTime"] = span_text(valid_time)
    if parameters is not None:
        out["parameters"] = parameters
    return out


def observation_link(base: str, observation_id: int) -> str:
    return f"{base}/Observations({observation_id})"


def observation_document(
    base: str, observation_id: int, properties: dict[str, Any]
) -> dict[str, Any]:
    """The whole entity as GET .../Observations(<id>) without options renders it."""
    self_link = observation_link(base, observation_id)
    doc: dict[str, Any] = {"@iot.selfLink": self_link, "@iot.id": observation_id}
    doc.update(properties)
    for name in OBSERVATION_NAVIGATION:
        doc[f"{name}@iot.navigationLink"] = f"{self_link}/{name}"
    return doc
