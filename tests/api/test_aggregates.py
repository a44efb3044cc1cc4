"""City-wide and per-district aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from models.topics import Family
from tests.api.conftest import Put, problem, register_pole

DAY = datetime(2026, 3, 28, 23, tzinfo=UTC)  # 29 March 00:00 in Berlin: a 23-hour day


def test_district_and_city_daily_averages(
    client: httpx.Client, put: Put, db: psycopg.Connection[Any]
) -> None:
    register_pole(db, "A1", district="Mitte")
    register_pole(db, "A2", district="Mitte")
    register_pole(db, "B1", district="Pankow")
    register_pole(db, "X1")  # no district
    for pole, value, every in (("A1", 10.0, 1), ("A2", 40.0, 2), ("B1", 20.0, 1), ("X1", 5.0, 1)):
        put(
            pole,
            Family.ENV,
            [
                {"dateObserved": (DAY + timedelta(hours=h)).isoformat(), "pm10": value}
                for h in range(0, 23, every)
            ],
        )
    window = {"from": "2026-03-29T00:00:00+01:00", "to": "2026-03-30T00:00:00+02:00"}
    body = client.get("/v1/aggregates/env/pm10", params=window).json()
    by_group = {p["group"]: p["value"] for p in body["points"]}
    # Weighted by readings: A1 has 23 readings of 10, A2 12 of 40.
    assert by_group["Mitte"] == (23 * 10 + 12 * 40) / 35
    assert by_group["Pankow"] == 20.0 and by_group[None] == 5.0
    assert {p["time"] for p in body["points"]} == {"2026-03-29T00:00:00+01:00"}
    city = client.get(
        "/v1/aggregates/env/pm10", params={**window, "group": "city", "agg": "count"}
    ).json()
    assert [(p["group"], p["value"]) for p in city["points"]] == [("city", 23 + 12 + 23 + 23)]
    # Pages of one group each, in (time, group) order, nothing lost.
    url: str | None = "/v1/aggregates/env/pm10"
    params: dict[str, str] | None = {**window, "limit": "1"}
    groups = []
    while url:
        page = client.get(url, params=params).json()
        groups += [p["group"] for p in page["points"]]
        url, params = page["next"], None
    assert groups == [None, "Mitte", "Pankow"]


def test_raw_family_aggregates_and_errors(client: httpx.Client, put: Put) -> None:
    put(
        "P1",
        Family.WIFI,
        [
            {
                "dateObserved": (DAY + timedelta(minutes=m)).isoformat(),
                "status": "up",
                "connectedClients": 3,
            }
            for m in range(0, 120, 10)
        ],
    )
    body = client.get(
        "/v1/aggregates/wifi/connected_clients",
        params={
            "group": "city",
            "interval": "hour",
            "agg": "sum",
            "from": DAY.isoformat(),
            "to": (DAY + timedelta(hours=2)).isoformat(),
        },
    ).json()
    assert [p["value"] for p in body["points"]] == [18.0, 18.0]
    problem(client.get("/v1/aggregates/env/nope"), 404)
    problem(client.get("/v1/aggregates/env/pm10", params={"interval": "raw"}), 422)
    problem(client.get("/v1/aggregates/env/pm10", params={"group": "street"}), 422)
