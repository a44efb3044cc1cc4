"""Admin registry endpoints: API key required (401/403), precise validation."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from config.services import ApiSettings
from tests.api.conftest import ADMIN_KEY, problem, run_api

KEY = {"X-API-Key": ADMIN_KEY}
POLE = {
    "name": "Schlossplatz 1",
    "district": "Mitte",
    "latitude": 52.5163,
    "longitude": 13.3777,
    "capabilities": ["env", "ev"],
    "notes": "Ladesäule seit Mai",
}


def test_put_creates_then_replaces_and_patch_changes_fields(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    created = client.put("/v1/admin/poles/CR-0001", json=POLE, headers=KEY)
    assert created.status_code == 201, created.text
    assert created.json()["pole"]["capabilities"] == ["env", "ev"]
    replaced = client.put("/v1/admin/poles/CR-0001", json={"district": "Pankow"}, headers=KEY)
    assert replaced.status_code == 200
    assert replaced.json()["pole"]["name"] is None and replaced.json()["pole"]["capabilities"] == []
    patched = client.patch(
        "/v1/admin/poles/CR-0001", json={"notes": "Lampe getauscht"}, headers=KEY
    )
    assert patched.json()["pole"]["notes"] == "Lampe getauscht"
    assert patched.json()["pole"]["district"] == "Pankow"
    public = client.get("/v1/poles/CR-0001").json()["pole"]
    assert public["notes"] == "Lampe getauscht"
    row = db.execute("SELECT district FROM poles WHERE pole_id = 'CR-0001'").fetchone()
    assert row == ("Pankow",)
    problem(client.patch("/v1/admin/poles/NOPE", json={"notes": "x"}, headers=KEY), 404)


def test_keys_are_checked(client: httpx.Client) -> None:
    assert "X-API-Key" in problem(client.put("/v1/admin/poles/P1", json=POLE), 401)["detail"]
    problem(client.put("/v1/admin/poles/P1", json=POLE, headers={"X-API-Key": "wrong"}), 403)
    problem(
        client.patch("/v1/admin/poles/P1", json=POLE, headers={"X-API-Key": "é".encode("latin-1")}),
        403,
    )
    # Public reads never need one.
    assert client.get("/v1/poles").status_code == 200


def test_admin_is_refused_when_no_key_is_configured(database_url: str) -> None:
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0)
    with run_api(settings) as running, httpx.Client(base_url=running.url) as http:
        doc = problem(http.put("/v1/admin/poles/P1", json=POLE, headers=KEY), 403)
        assert "SMARTPOLE_API_ADMIN_KEYS" in doc["detail"]


def test_hostile_bodies_are_422(client: httpx.Client) -> None:
    for body in (
        {"latitude": 91},
        {"longitude": "east"},
        {"capabilities": ["teleport"]},
        {"district": "\x00"},
        {"notes": "a\x00b"},
        {"unknown": 1},
        {"name": "x" * 201},
        [1, 2],
        "text",
    ):
        problem(client.put("/v1/admin/poles/P1", json=body, headers=KEY), 422)
    bad_json = client.put(
        "/v1/admin/poles/P1", content=b"{nope", headers={**KEY, "Content-Type": "application/json"}
    )
    problem(bad_json, 422)
    nan = client.put(
        "/v1/admin/poles/P1",
        content=b'{"latitude": NaN}',
        headers={**KEY, "Content-Type": "application/json"},
    )
    problem(nan, 422)
    problem(client.put("/v1/admin/poles/bad%20id", json=POLE, headers=KEY), 422)
