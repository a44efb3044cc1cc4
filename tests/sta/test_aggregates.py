"""Hourly and daily aggregate Datastreams (FROST-Server issue #26): the rollups
as Observations with phenomenonTime intervals, marked with
properties.aggregateDuration as Hamburg's platform marks them, agreeing with
/v1/poles/{id}/series/... for the same data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from models.topics import Family
from tests.api.conftest import Put, register_pole
from tests.sta.conftest import error, get

START = datetime(2026, 3, 28, 20, tzinfo=UTC)  # across the spring DST change in Berlin
HOURS = 40


@pytest.fixture
def readings(db: Any, put: Put) -> None:
    register_pole(db, "A1", district="Mitte", lat=52.5, lon=13.4, capabilities=("env",))
    payloads = [
        {
            "dateObserved": (START + timedelta(minutes=20 * i)).isoformat(),
            "pm10": 5.0 + (i * 7) % 23,
            "laeq": 40.0 + (i * 3) % 17,
            "lamax": 60.0 + i % 13,
        }
        for i in range(HOURS * 3)
    ]
    put("A1", Family.ENV, payloads)


def stream(client: httpx.Client, metric: str, duration: str) -> dict[str, Any]:
    (found,) = get(client, "Datastreams", **{
        "$filter": f"properties/poleId eq 'A1' and properties/metric eq '{metric}' and "
                   f"properties/aggregateDuration eq '{duration}'"})["value"]  # fmt: skip
    return found


def v1_points(client: httpx.Client, metric: str, interval: str, agg: str) -> dict[str, float]:
    response = client.get(
        f"/v1/poles/A1/series/env/{metric}",
        params={"interval": interval, "agg": agg, "from": "2026-03-27T00:00:00Z",
                "to": "2026-04-01T00:00:00Z", "limit": 1000},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return {
        datetime.fromisoformat(p["time"]).astimezone(UTC).isoformat(): p["value"]
        for p in response.json()["points"]
    }


@pytest.mark.parametrize(("metric", "agg"), [("pm10", "avg"), ("laeq", "avg"), ("lamax", "max")])
@pytest.mark.parametrize(("duration", "interval"), [("PT1H", "hour"), ("P1D", "day")])
def test_aggregates_agree_with_the_v1_series(  # noqa: PLR0917 - pytest passes them by name
    client: httpx.Client, readings: None, metric: str, agg: str, duration: str, interval: str
) -> None:
    ds = stream(client, metric, duration)
    assert ds["properties"]["aggregateDuration"] == duration
    assert ds["name"].endswith("hourly " + ("max" if agg == "max" else "mean")) or duration == "P1D"
    observations = get(client, f"Datastreams({ds['@iot.id']})/Observations",
                       **{"$top": 1000, "$orderby": "phenomenonTime"})["value"]  # fmt: skip
    expected = v1_points(client, metric, interval, agg)
    got = {}
    for o in observations:
        start, end = o["phenomenonTime"].split("/")
        begin = datetime.fromisoformat(start)
        finish = datetime.fromisoformat(end)
        if interval == "hour":
            assert finish - begin == timedelta(hours=1)
        got[begin.isoformat()] = o["result"]
        assert o["parameters"]["count"] > 0
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9), key
    if interval == "day":
        # 28 March 2026 is 24 hours, 29 March (DST) 23 hours in Berlin.
        spans = {o["phenomenonTime"] for o in observations}
        assert "2026-03-28T23:00:00Z/2026-03-29T22:00:00Z" in spans


def test_aggregate_observations_by_id_count_and_expand(
    client: httpx.Client, readings: None
) -> None:
    ds = stream(client, "pm10", "PT1H")
    page = get(client, f"Datastreams({ds['@iot.id']})/Observations",
               **{"$count": "true", "$top": 5})  # fmt: skip
    assert page["@iot.count"] == HOURS
    first = page["value"][0]
    assert get(client, f"Observations({first['@iot.id']})") == first
    assert first["@iot.id"] < 2**53
    assert get(client, f"Observations({first['@iot.id']})/Datastream")["@iot.id"] == ds["@iot.id"]
    # Paging an aggregate Datastream by nextLink: every hour once.
    seen = []
    url: str | None = (
        page["value"] and f"/sta/v1.1/Datastreams({ds['@iot.id']})/Observations?$top=7"
    )
    while url:
        doc = client.get(url).json()
        seen += [o["@iot.id"] for o in doc["value"]]
        url = doc.get("@iot.nextLink")
    assert len(seen) == len(set(seen)) == HOURS
    expand = (
        "Datastreams($filter=properties/aggregateDuration ne null;"
        "$expand=Observations($top=1;$orderby=phenomenonTime desc))"
    )
    latest = get(client, "Things", **{"$filter": "name eq 'A1'", "$expand": expand})["value"][0]
    counts = {(d["properties"]["metric"], d["properties"]["aggregateDuration"]):
              len(d["Observations"]) for d in latest["Datastreams"]}  # fmt: skip
    measured = {"pm10", "laeq", "lamax"}
    assert counts and all(n == (m in measured) for (m, _), n in counts.items())
    error(client, f"Observations({first['@iot.id'] + 1_000_000})", 404)
