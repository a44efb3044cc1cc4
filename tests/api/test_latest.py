"""Latest readings: the newest device timestamp wins, never the last received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from models.topics import Family
from tests.api.conftest import Put, problem, register_pole

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def test_a_late_backlog_does_not_replace_the_newest_value(client: httpx.Client, put: Put) -> None:
    put("P1", Family.ENV, {"dateObserved": at(10), "pm10": 20.0})
    # Arrives later (a backlog after an outage) but was measured earlier.
    put(
        "P1",
        Family.ENV,
        [{"dateObserved": at(m), "pm10": 99.0} for m in range(10)],
        received_at=T0 + timedelta(hours=2),
    )
    put("P1", Family.EV, {"dateObserved": at(5), "status": "Charging"}, connector=1)
    put(
        "P1",
        Family.EV,
        {"dateObserved": at(1), "status": "Faulted"},
        connector=1,
        received_at=T0 + timedelta(hours=2),
    )
    put("P1", Family.EV, {"dateObserved": at(2), "status": "Available"}, connector=2)
    put("P1", Family.LIGHT, {"dateObserved": at(3), "powerState": "on", "status": "ok"})
    body = client.get("/v1/poles/P1/latest").json()
    assert body["env"]["pm10"] == 20.0
    assert body["env"]["observed_at"] == "2026-11-20T12:10:00Z"
    assert [(c["connector_id"], c["status"]) for c in body["ev"]] == [
        (1, "Charging"),
        (2, "Available"),
    ]
    assert body["light"]["power_state"] == "on" and body["wifi"] is None
    city = client.get("/v1/latest", params={"family": "env"}).json()
    assert [(i["pole_id"], i["reading"]["pm10"]) for i in city["items"]] == [("P1", 20.0)]


def test_city_latest_pages_and_filters(
    client: httpx.Client, put: Put, db: psycopg.Connection[Any]
) -> None:
    for n in range(7):
        put(f"P{n}", Family.WIFI, {"dateObserved": at(n), "status": "up", "connectedClients": n})
    register_pole(db, "P3", district="Mitte")
    register_pole(db, "P-silent", district="Mitte")  # never sent wifi: left out
    url: str | None = "/v1/latest?family=wifi&limit=3"
    seen = []
    while url:
        page = client.get(url).json()
        seen += [i["reading"]["connected_clients"] for i in page["items"]]
        url = page["next"]
    assert seen == list(range(7))
    mitte = client.get("/v1/latest", params={"family": "wifi", "district": "Mitte"}).json()
    assert [i["pole_id"] for i in mitte["items"]] == ["P3"]


def test_unknown_pole_and_bad_family(client: httpx.Client) -> None:
    problem(client.get("/v1/poles/NOPE/latest"), 404)
    problem(client.get("/v1/latest", params={"family": "ev"}), 422)
    problem(client.get("/v1/latest", params={"family": "x"}), 422)
