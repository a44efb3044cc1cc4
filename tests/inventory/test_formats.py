"""Each format a city's GIS exports, imported into the real database: what the
report says, what is stored, idempotency and the export round trip."""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pyproj

from inventory.export import export_registry
from inventory.geo import CityArea
from tests.inventory.conftest import EAST, WEST, Importer, pole, rows, snapshot

CSV_SEMICOLON = (
    "\ufeffpole_id;asset_id;name;district;latitude;longitude;capabilities;ev_connectors;"
    "ev_max_power_kw;ev_plug_type;lamp_rated_power_w;commissioned_on;notes;public.height_m;"
    "internal.contract\r\n"
    "CR-0001;Mast 12/345;Marktplatz 1;;51,55;7,29;env,light,ev;2;22|11;Type2;56;17.05.2024;"
    '"Ladesäule\nseit Mai";8;W-2024-17\r\n'
    "CR-0002;Mast 12/346;Bahnhofstraße 3;East;51.56;7.33;light;;;;72;2023-11-02;;;\r\n"
)


def test_csv_with_semicolons_bom_and_decimal_commas(
    run_import: Importer, db: psycopg.Connection[Any]
) -> None:
    report = run_import(CSV_SEMICOLON)
    assert report.written, report.as_dict()
    assert report.counts == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert report.delimiter == ";" and report.encoding == "utf-8"
    created = rows(report, "created")
    assert [(r["line"], r["pole_id"]) for r in created] == [(2, "CR-0001"), (4, "CR-0002")]
    assert created[0]["changes"]["district"] == {"old": None, "new": "West"}  # from the position
    first = pole(db, "CR-0001")
    assert first["asset_id"] == "Mast 12/345"
    assert (first["latitude"], first["longitude"]) == (51.55, 7.29)
    assert first["district"] == "West"
    assert first["capabilities"] == ["env", "ev", "light"]
    assert first["connectors"] == [
        {"connector_id": 1, "max_power_kw": 22, "plug_type": "Type2"},
        {"connector_id": 2, "max_power_kw": 11, "plug_type": "Type2"},
    ]
    assert first["lamp_rated_power_w"] == 56
    assert first["commissioned_on"] == "2024-05-17"
    assert first["notes"] == "Ladesäule\nseit Mai"
    assert first["properties"] == {"height_m": "8"}
    assert first["internal_properties"] == {"contract": "W-2024-17"}
    assert pole(db, "CR-0002")["district"] == "East"
    history = db.execute(
        "SELECT changed_by, source, changes ? 'asset_id' FROM pole_registry_history "
        "WHERE pole_id = 'CR-0001'"
    ).fetchall()
    assert len(history) == 1
    assert history[0][0] == "test-user"
    assert history[0][1].startswith("import poles.csv sha256:") and history[0][2]


def test_importing_the_same_file_again_changes_nothing(
    run_import: Importer, db: psycopg.Connection[Any]
) -> None:
    assert run_import(CSV_SEMICOLON).written
    before = snapshot(db)
    again = run_import(CSV_SEMICOLON)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    assert not rows(again, "updated") and again.written
    assert snapshot(db) == before  # not even a history row


