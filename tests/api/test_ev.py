"""EV charging: current connector status, nearest available, sessions, energy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from models.topics import Family
from tests.api.conftest import Put, problem, register_pole

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def seed(put: Put, db: psycopg.Connection[Any]) -> None:
    register_pole(db, "NEAR", district="Mitte", lat=52.5200, lon=13.4050)
    register_pole(db, "MID", district="Mitte", lat=52.5300, lon=13.4050)
    register_pole(db, "FAR", district="Pankow", lat=52.6000, lon=13.4050)
    put("NEAR", Family.EV, {"dateObserved": at(0), "status": "Available"}, connector=1)
    put("NEAR", Family.EV, {"dateObserved": at(5), "status": "Charging"}, connector=1)
    put("MID", Family.EV, {"dateObserved": at(5), "status": "Available"}, connector=1)
    put(
        "MID",
        Family.EV,
        {"dateObserved": at(5), "status": "Faulted", "errorCode": "GroundFailure"},
        connector=2,
    )
    put("FAR", Family.EV, {"dateObserved": at(5), "status": "Available"}, connector=1)


def test_where_can_i_charge_now(
    client: httpx.Client, put: Put, db: psycopg.Connection[Any]
) -> None:
    seed(put, db)
    available = client.get("/v1/ev/connectors", params={"status": "Available"}).json()
    assert [(c["pole_id"], c["connector_id"]) for c in available["items"]] == [
        ("FAR", 1),
        ("MID", 1),
    ]
    nearest = client.get(
        "/v1/ev/connectors",
        params={"status": "Available", "lat": 52.5201, "lon": 13.4050, "limit": 1},
    ).json()
    [first] = nearest["items"]
    assert first["pole_id"] == "MID" and 1000 < first["distance_m"] < 1200
    second = client.get(nearest["next"]).json()["items"]
    assert [c["pole_id"] for c in second] == ["FAR"]
    within = client.get(
        "/v1/ev/connectors", params={"lat": 52.52, "lon": 13.405, "max_distance_m": 1500}
    ).json()
    assert {c["pole_id"] for c in within["items"]} == {"NEAR", "MID"}
    assert len(client.get("/v1/ev/connectors", params={"district": "Pankow"}).json()["items"]) == 1


def test_sessions_and_energy(client: httpx.Client, put: Put, db: psycopg.Connection[Any]) -> None:
    register_pole(db, "P1", district="Mitte")
    readings = [
        {"dateObserved": at(0), "status": "Available", "totalActiveEnergyImport": 100.0},
        {
            "dateObserved": at(10),
            "status": "Charging",
            "chargingPower": 11.0,
            "totalActiveEnergyImport": 100.0,
            "transactionId": "tx-1",
        },
        {
            "dateObserved": at(70),
            "status": "Charging",
            "chargingPower": 10.5,
            "totalActiveEnergyImport": 111.0,
            "transactionId": "tx-1",
        },
        {"dateObserved": at(80), "status": "Finishing", "totalActiveEnergyImport": 112.5},
    ]
    put("P1", Family.EV, readings, connector=1)
    window = {"from": T0.isoformat(), "to": (T0 + timedelta(days=1)).isoformat()}
    [session] = client.get("/v1/ev/sessions", params=window).json()["items"]
    assert session["transaction_id"] == "tx-1" and session["energy_kwh"] == 11.0
    assert session["peak_power_kw"] == 11.0 and session["readings"] == 2
    energy = client.get(
        "/v1/ev/energy", params={**window, "interval": "day", "group": "district"}
    ).json()
    assert [(e["group"], e["energy_kwh"]) for e in energy["items"]] == [("Mitte", 12.5)]
    hourly = client.get("/v1/ev/energy", params={**window, "interval": "hour", "group": "pole"})
    assert sum(e["energy_kwh"] for e in hourly.json()["items"]) == 12.5


def test_subnormal_coordinates_do_not_break_distance_math(
    client: httpx.Client, put: Put, db: psycopg.Connection[Any]
) -> None:
    seed(put, db)
    register_pole(db, "TINY", lat=1e-300, lon=-1e-300)  # found by schemathesis: float underflow
    put("TINY", Family.EV, {"dateObserved": at(1), "status": "Available"}, connector=1)
    for lat, lon in (("5e-324", "5e-324"), ("-90", "180"), ("-52.52", "-166.595")):
        response = client.get("/v1/ev/connectors", params={"lat": lat, "lon": lon})
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == 5


def test_bad_ev_parameters(client: httpx.Client) -> None:
    for params in (
        {"lat": "52"},
        {"lat": "91", "lon": "0"},
        {"lat": "nan", "lon": "0"},
        {"max_distance_m": "5"},
        {"status": "Broken"},
        {"pole_id": "bad id"},
        {"cursor": "eyJ2IjoxLCJrIjoiY29ubmVjdG9ycyIsImEiOlsxLCJhIiwiYiJdfQ"},
    ):
        problem(client.get("/v1/ev/connectors", params=params), 422)
    problem(client.get("/v1/ev/energy", params={"group": "street"}), 422)
    problem(
        client.get(
            "/v1/ev/sessions", params={"from": "2027-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
        ),
        422,
    )
