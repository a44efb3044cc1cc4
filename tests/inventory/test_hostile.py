"""Hostile inventory files: each is rejected with a clear reason at the right line,
and nothing is written - not the good rows beside it, not a history row."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.inventory.conftest import EAST, WEST, Importer, rows, snapshot
from tests.support.peak_memory import run_measured

HEADER = "pole_id;asset_id;name;district;latitude;longitude;capabilities"
# A good update of an existing pole and a good new pole: neither may be written
# when another row of the same file is rejected.
GOOD = (
    f"CR-0001;Mast 1;Marktplatz (neu);;{WEST[1]};{WEST[0]};env,light\n"
    f"CR-0002;Mast 2;Bahnhof;;{EAST[1]};{EAST[0]};light\n"
)


@pytest.fixture
def seeded(run_import: Importer, db: psycopg.Connection[Any]) -> dict[str, Any]:
    report = run_import(f"{HEADER}\nCR-0001;Mast 1;Marktplatz;;{WEST[1]};{WEST[0]};light\n")
    assert report.written
    return snapshot(db)


def csv_with(bad_row: str, header: str = HEADER) -> str:
    return f"{header}\n{GOOD}{bad_row}\n"


CSV_CASES = {
    "latitude out of range": ("X-1;;A;;95;7.3;", 4, "latitude must be within -90..90"),
    "lat and lon swapped": (f"X-1;;A;;{WEST[0]};{WEST[1]};", 4, "look swapped"),
    "far outside the city": ("X-1;;A;;48.137;11.575;", 4, "outside the city's area"),
    "projected metres as degrees": (
        "X-1;;A;;5713000.5;384000.2;",
        4,
        "look like projected coordinates",
    ),
    "null island": ("X-1;;A;;0;0;", 4, "placeholder"),
    "one coordinate only": ("X-1;;A;;51.55;;", 4, "go together"),
    "invalid pole id": ("bad id!;;A;;;;", 4, "invalid pole id 'bad id!'"),
    "no pole id": (";;A;;;;", 4, "no pole_id"),
    "unknown capability": ("X-1;;A;;;;env,teleport", 4, "unknown value 'teleport'"),
    "formula injection": ("X-1;;=cmd|' /C calc'!A0;;;;", 4, "runs as a formula"),
    "formula in a district": ("X-1;;A;@SUM(1+1);;;", 4, "runs as a formula"),
    "district contradicting the position": (
        f"X-1;;A;West;{EAST[1]};{EAST[0]};",
        4,
        "district 'West' contradicts the position, which lies in East",
    ),
    "unknown district": (f"X-1;;A;Nowhere;{EAST[1]};{EAST[0]};", 4, "not in the district"),
    "position in no district": ("X-1;;A;;51.55;7.25;", 4, "lies in no district"),
    "ambiguous number": ("X-1;;A;;51.550,5;7.3;", 4, "ambiguous"),
    "not a number": ("X-1;;A;;north;7.3;", 4, "'north' is not a number"),
    "too many fields": ("X-1;;A;;51.55;7,29;env;extra", 4, "the row has 8 fields"),
    "control characters": ("X-1;;A\x07B;;;;", 4, "control characters"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_hostile_csv_rows(
    case: str, run_import: Importer, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    bad_row, line, reason = CSV_CASES[case]
    report = run_import(csv_with(bad_row))
    assert not report.written
    rejected = rows(report, "rejected")
    assert [r["line"] for r in rejected] == [line], rejected
    assert reason in rejected[0]["reason"], rejected[0]["reason"]
    # The report still says what the good rows would have done ...
    assert report.counts["updated"] == 1 and report.counts["created"] == 1
    # ... and nothing at all was written.
    assert snapshot(db) == seeded


def test_duplicate_pole_ids_reject_every_line(
    run_import: Importer, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    report = run_import(csv_with("CR-0002;;Doppelt;;;;"))
    rejected = rows(report, "rejected")
    assert [(r["line"], r["pole_id"]) for r in rejected] == [(3, "CR-0002"), (4, "CR-0002")]
    assert "pole id CR-0002 appears on lines 3, 4" in rejected[0]["reason"]
    assert not report.written and snapshot(db) == seeded


def test_duplicate_asset_ids(
    run_import: Importer, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    report = run_import(csv_with("X-1;Mast 2;A;;;;"))
    assert [r["line"] for r in rows(report, "rejected")] == [3, 4]
    assert "asset id 'Mast 2' is given to several poles" in rows(report, "rejected")[0]["reason"]
    assert snapshot(db) == seeded


def test_asset_ids_may_move_between_poles_of_one_file(
    run_import: Importer, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    run_import(f"{HEADER}\nCR-0002;Mast 2;B;;;;\n")
    swapped = run_import(f"{HEADER}\nCR-0001;Mast 2;;;;;\nCR-0002;Mast 1;;;;;\n")
    assert swapped.written, swapped.as_dict()
    owners = dict(db.execute("SELECT asset_id, pole_id FROM poles ORDER BY 1").fetchall())
    assert owners == {"Mast 1": "CR-0002", "Mast 2": "CR-0001"}


FILE_CASES: dict[str, tuple[bytes, dict[str, Any], int | None, str]] = {
    "Windows-1252 without --encoding": (
        csv_with("X-1;;Müllerstraße;;;;").encode("cp1252"),
        {},
        4,
        "byte 0xFC at column 7 is not valid utf-8; a file saved by Excel",
    ),
    "UTF-8 read as Windows-1252": (
        csv_with("X-1;;Müllerstraße;;;;").encode("utf-8"),
        {"encoding": "cp1252"},
        4,
        "valid UTF-8 but --encoding is cp1252",
    ),
    "undefined Windows-1252 byte": (
        f"{HEADER}\n{GOOD}".encode("cp1252") + b"X-1;;A\x81;;;;\n",
        {"encoding": "cp1252"},
        4,
        "byte 0x81",
    ),
    "UTF-16": (csv_with("X-1;;A;;;;").encode("utf-16"), {}, 1, "UTF-16"),
    "NUL bytes": (csv_with("X-1;;A\x00;;;;").encode(), {}, 4, "NUL"),
    "unterminated quote": (csv_with('X-1;;"open;;;;').encode(), {}, 4, "not readable as CSV"),
    "x/y without --crs": (b"pole_id;x;y\nX-1;384000;5713000\n", {}, 2, "need --crs"),
    "degrees with --crs": (
        b"pole_id;x;y\nX-1;7.3;51.5\n",
        {"crs": "EPSG:25832"},
        2,
        "look like degrees, not EPSG:25832 metres",
    ),
    "latitude/longitude with a projected --crs": (
        f"{HEADER}\nX-1;;A;;51.5;7.3;\n".encode(),
        {"crs": "EPSG:25832"},
        2,
        "columns x and y",
    ),
    "an asset id another pole holds": (
        f"{HEADER}\nX-1;Mast 1;A;;;;\n".encode(),
        {},
        2,
        "asset id 'Mast 1' belongs to pole CR-0001",
    ),
    "a header naming a column twice": (b"pole_id;name;Name\n", {}, 1, "twice"),
    # strict CSV: text after a closing quote in the header (was a 500 in the API)
    "a stray quote in the header": (b'pole_id;"name"x\nX-1;A\n', {}, 1, "not readable as CSV"),
    "a --map column not in the file": (
        csv_with("X-1;;A;;;;").encode(),
        {"mapping": {"name": "BEZEICHNUNG"}},
        1,
        "BEZEICHNUNG",
    ),
    "an empty file": (b"", {}, 1, "empty"),
    "an unsupported encoding": (b"pole_id\nX-1\n", {"encoding": "utf-7"}, None, "utf-7"),
    "connectors without ev": (
        b"pole_id;capabilities;ev_connectors\nX-1;light;2\n",
        {},
        2,
        "lack ev",
    ),
    "connector count and ids disagree": (
        b"pole_id;ev_connectors;ev_connector_ids\nX-1;2;1|2|3\n",
        {},
        2,
        "says 2 but ev_connector_ids lists 3",
    ),
    "unknown plug": (
        b"pole_id;ev_connectors;ev_plug_type\nX-1;1;Type 9\n",
        {},
        2,
        "unknown value 'Type 9'",
    ),
    "connector power out of range": (
        b"pole_id;ev_connectors;ev_max_power_kw\nX-1;1;9000\n",
        {},
        2,
        "outside 0..400 kW",
    ),
    "an ambiguous date": (b"pole_id;commissioned_on\nX-1;02/03/2024\n", {}, 2, "not a date"),
    "lamp rating zero": (b"pole_id;lamp_rated_power_w\nX-1;0\n", {}, 2, "more than 0 W"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_hostile_files(
    case: str, run_import: Importer, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    content, options, line, reason = FILE_CASES[case]
    report = run_import(content, **options)
    assert not report.written
    rejected = rows(report, "rejected")
    assert any(r["line"] == line and reason in r["reason"] for r in rejected), rejected
    assert snapshot(db) == seeded


def _collection(*features: Any) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def _point(pole_id: str, lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"pole_id": pole_id, **props},
    }


GOOD_FEATURE = _point("CR-0001", *WEST, name="Neu")
GEOJSON_CASES: dict[str, tuple[str, int | None, str]] = {
    "a single Feature": (json.dumps(GOOD_FEATURE), 1, "a GeoJSON Feature, not a FeatureCollection"),
    "an array of features": (json.dumps([GOOD_FEATURE]), 1, "a JSON array"),
    "a geometry": ('{"type": "Point", "coordinates": [7.3, 51.5]}', 1, "a GeoJSON Point"),
    "no type": ('{"features": []}', 1, "not a GeoJSON FeatureCollection"),
    "not JSON": ("pole_id;name\n", 1, "not JSON"),
    "truncated": (_collection(GOOD_FEATURE)[:-10], 1, "invalid JSON"),
    "NaN": (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", '
        '"geometry": {"type": "Point", "coordinates": [NaN, 51.5]}, "properties": {}}]}',
        1,
        "NaN",
    ),
    "a duplicate key": (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
        '"properties": {"pole_id": "X-1", "pole_id": "X-2"}}]}',
        1,
        "appears twice",
    ),
    "trailing garbage": (_collection(GOOD_FEATURE) + " {}", 1, "text after the end"),
    "a polygon": (
        _collection(
            GOOD_FEATURE,
            {
                "type": "Feature",
                "properties": {"pole_id": "X-1"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[7.3, 51.5], [7.31, 51.5], [7.3, 51.51], [7.3, 51.5]]],
                },
            },
        ),
        1,
        "must be a Point, not Polygon",
    ),
    "a feature that is not a Feature": (
        _collection(GOOD_FEATURE, {"type": "Point", "coordinates": [7.3, 51.5]}),
        1,
        "a Point, not a Feature",
    ),
    "feature id and pole_id differ": (
        _collection({**_point("X-1", *WEST), "id": "X-2"}),
        1,
        "differ",
    ),
    "an unknown crs": (
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:999999"}},
                "features": [GOOD_FEATURE],
            }
        ),
        None,
        "unknown coordinate reference system",
    ),
}


@pytest.mark.parametrize("case", sorted(GEOJSON_CASES))
def test_hostile_geojson(
    case: str, run_import: Importer, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    content, line, reason = GEOJSON_CASES[case]
    report = run_import(content, "poles.geojson", format="geojson")
    assert not report.written
    rejected = rows(report, "rejected")
    assert any(r["line"] == line and reason in r["reason"] for r in rejected), rejected
    assert snapshot(db) == seeded


def _import_in_a_process(path: Path, database_url: str, *args: str) -> tuple[str, float]:
    """Run `smartpole poles import` as its own process; (its output, its peak RSS in MiB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    env["SMARTPOLE_DATABASE_URL"] = database_url
    run = run_measured(["poles", "import", str(path), *args], env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.peak_mib > 0
    return run.stdout, run.peak_mib


HUGE_BYTES = 200 * 1024 * 1024
# The command with a small file peaks at about 80 MiB; reading 200 MB into
# memory (let alone parsing it) would take far more than this.
RSS_LIMIT_MIB = 150


def test_a_200_mb_geojson_is_streamed_in_bounded_memory(
    tmp_path: Path, database_url: str, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    """200 features of about 1 MB each (a scanned document pasted into an
    attribute): every one is read, each is rejected, memory stays flat."""
    path = tmp_path / "huge.geojson"
    blob = "x" * (HUGE_BYTES // 200 - 200)
    with path.open("w", encoding="utf-8") as f:
        f.write('{"type": "FeatureCollection", "features": [\n')
        for n in range(200):
            feature = _point(f"BIG-{n:03d}", *WEST, **{"internal.scan": blob})
            f.write(("," if n else "") + json.dumps(feature) + "\n")
        f.write("]}\n")
    assert path.stat().st_size > HUGE_BYTES - 1024 * 1024
    output, peak_mib = _import_in_a_process(path, database_url)
    assert "0 created, 0 updated, 0 unchanged, 200 rejected" in output, output[:2000]
    assert "feature 200" in output and "longer than 1000 characters" in output
    assert peak_mib < RSS_LIMIT_MIB, f"peak RSS {peak_mib:.0f} MiB"
    assert snapshot(db) == seeded


def test_a_200_mb_line_stops_after_the_first_mebibyte(
    tmp_path: Path, database_url: str, db: psycopg.Connection[Any], seeded: dict[str, Any]
) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.write(b"pole_id;notes\nX-1;")
        chunk = b"a" * (1024 * 1024)
        for _ in range(200):
            f.write(chunk)
        f.write(b"\n")
    output, peak_mib = _import_in_a_process(path, database_url)
    assert "line 2 is longer than 1024 KiB" in output, output
    assert peak_mib < RSS_LIMIT_MIB, f"peak RSS {peak_mib:.0f} MiB"
    assert snapshot(db) == seeded
