"""Rows of the SensorThings sources as the JSON entities clients read."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg.types.range import Range

from models.sensorthings.mapping import OBSERVED_PROPERTIES, OM_COUNT
from storage.queries.sta_entities import EntitySet


def iso_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso(value: datetime | None) -> datetime | None:
    """A time for the JSON body: orjson writes it as ISO 8601 with Z (dumps())."""
    if value is None or value.utcoffset() == ZERO:
        return value
    return value.astimezone(UTC)


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_UTC_Z)


def interval(value: Any) -> str | None:
    if isinstance(value, tuple):
        start, end = value
        return f"{iso_text(start)}/{iso_text(end)}"
    if isinstance(value, Range):
        if value.lower is None or value.upper is None:
            return None
        return f"{iso_text(value.lower)}/{iso_text(value.upper)}"
    return None


ZERO = timedelta(0)


def point(row: dict[str, Any]) -> dict[str, Any] | None:
    lat, lon = row.get("latitude"), row.get("longitude")
    if lat is None or lon is None:
        return None
    return {"type": "Point", "coordinates": [lon, lat]}


class Links:
    def __init__(self, base: str) -> None:
        self.base = base

    def entity(self, entity: EntitySet, id_: Any) -> str:
        return f"{self.base}/{entity.name}({id_})"


def properties_of(  # noqa: PLR0911 - one shape per entity set
    entity: EntitySet, row: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    """The entity's own properties, by SensorThings name."""
    name = entity.name
    if name == "Things":
        return {"name": row["name"], "description": row["description"],
                "properties": row["properties"]}  # fmt: skip
    if name in ("Locations", "FeaturesOfInterest"):
        geo = "location" if name == "Locations" else "feature"
        return {
            "name": row["name"],
            "description": row["description"],
            "encodingType": row["encoding_type"],
            geo: point(row),
            "properties": row["properties"],
        }
    if name == "HistoricalLocations":
        return {"time": iso(row["time"])}
    if name == "Datastreams":
        times = extra.get("times", {}).get(row["id"])
        span = interval(times) if times else None
        out = {
            "name": row["name"],
            "description": row["description"],
            "unitOfMeasurement": row["unit_of_measurement"],
            "observationType": row["observation_type"],
            "observedArea": point(row),
            "phenomenonTime": span,
            "resultTime": span,
            "properties": row["properties"],
        }
        return out
    if name == "Sensors":
        return {
            "name": row["name"],
            "description": row["description"],
            "encodingType": row["encoding_type"],
            "metadata": row["metadata"],
            "properties": row["properties"],
        }
    if name == "ObservedProperties":
        return {
            "name": row["name"],
            "definition": row["definition"],
            "description": row["description"],
            "properties": row["properties"],
        }
    if name == "Observations":
        result = row["result"]
        d = OBSERVED_PROPERTIES.get(row.get("slot") or 0)
        if d is not None and d.observation_type == OM_COUNT and result is not None:
            result = int(result)
        end = row.get("phenomenon_end")
        out = {
            "phenomenonTime": interval((row["phenomenon_time"], end))
            if end is not None
            else iso(row["phenomenon_time"]),
            "resultTime": (
                iso(row["result_time"]) if isinstance(row["result_time"], datetime) else None
            ),
            "result": result,
        }
        if row.get("result_quality") is not None:
            out["resultQuality"] = row["result_quality"]
        if row.get("valid_time") is not None:
            out["validTime"] = interval(row["valid_time"])
        if row.get("parameters") is not None:
            out["parameters"] = row["parameters"]
        return out
    raise AssertionError(name)


def entity_json(
    entity: EntitySet,
    row: dict[str, Any],
    links: Links,
    *,
    select: tuple[str, ...] | None,
    extra: dict[str, Any],
    expanded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    self_link = links.entity(entity, row["id"])
    out: dict[str, Any] = {}
    chosen = set(select) if select else None
    if chosen is None or "id" in chosen:
        out["@iot.selfLink"] = self_link
        out["@iot.id"] = row["id"]
    for key, value in properties_of(entity, row, extra).items():
        if chosen is None or key in chosen:
            out[key] = value
    expanded = expanded or {}
    for nav in entity.navs:
        if nav.name in expanded:
            continue
        if chosen is None or nav.name in chosen:
            out[f"{nav.name}@iot.navigationLink"] = f"{self_link}/{nav.name}"
    out.update(expanded)
    return out


def flatten(entity_doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One CSV row: nested objects as `a/b` columns, lists as JSON text."""
    out: dict[str, Any] = {}
    for key, value in entity_doc.items():
        if key.endswith("@iot.navigationLink"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key not in ("location", "feature", "observedArea"):
            out.update(flatten(value, f"{name}/"))
        elif isinstance(value, dict | list):
            out[name] = dumps(value).decode()
        elif isinstance(value, datetime):
            out[name] = iso_text(value)
        else:
            out[name] = value
    return out


def csv_body(docs: Iterable[dict[str, Any]]) -> bytes:
    rows = [flatten(d) for d in docs]
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return buffer.getvalue().encode()


def geojson_body(docs: Iterable[dict[str, Any]], geometries: list[dict[str, Any] | None]) -> bytes:
    features = []
    for doc, geometry in zip(docs, geometries, strict=True):
        props = {k: v for k, v in doc.items() if k not in ("location", "feature", "observedArea")}
        features.append({"type": "Feature", "id": doc.get("@iot.id"), "geometry": geometry,
                         "properties": props})  # fmt: skip
    return dumps({"type": "FeatureCollection", "features": features})
