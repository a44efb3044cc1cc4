"""Wi-Fi hotspots, and EU air-quality exceedances per pole and year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from models.topics import Family
from storage.readmodels.rebuild import set_reporting_interval
from tests.api.conftest import Put, problem, register_pole


def test_hotspots_state_and_load(
    client: httpx.Client, put: Put, db: psycopg.Connection[Any]
) -> None:
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    put("W1", Family.WIFI, {"dateObserved": t0.isoformat(), "status": "up", "connectedClients": 4})
    put(
        "W1",
        Family.WIFI,
        {
            "dateObserved": (t0 + timedelta(minutes=1)).isoformat(),
            "status": "degraded",
            "connectedClients": 9,
        },
    )
    put(
        "W2", Family.WIFI, {"dateObserved": t0.isoformat(), "status": "down", "connectedClients": 0}
    )
    register_pole(db, "W2", district="Mitte", lat=52.5, lon=13.4)
    items = client.get("/v1/wifi/hotspots").json()["items"]
    assert [(h["pole_id"], h["status"], h["connected_clients"]) for h in items] == [
        ("W1", "degraded", 9),
        ("W2", "down", 0),
    ]
    down = client.get("/v1/wifi/hotspots", params={"status": "down", "district": "Mitte"}).json()
    assert [h["pole_id"] for h in down["items"]] == ["W2"]
    problem(client.get("/v1/wifi/hotspots", params={"status": "sideways"}), 422)


def hourly(put: Put, pole: str, start: datetime, hours: int, **means: float) -> None:
    """One reading an hour with these values, through the writer: the pole reports
    hourly means (its reporting interval is 3600 s), so each is a valid hour."""
    put(
        pole,
        Family.ENV,
        [{"dateObserved": (start + timedelta(hours=h)).isoformat(), **means} for h in range(hours)],
    )


def test_eu_limit_exceedances(client: httpx.Client, put: Put, db: psycopg.Connection[Any]) -> None:
    register_pole(db, "AQ1", district="Mitte")
    register_pole(db, "AQ2", district="Pankow")
    set_reporting_interval(db, "AQ1", 3600)
    berlin_day = datetime(2026, 2, 9, 23, tzinfo=UTC)  # 10 February, local
    hourly(put, "AQ1", berlin_day, 24, pm10=51.0, no2=10.0, o3=10.0)  # PM10 day over 50
    hourly(put, "AQ1", berlin_day + timedelta(days=1), 24, pm10=50.0)  # exactly 50: not over
    hourly(put, "AQ1", berlin_day + timedelta(days=2), 17, pm10=90.0)  # 17 h: no valid daily mean
    hourly(put, "AQ1", berlin_day + timedelta(days=3), 3, no2=201.0)  # three NO2 hours
    # O3: 8 hours of 125 ending 24:00 on 20 June count for 20 June; an 8-hour mean
    # needs 6 hourly values, so 5 hours on 22 June do not.
    june_20_1600 = datetime(2026, 6, 20, 14, tzinfo=UTC)
    hourly(put, "AQ1", june_20_1600, 8, o3=125.0)
    hourly(put, "AQ1", june_20_1600 + timedelta(days=2), 5, o3=125.0)
    hourly(put, "AQ1", datetime(2025, 12, 31, tzinfo=UTC), 24, pm10=80.0)  # a 2025 day, local
    # 10 September 18:00-24:00 at 125, then 00:00-02:00 at 100: the window ending
    # at 01:00 on the 11th (17:00-01:00, 7 hours) averages 121.4, so the 11th
    # counts too, although none of its own hours is over the target.
    hourly(put, "AQ1", datetime(2026, 9, 10, 16, tzinfo=UTC), 6, o3=125.0)
    hourly(put, "AQ1", datetime(2026, 9, 10, 22, tzinfo=UTC), 2, o3=100.0)
    for tz in ("Europe/Berlin", "Europe/Paris"):  # the daily rollup, and hours grouped here
        body = client.get("/v1/air-quality/exceedances", params={"year": 2026, "tz": tz}).json()
        by_pole = {i["pole_id"]: i for i in body["items"]}
        assert by_pole["AQ1"]["pm10_days_over_limit"] == 1, tz
        assert by_pole["AQ1"]["no2_hours_over_limit"] == 3, tz
        assert by_pole["AQ1"]["o3_days_over_target"] == 3, tz
    # At the catalogue's 60 s cadence one reading is not a valid hour: nothing counts.
    set_reporting_interval(db, "AQ1", None)
    body = client.get("/v1/air-quality/exceedances", params={"year": 2026}).json()
    assert {i["pole_id"]: i["pm10_days_over_limit"] for i in body["items"]}["AQ1"] == 0
    assert by_pole["AQ2"]["pm10_days_over_limit"] == 0 and by_pole["AQ2"]["pm10_days_allowed"] == 35
    pankow = client.get("/v1/air-quality/exceedances", params={"year": 2026, "district": "Pankow"})
    assert [i["pole_id"] for i in pankow.json()["items"]] == ["AQ2"]
    paged = client.get("/v1/air-quality/exceedances", params={"year": 2026, "limit": 1}).json()
    assert [i["pole_id"] for i in client.get(paged["next"]).json()["items"]] == ["AQ2"]
    problem(client.get("/v1/air-quality/exceedances", params={"year": 1999}), 422)
    problem(client.get("/v1/air-quality/exceedances", params={"tz": "Nowhere/City"}), 422)
