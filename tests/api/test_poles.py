"""Poles: filters, keyset paging, detail, GeoJSON, caching, license, CORS."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.api.conftest import problem, register_pole


def seed(db: psycopg.Connection[Any]) -> None:
    register_pole(db, "A1", district="Mitte", lat=52.52, lon=13.40, capabilities=("env", "ev"))
    register_pole(db, "A2", district="Mitte", lat=52.53, lon=13.41, capabilities=("light",))
    register_pole(db, "B1", district="Pankow", lat=52.57, lon=13.41, capabilities=("env",))
    register_pole(db, "C1")  # no location yet


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [p["pole_id"] for p in response.json()["items"]]


def test_filters(client: httpx.Client, db: psycopg.Connection[Any]) -> None:
    seed(db)
    assert ids(client.get("/v1/poles")) == ["A1", "A2", "B1", "C1"]
    assert ids(client.get("/v1/poles", params={"district": "Mitte"})) == ["A1", "A2"]
    assert ids(client.get("/v1/poles", params={"capability": "env"})) == ["A1", "B1"]
    box = {"bbox": "13.39,52.51,13.42,52.535"}
    assert ids(client.get("/v1/poles", params=box)) == ["A1", "A2"]
    assert ids(client.get("/v1/poles", params={**box, "capability": "ev"})) == ["A1"]


def test_keyset_pages_follow_next_links(client: httpx.Client, db: psycopg.Connection[Any]) -> None:
    for n in range(25):
        register_pole(db, f"P{n:03d}")
    url: str | None = "/v1/poles?limit=10"
    seen: list[str] = []
    while url:
        response = client.get(url)
        seen += ids(response)
        url = response.json()["next"]
    assert seen == [f"P{n:03d}" for n in range(25)]


def test_detail_and_unknown_pole(client: httpx.Client, db: psycopg.Connection[Any]) -> None:
    seed(db)
    body = client.get("/v1/poles/A1").json()
    assert body["pole"]["district"] == "Mitte" and body["license"]["id"] == "DL-DE-BY-2.0"
    assert "CR-9" in problem(client.get("/v1/poles/CR-9"), 404)["detail"]
    problem(client.get("/v1/poles/bad%20id"), 422)
    problem(client.get("/v1/poles/" + "x" * 65), 422)


def test_geojson_feature_collection(client: httpx.Client, db: psycopg.Connection[Any]) -> None:
    seed(db)
    response = client.get("/v1/poles.geojson", params={"district": "Mitte"})
    assert response.headers["content-type"].startswith("application/geo+json")
    doc = response.json()
    assert doc["type"] == "FeatureCollection" and doc["license"]["id"] == "DL-DE-BY-2.0"
    assert [f["id"] for f in doc["features"]] == ["A1", "A2"]
    assert doc["features"][0]["geometry"] == {"type": "Point", "coordinates": [13.40, 52.52]}
    everything = client.get("/v1/poles.geojson").json()["features"]
    assert [f["geometry"] for f in everything if f["id"] == "C1"] == [None]
    assert client.get("/v1/poles.geojson", params={"district": "Nowhere"}).json()["features"] == []


def test_etag_cache_control_license_and_cors(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    seed(db)
    first = client.get("/v1/poles", headers={"Origin": "https://app.example.org"})
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert 'rel="license"' in first.headers["link"]
    assert first.headers["access-control-allow-origin"] == "https://app.example.org"
    again = client.get("/v1/poles", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    register_pole(db, "D1")
    changed = client.get("/v1/poles", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    other = client.get("/v1/poles", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_hostile_list_parameters(client: httpx.Client) -> None:
    for params in (
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "nan,0,1,1"},
        {"bbox": "0,0,1,inf"},
        {"bbox": "10,0,1,1"},
        {"bbox": "0,-91,1,1"},
        {"district": "\x00"},
        {"district": "x" * 101},
        {"capability": "teleport"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"cursor": "eyJ2IjoxLCJrIjoic2VyaWVzIiwiYSI6WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIl19"},
    ):
        problem(client.get("/v1/poles", params=params), 422)
    problem(client.get("/v1/nothing-here"), 404)
    problem(client.post("/v1/poles"), 405)
