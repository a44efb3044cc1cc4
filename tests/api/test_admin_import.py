"""The inventory through the admin API: POST /v1/admin/poles:import (the same
report as the CLI, all or nothing, key required, body size limited), the
registry history of every change, and what the public API then shows."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg

from config.services import ApiSettings
from tests.api.conftest import ADMIN_KEY, problem, run_api

KEY = {"X-API-Key": ADMIN_KEY}
CSV = (
    "pole_id;asset_id;name;latitude;longitude;capabilities;ev_connectors;ev_max_power_kw;"
    "ev_plug_type;lamp_rated_power_w;public.height_m;internal.contract\n"
    "CR-0001;Mast 12/345;Marktplatz 1;51,5523;7,3108;env,light,ev;2;22;Type2;56;8;W-17\n"
    "CR-0002;;Bahnhof;51.56;7.33;light;;;;72;;\n"
)


def _import(
    client: httpx.Client, body: str | bytes, media: str = "text/csv", **params: Any
) -> httpx.Response:
    return client.post(
        "/v1/admin/poles:import",
        content=body,
        params=params,
        headers={**KEY, "Content-Type": media},
    )


def test_import_dry_run_then_write_then_read_publicly(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    dry = _import(client, CSV, dry_run="true", filename="leuchten.csv")
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0}
    assert not dry.json()["written"] and dry.headers["cache-control"] == "no-store"
    assert db.execute("SELECT count(*) FROM poles").fetchone() == (0,)

    done = _import(client, CSV, filename="leuchten.csv")
    report = done.json()
    assert done.status_code == 200 and report["written"], done.text
    assert report["source"] == "leuchten.csv" and report["format"] == "csv"
    assert report["created"][0]["changes"]["asset_id"] == {"old": None, "new": "Mast 12/345"}

    pole = client.get("/v1/poles/CR-0001").json()["pole"]
    assert pole["asset_id"] == "Mast 12/345" and pole["lamp_rated_power_w"] == 56
    assert pole["connectors"] == [
        {"connector_id": 1, "max_power_kw": 22.0, "plug_type": "Type2"},
        {"connector_id": 2, "max_power_kw": 22.0, "plug_type": "Type2"},
    ]
    assert pole["properties"] == {"height_m": "8"}
    assert "internal_properties" not in pole and "W-17" not in json.dumps(pole)
    found = client.get("/v1/poles", params={"asset_id": "Mast 12/345"}).json()["items"]
    assert [p["pole_id"] for p in found] == ["CR-0001"]
    geojson = client.get("/v1/poles.geojson").json()
    assert all(f["geometry"]["type"] == "Point" for f in geojson["features"])
    assert "W-17" not in json.dumps(geojson)

    again = _import(client, CSV)
    assert again.json()["counts"]["unchanged"] == 2 and again.json()["written"]

    history = client.get("/v1/admin/poles/CR-0001/history", headers=KEY).json()
    (created,) = history["items"]
    assert created["changed_by"] == "admin-key:default"  # SMARTPOLE_API_KEY is "default"
    assert created["source"].startswith("import leuchten.csv sha256:")


def test_geojson_body(client: httpx.Client) -> None:
    body = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "CR-0009",
                "geometry": {"type": "Point", "coordinates": [7.31, 51.55]},
                "properties": {"district": "Altstadt"},
            }
        ],
    }
    done = _import(client, json.dumps(body), "application/geo+json")
    assert done.status_code == 200 and done.json()["format"] == "geojson", done.text
    assert client.get("/v1/poles/CR-0009").json()["pole"]["district"] == "Altstadt"


def test_a_rejected_import_is_422_with_the_report_and_writes_nothing(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    bad = CSV + 'CR-0003;;=HYPERLINK("http://evil");51.5;7.3;;;;;;;\n'
    doc = problem(_import(client, bad), 422)
    assert doc["title"] == "Import rejected" and "nothing was written" in doc["detail"]
    (rejected,) = doc["report"]["rejected"]
    assert rejected["line"] == 4 and "formula" in rejected["reason"]
    assert doc["report"]["counts"]["created"] == 2 and not doc["report"]["written"]
    assert db.execute("SELECT count(*) FROM poles").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM pole_registry_history").fetchone() == (0,)
    # A dry run reports the same, as a 200.
    dry = _import(client, bad, dry_run="true")
    assert dry.status_code == 200 and dry.json()["counts"]["rejected"] == 1


def test_import_needs_the_key_and_valid_options(client: httpx.Client) -> None:
    anonymous = client.post("/v1/admin/poles:import", content=CSV)
    problem(anonymous, 401)
    wrong = client.post("/v1/admin/poles:import", content=CSV, headers={"X-API-Key": "nope"})
    problem(wrong, 403)
    assert "crs" in problem(_import(client, CSV, crs="EPSG:0"), 422)["errors"][0]["parameter"]
    problem(_import(client, CSV, encoding="utf-7"), 422)
    problem(_import(client, CSV, map="colour=FARBE"), 422)
    problem(_import(client, CSV, filename="../../etc/passwd"), 422)
    empty = problem(_import(client, b""), 422)
    assert "empty" in empty["report"]["rejected"][0]["reason"]


def test_the_body_size_is_limited(database_url: str) -> None:
    settings = ApiSettings(
        database_url=database_url,
        api_key=ADMIN_KEY,  # type: ignore[arg-type]
        api_cache_ttl_s=0,
        api_max_import_bytes=1024,
    )
    big = CSV + "".join(f"P-{n};;;;;;;;;;;\n" for n in range(200))
    with run_api(settings) as running, httpx.Client(base_url=running.url) as http:
        declared = http.post(
            "/v1/admin/poles:import", content=big, headers={**KEY, "Content-Type": "text/csv"}
        )
        assert "SMARTPOLE_API_MAX_IMPORT_BYTES" in problem(declared, 413)["detail"]

        def chunks() -> Any:  # no Content-Length: the limit holds while streaming
            yield big.encode()[:1000]
            yield big.encode()[1000:]

        streamed = http.post(
            "/v1/admin/poles:import", content=chunks(), headers={**KEY, "Content-Type": "text/csv"}
        )
        problem(streamed, 413)
        assert http.get("/v1/poles").json()["items"] == []


def test_admin_put_and_patch_are_recorded_in_the_history(client: httpx.Client) -> None:
    client.put(
        "/v1/admin/poles/CR-0100", json={"name": "Kirche", "district": "Ickern"}, headers=KEY
    )
    client.patch("/v1/admin/poles/CR-0100", json={"district": "Rauxel"}, headers=KEY)
    client.patch("/v1/admin/poles/CR-0100", json={"district": "Rauxel"}, headers=KEY)  # no change
    page = client.get("/v1/admin/poles/CR-0100/history", params={"limit": 1}, headers=KEY).json()
    assert page["items"][0]["changes"] == {
        "name": {"old": None, "new": "Kirche"},
        "district": {"old": None, "new": "Ickern"},
    }
    assert page["items"][0]["source"] == "admin-api"
    second = client.get(page["next"], headers=KEY).json()
    assert second["items"][0]["changes"] == {"district": {"old": "Ickern", "new": "Rauxel"}}
    assert client.get(second["next"], headers=KEY).json()["items"] == []
    problem(client.get("/v1/admin/poles/NOPE/history", headers=KEY), 404)
    problem(client.get("/v1/admin/poles/CR-0100/history"), 401)
