"""The registry written out in the import's own formats, so that an export,
imported again, changes nothing (`smartpole poles export`; the simulators'
`--inventory` files are written by the same functions).

GeoJSON: a FeatureCollection, one Point feature per current pole, the
registry fields as flat properties (lists as JSON arrays). CSV: one column
per registry field and per property key, `;`-separated, UTF-8, lists joined
with `,` (capabilities) and `|` (per connector). Retired poles are left out.
Both stream: memory stays flat for any fleet size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from typing import IO, Any, Literal

import orjson
import psycopg

from inventory.values import formula_risk
from models.catalogue.registry import (
    INTERNAL_PROPERTY_PREFIX,
    PUBLIC_PROPERTY_PREFIX,
    REGISTRY_FIELDS,
)
from storage import inventory as store

ExportFormat = Literal["geojson", "csv"]
COLUMNS = tuple(f.name for f in REGISTRY_FIELDS)


def entry_properties(entry: dict[str, Any]) -> dict[str, Any]:
    """The flat properties of one entry (ENTRY_FIELDS plus pole_id), in column order."""
    connectors = sorted(entry.get("connectors") or [], key=lambda c: c["connector_id"])
    capabilities = sorted(entry.get("capabilities") or [])
    commissioned = entry.get("commissioned_on")
    props: dict[str, Any] = {
        "pole_id": entry["pole_id"],
        "asset_id": entry.get("asset_id"),
        "name": entry.get("name"),
        "district": entry.get("district"),
        "capabilities": capabilities,
        "ev_connectors": len(connectors),
        "ev_connector_ids": [c["connector_id"] for c in connectors],
        "ev_max_power_kw": [c.get("max_power_kw") for c in connectors],
        "ev_plug_type": [c.get("plug_type") for c in connectors],
        "lamp_rated_power_w": entry.get("lamp_rated_power_w"),
        "commissioned_on": commissioned.isoformat() if isinstance(commissioned, date) else None,
        "notes": entry.get("notes"),
    }
    for key, value in sorted((entry.get("properties") or {}).items()):
        props[PUBLIC_PROPERTY_PREFIX + key] = value
    for key, value in sorted((entry.get("internal_properties") or {}).items()):
        props[INTERNAL_PROPERTY_PREFIX + key] = value
    return props


def feature(entry: dict[str, Any]) -> dict[str, Any]:
    lon, lat = entry.get("longitude"), entry.get("latitude")
    geometry = None if lon is None or lat is None else {"type": "Point", "coordinates": [lon, lat]}
    return {
        "type": "Feature",
        "id": entry["pole_id"],
        "geometry": geometry,
        "properties": entry_properties(entry),
    }


def write_geojson(batches: Iterable[Iterable[dict[str, Any]]], out: IO[bytes]) -> int:
    """A FeatureCollection, one feature a line; returns how many."""
    out.write(b'{"type": "FeatureCollection", "features": [\n')
    count = 0
    for batch in batches:
        for entry in batch:
            out.write((b",\n" if count else b"") + orjson.dumps(feature(entry)))
            count += 1
    out.write(b"\n]}\n")
    return count


def csv_header(public_keys: Iterable[str], internal_keys: Iterable[str]) -> list[str]:
    return [
        *COLUMNS[:4],
        "latitude",
        "longitude",
        *COLUMNS[6:],
        *(PUBLIC_PROPERTY_PREFIX + k for k in public_keys),
        *(INTERNAL_PROPERTY_PREFIX + k for k in internal_keys),
    ]


def write_csv(
    batches: Iterable[Iterable[dict[str, Any]]],
    out: IO[str],
    header: list[str],
    delimiter: str = ";",
) -> tuple[int, int]:
    """Returns (rows, cells escaped with a leading ' because a spreadsheet would
    have run them as formulas)."""
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    rows = escaped = 0
    for batch in batches:
        for entry in batch:
            props = entry_properties(entry)
            props["latitude"], props["longitude"] = entry.get("latitude"), entry.get("longitude")
            cells = []
            for column in header:
                cell = _cell(column, props.get(column))
                if formula_risk(cell):
                    cell, escaped = "'" + cell, escaped + 1
                cells.append(cell)
            writer.writerow(cells)
            rows += 1
    return rows, escaped


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column == "capabilities":
        return ",".join(value)
    if column in ("ev_connector_ids", "ev_max_power_kw", "ev_plug_type"):
        return "|".join("" if v is None else _scalar(v) for v in value)
    if column == "ev_connectors":
        return str(value) if value else ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def export_registry(
    conn: psycopg.Connection[Any], fmt: ExportFormat, out: IO[bytes], delimiter: str = ";"
) -> tuple[int, int]:
    """Every current pole to `out`; returns (poles, CSV cells escaped)."""
    if fmt == "geojson":
        return write_geojson(store.stream_entries(conn), out), 0
    public_keys, internal_keys = store.property_keys(conn)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        return write_csv(
            store.stream_entries(conn), text, csv_header(public_keys, internal_keys), delimiter
        )
    finally:
        text.detach()