def test_update_reports_the_field_diff_and_leaves_absent_columns_alone(
    run_import: Importer, db: psycopg.Connection[Any]
) -> None:
    run_import(CSV_SEMICOLON)
    # Only two columns: everything else of CR-0001 stays; an empty cell clears.
    report = run_import("pole_id,name,notes\nCR-0001,Marktplatz 2,\nCR-0002,Bahnhofstraße 3,\n")
    assert report.counts == {"created": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    (updated,) = rows(report, "updated")
    assert updated == {
        "line": 2,
        "row": 1,
        "pole_id": "CR-0001",
        "changes": {
            "name": {"old": "Marktplatz 1", "new": "Marktplatz 2"},
            "notes": {"old": "Ladesäule\nseit Mai", "new": None},
        },
    }
    after = pole(db, "CR-0001")
    assert after["name"] == "Marktplatz 2" and after["notes"] is None
    assert after["asset_id"] == "Mast 12/345" and len(after["connectors"]) == 2
    changes = db.execute(
        "SELECT changes FROM pole_registry_history WHERE pole_id = 'CR-0001' ORDER BY id"
    ).fetchall()
    assert changes[-1][0] == updated["changes"]
    # A pole the file leaves out is not deleted (nor touched).
    before = pole(db, "CR-0002")
    assert run_import("pole_id;name\nCR-0001;Marktplatz 3\n").counts["updated"] == 1
    assert pole(db, "CR-0002") == before


def test_comma_separated_windows_1252(run_import: Importer, db: psycopg.Connection[Any]) -> None:
    text = (
        'pole_id,name,latitude,longitude,capabilities\nCR-0007,Müllerstraße,51.56,7.33,"env,wifi"\n'
    )
    report = run_import(text.encode("cp1252"), encoding="cp1252")
    assert report.written and report.encoding == "cp1252" and report.delimiter == ","
    assert pole(db, "CR-0007")["name"] == "Müllerstraße"
    assert pole(db, "CR-0007")["capabilities"] == ["env", "wifi"]


def test_column_mapping_and_projected_coordinates(
    run_import: Importer, db: psycopg.Connection[Any]
) -> None:
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    x, y = to_utm.transform(*EAST)
    text = (
        "MAST_ID;BEZEICHNUNG;STADTTEIL;RECHTSWERT;HOCHWERT;LEISTUNG_W;EIGENTUEMER\n"
        f"CR-0100;Am Markt;East;{x:.2f};{y:.2f};39,5;Stadtwerke\n"
    )
    report = run_import(
        text,
        crs="EPSG:25832",
        mapping={
            "pole_id": "MAST_ID",
            "name": "BEZEICHNUNG",
            "district": "STADTTEIL",
            "x": "RECHTSWERT",
            "y": "HOCHWERT",
            "lamp_rated_power_w": "LEISTUNG_W",
        },
    )
    assert report.written, report.as_dict()
    assert report.crs == "EPSG:25832"
    assert any("EIGENTUEMER" in n and "internal" in n for n in report.notices)
    stored = pole(db, "CR-0100")
    assert abs(stored["longitude"] - EAST[0]) < 1e-7 and abs(stored["latitude"] - EAST[1]) < 1e-7
    assert stored["name"] == "Am Markt" and stored["lamp_rated_power_w"] == 39.5
    assert stored["internal_properties"] == {"EIGENTUEMER": "Stadtwerke"}
    assert stored["properties"] == {}


def _geojson(*features: dict[str, Any], **members: Any) -> str:
    return json.dumps({"type": "FeatureCollection", **members, "features": list(features)})


def _feature(pole_id: str, lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": pole_id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": props,
    }


def test_geojson_feature_collection(run_import: Importer, db: psycopg.Connection[Any]) -> None:
    text = _geojson(
        _feature("CR-0201", *WEST, name="Kirchplatz", capabilities=["env", "light", "ev"],
                 ev_connector_ids=[1, 2], ev_max_power_kw=[22, None], ev_plug_type="CCS/SAE",
                 **{"public.height_m": 9.5, "internal.note": {"since": 2019}}),
        _feature("CR-0202", *EAST, district="East", commissioned_on="2021-03-01"),
    )  # fmt: skip
    report = run_import(text, "poles.geojson")
    assert report.format == "geojson" and report.written, report.as_dict()
    # One line, two features
    assert [(r["line"], r["row"]) for r in rows(report, "created")] == [(1, 1), (1, 2)]
    first = pole(db, "CR-0201")
    assert first["connectors"] == [
        {"connector_id": 1, "max_power_kw": 22, "plug_type": "CCS/SAE"},
        {"connector_id": 2, "max_power_kw": None, "plug_type": "CCS/SAE"},
    ]
    assert first["properties"] == {"height_m": 9.5}  # JSON types kept
    assert first["internal_properties"] == {"note": {"since": 2019}}
    assert first["district"] == "West"
    assert pole(db, "CR-0202")["commissioned_on"] == "2021-03-01"


def test_geojson_in_utm_with_a_crs_member(
    run_import: Importer, db: psycopg.Connection[Any]
) -> None:
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    x, y = to_utm.transform(*WEST)
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25832"}}
    report = run_import(_geojson(_feature("CR-0300", x, y), crs=crs), "qgis.geojson")
    assert report.written and report.crs == "EPSG:25832", report.as_dict()
    assert abs(pole(db, "CR-0300")["longitude"] - WEST[0]) < 1e-7


def test_export_round_trips_in_both_formats(
    run_import: Importer, db: psycopg.Connection[Any], database_url: str
) -> None:
    run_import(CSV_SEMICOLON)
    run_import(_geojson(_feature("CR-0201", *WEST, ev_connectors=1, capabilities="ev")), "a.json")
    before = snapshot(db)
    for fmt in ("geojson", "csv"):
        out = io.BytesIO()
        with psycopg.connect(database_url) as conn:
            count, escaped = export_registry(conn, fmt, out)  # type: ignore[arg-type]
        assert (count, escaped) == (3, 0)
        report = run_import(out.getvalue(), f"export.{fmt}")
        assert report.counts == {"created": 0, "updated": 0, "unchanged": 3, "rejected": 0}, (
            fmt,
            report.as_dict(),
        )
        assert snapshot(db) == before


def test_without_districts_or_area_nothing_is_derived(
    run_import: Importer, db: psycopg.Connection[Any]
) -> None:
    report = run_import("pole_id;latitude;longitude\nP-1;48.1;11.5\n", area=CityArea())
    assert report.written
    assert pole(db, "P-1")["district"] is None
