"""Wi-Fi hotspots, and EU air-quality exceedances per pole and year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from models.topics import Family
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


def hourly(
    db: psycopg.Connection[Any], pole: str, start: datetime, hours: int, **means: float
) -> None:
    """Rows of the hourly rollup with the given hourly means (one reading each)."""
    for h in range(hours):
        db.execute(
            "INSERT INTO env_hourly (pole_id, bucket, readings, pm10_count, pm10_sum, no2_count, "
            "no2_sum, o3_count, o3_sum) VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (pole_id, bucket) DO UPDATE SET pm10_count = EXCLUDED.pm10_count, "
            "pm10_sum = EXCLUDED.pm10_sum, no2_count = EXCLUDED.no2_count, "
            "no2_sum = EXCLUDED.no2_sum, o3_count = EXCLUDED.o3_count, o3_sum = EXCLUDED.o3_sum",
            (
                pole,
                start + timedelta(hours=h),
                int("pm10" in means),
                means.get("pm10", 0.0),
                int("no2" in means),
                means.get("no2", 0.0),
                int("o3" in means),
                means.get("o3", 0.0),
            ),
        )


def test_eu_limit_exceedances(client: httpx.Client, db: psycopg.Connection[Any]) -> None:
    register_pole(db, "AQ1", district="Mitte")
    register_pole(db, "AQ2", district="Pankow")
    berlin_day = datetime(2026, 2, 9, 23, tzinfo=UTC)  # 10 February, local
    hourly(db, "AQ1", berlin_day, 24, pm10=51.0, no2=10.0, o3=10.0)  # PM10 day over 50
    hourly(db, "AQ1", berlin_day + timedelta(days=1), 24, pm10=50.0)  # exactly 50: not over
    hourly(db, "AQ1", berlin_day + timedelta(days=2), 17, pm10=90.0)  # 17 h: no valid daily mean
    hourly(db, "AQ1", berlin_day + timedelta(days=3), 3, no2=201.0)  # three NO2 hours
    # O3: 8 hours of 125 ending 24:00 on 20 June count for 20 June; an 8-hour mean
    # needs 6 hourly values, so 5 hours on 22 June do not.
    june_20_1600 = datetime(2026, 6, 20, 14, tzinfo=UTC)
    hourly(db, "AQ1", june_20_1600, 8, o3=125.0)
    hourly(db, "AQ1", june_20_1600 + timedelta(days=2), 5, o3=125.0)
    hourly(db, "AQ1", datetime(2025, 12, 31, tzinfo=UTC), 24, pm10=80.0)  # a 2025 day, local
    body = client.get("/v1/air-quality/exceedances", params={"year": 2026}).json()
    by_pole = {i["pole_id"]: i for i in body["items"]}
    assert by_pole["AQ1"]["pm10_days_over_limit"] == 1
    assert by_pole["AQ1"]["no2_hours_over_limit"] == 3
    assert by_pole["AQ1"]["o3_days_over_target"] == 1
    assert by_pole["AQ2"]["pm10_days_over_limit"] == 0 and by_pole["AQ2"]["pm10_days_allowed"] == 35
    pankow = client.get("/v1/air-quality/exceedances", params={"year": 2026, "district": "Pankow"})
    assert [i["pole_id"] for i in pankow.json()["items"]] == ["AQ2"]
    paged = client.get("/v1/air-quality/exceedances", params={"year": 2026, "limit": 1}).json()
    assert [i["pole_id"] for i in client.get(paged["next"]).json()["items"]] == ["AQ2"]
    problem(client.get("/v1/air-quality/exceedances", params={"year": 1999}), 422)
    problem(client.get("/v1/air-quality/exceedances", params={"tz": "Nowhere/City"}), 422)
