"""Series of one pole's metric: raw and bucketed, DST days, late data,
duplicates, keyset paging without loss, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from models.topics import Family
from tests.api.conftest import Put, problem


def hourly_env(start: datetime, hours: int, **values: float) -> list[dict[str, Any]]:
    return [
        {"dateObserved": (start + timedelta(hours=h)).isoformat(), **values} for h in range(hours)
    ]


def points(response: httpx.Response) -> list[tuple[str, float]]:
    assert response.status_code == 200, response.text
    return [(p["time"], p["value"]) for p in response.json()["points"]]


def test_dst_days_have_23_and_25_hours_in_berlin(client: httpx.Client, put: Put) -> None:
    # One reading an hour from 27 March to 1 April and from 24 to 27 October (UTC).
    put("P1", Family.ENV, hourly_env(datetime(2026, 3, 27, tzinfo=UTC), 5 * 24, pm10=10.0))
    put("P1", Family.ENV, hourly_env(datetime(2026, 10, 24, tzinfo=UTC), 3 * 24, pm10=10.0))
    spring = client.get(
        "/v1/poles/P1/series/env/pm10",
        params={
            "interval": "day",
            "agg": "count",
            "from": "2026-03-28T00:00:00+01:00",
            "to": "2026-03-31T00:00:00+02:00",
        },
    )
    assert points(spring) == [
        ("2026-03-28T00:00:00+01:00", 24.0),
        ("2026-03-29T00:00:00+01:00", 23.0),  # clocks go 02:00 -> 03:00
        ("2026-03-30T00:00:00+02:00", 24.0),
    ]
    autumn = client.get(
        "/v1/poles/P1/series/env/pm10",
        params={
            "interval": "day",
            "agg": "count",
            "from": "2026-10-25T00:00:00+02:00",
            "to": "2026-10-26T00:00:00+01:00",
        },
    )
    assert points(autumn) == [("2026-10-25T00:00:00+02:00", 25.0)]  # 03:00 -> 02:00 again
    # The same instants in UTC are plain 24-hour days.
    utc = client.get(
        "/v1/poles/P1/series/env/pm10",
        params={
            "interval": "day",
            "agg": "count",
            "tz": "UTC",
            "from": "2026-10-25T00:00:00Z",
            "to": "2026-10-26T00:00:00Z",
        },
    )
    assert points(utc) == [("2026-10-25T00:00:00Z", 24.0)]


def test_light_days_from_raw_rows_are_local_days_too(client: httpx.Client, put: Put) -> None:
    start = datetime(2026, 3, 28, 23, tzinfo=UTC)  # 29 March 00:00 in Berlin
    put(
        "P1",
        Family.LIGHT,
        [
            {
                "dateObserved": (start + timedelta(hours=h)).isoformat(),
                "powerState": "on",
                "activePower": 10.0,
            }
            for h in range(24)
        ],
    )
    day = client.get(
        "/v1/poles/P1/series/light/active_power",
        params={
            "interval": "day",
            "agg": "sum",
            "from": "2026-03-29T00:00:00+01:00",
            "to": "2026-03-30T00:00:00+02:00",
        },
    )
    # 23 hours belong to 29 March; the 24th reading is 30 March 00:00 local.
    assert points(day) == [("2026-03-29T00:00:00+01:00", 230.0)]


def test_late_data_and_duplicates_are_reflected_exactly(client: httpx.Client, put: Put) -> None:
    day = datetime(2026, 6, 1, 22, tzinfo=UTC)  # 2 June 00:00 in Berlin
    put("P1", Family.ENV, hourly_env(day, 24, pm10=10.0))
    params = {
        "interval": "day",
        "agg": "avg",
        "from": "2026-06-02T00:00:00+02:00",
        "to": "2026-06-03T00:00:00+02:00",
    }
    assert points(client.get("/v1/poles/P1/series/env/pm10", params=params))[0][1] == 10.0
    # A backlog arrives a week later for the same day (new minutes), plus a resend.
    late = [{"dateObserved": (day + timedelta(minutes=30)).isoformat(), "pm10": 34.0}]
    put("P1", Family.ENV, late, received_at=day + timedelta(days=7))
    resent = put(
        "P1", Family.ENV, hourly_env(day, 24, pm10=10.0), received_at=day + timedelta(days=7)
    )
    assert resent.duplicates == 24
    series = points(client.get("/v1/poles/P1/series/env/pm10", params=params))
    assert series == [("2026-06-02T00:00:00+02:00", (24 * 10.0 + 34.0) / 25)]
    hour = client.get(
        "/v1/poles/P1/series/env/pm10",
        params={
            "interval": "hour",
            "agg": "max",
            "from": day.isoformat(),
            "to": (day + timedelta(hours=1)).isoformat(),
        },
    )
    assert points(hour) == [("2026-06-02T00:00:00+02:00", 34.0)]


def test_raw_and_5min_buckets(client: httpx.Client, put: Put) -> None:
    start = datetime(2026, 5, 1, 10, tzinfo=UTC)
    put(
        "P1",
        Family.ENV,
        [
            {"dateObserved": (start + timedelta(minutes=m)).isoformat(), "no2": float(m)}
            for m in range(10)
        ],
    )
    window = {"from": start.isoformat(), "to": (start + timedelta(minutes=10)).isoformat()}
    raw = points(client.get("/v1/poles/P1/series/env/no2", params={**window, "interval": "raw"}))
    assert [v for _, v in raw] == [float(m) for m in range(10)]
    five = client.get(
        "/v1/poles/P1/series/env/no2", params={**window, "interval": "5min", "agg": "sum"}
    )
    assert points(five) == [
        ("2026-05-01T12:00:00+02:00", 10.0),
        ("2026-05-01T12:05:00+02:00", 35.0),
    ]
    assert five.json()["agg"] == "sum" and five.json()["unit"] == "µg/m³"


def test_noise_is_averaged_on_energy_not_decibels(client: httpx.Client, put: Put) -> None:
    start = datetime(2026, 5, 1, 10, tzinfo=UTC)
    put(
        "P1",
        Family.ENV,
        [
            {"dateObserved": start.isoformat(), "LAeq": 50.0},
            {"dateObserved": (start + timedelta(minutes=1)).isoformat(), "LAeq": 70.0},
        ],
    )
    window = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    for interval in ("hour", "5min"):
        [(_, level)] = points(
            client.get("/v1/poles/P1/series/env/laeq", params={**window, "interval": interval})
        )
        assert abs(level - 67.03) < 0.01  # 10*log10((10^5 + 10^7)/2), not 60


def test_paging_a_large_raw_series_loses_and_repeats_nothing(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    db.execute("INSERT INTO poles (pole_id) VALUES ('P1')")
    db.execute(
        "INSERT INTO env_readings (pole_id, observed_at, received_at, pm10) "
        "SELECT 'P1', t, t, extract(epoch FROM t)::integer % 1000 "
        "FROM generate_series(timestamptz '2026-05-01', timestamptz '2026-05-01' "
        "+ interval '12345 seconds', interval '1 second') AS t"
    )
    url: str | None = "/v1/poles/P1/series/env/pm10"
    params: dict[str, str] | None = {
        "interval": "raw",
        "from": "2026-05-01T00:00:00Z",
        "to": "2026-05-02T00:00:00Z",
        "limit": "1000",
    }
    seen: list[str] = []
    pages = 0
    while url:
        response = client.get(url, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [p["time"] for p in body["points"]]
        url, params = body["next"], None
        pages += 1
    assert len(seen) == 12346 and len(set(seen)) == 12346
    assert seen == sorted(seen, key=datetime.fromisoformat)
    assert pages == 13


def test_paging_daily_buckets_across_dst(client: httpx.Client, put: Put) -> None:
    put("P1", Family.ENV, hourly_env(datetime(2026, 3, 25, tzinfo=UTC), 10 * 24, o3=40.0))
    url: str | None = "/v1/poles/P1/series/env/o3"
    params: dict[str, str] | None = {
        "interval": "day",
        "agg": "count",
        "limit": "3",
        "from": "2026-03-25T00:00:00+01:00",
        "to": "2026-04-04T00:00:00+02:00",
    }
    days: list[tuple[str, float]] = []
    while url:
        response = client.get(url, params=params)
        days += points(response)
        url, params = response.json()["next"], None
    assert [d for d, _ in days][:6] == [
        "2026-03-25T00:00:00+01:00",
        "2026-03-26T00:00:00+01:00",
        "2026-03-27T00:00:00+01:00",
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    ]
    counts = dict(days)
    assert counts["2026-03-29T00:00:00+01:00"] == 23
    # Readings run to 3 April 23:00 UTC; the range ends at 4 April 00:00 local (22:00 UTC).
    assert sum(counts.values()) == 10 * 24 - 2


def test_csv_export_streams_the_whole_series(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    db.execute("INSERT INTO poles (pole_id) VALUES ('P1')")
    db.execute(
        "INSERT INTO env_readings (pole_id, observed_at, received_at, temperature) "
        "SELECT 'P1', t, t, 1.5 FROM generate_series(timestamptz '2026-01-01', "
        "timestamptz '2026-03-01' - interval '1 minute', interval '1 minute') AS t"
    )
    with client.stream(
        "GET",
        "/v1/poles/P1/series/env/temperature/export.csv",
        params={"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "tz": "UTC"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "license" in response.headers["link"]
        text = "".join(response.iter_text())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["time", "value"]
    assert len(rows) == 1 + 59 * 24 * 60  # every minute of January and February, no raw cap
    assert rows[1] == ["2026-01-01 00:00:00+00", "1.5"]


def test_bad_series_requests_get_precise_problems(client: httpx.Client, put: Put) -> None:
    put("P1", Family.ENV, hourly_env(datetime(2026, 5, 1, tzinfo=UTC), 1, pm10=1.0))
    base = "/v1/poles/P1/series/env/pm10"
    assert "hint" in problem(
        client.get(
            base,
            params={
                "interval": "raw",
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-05-01T00:00:00Z",
            },
        ),
        422,
    )
    detail = problem(
        client.get(base, params={"from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"}), 422
    )["detail"]
    assert "from" in detail and "before" in detail
    problem(client.get(base, params={"from": "9999-12-31T23:59:59-23:59"}), 422)
    problem(client.get(base, params={"from": "0001-01-01T00:00:00+14:00"}), 422)
    problem(client.get(base, params={"from": "not a time"}), 422)
    problem(client.get(base, params={"tz": "../../etc/passwd"}), 422)
    problem(client.get(base, params={"tz": "Europe"}), 422)
    problem(client.get(base, params={"tz": "Europe/Berlin\x00"}), 422)
    problem(client.get(base, params={"interval": "week"}), 422)
    problem(client.get(base, params={"agg": "median"}), 422)
    problem(client.get(base, params={"limit": "0"}), 422)
    problem(client.get(base, params={"limit": "100001"}), 422)
    problem(client.get(base, params={"connector": "1"}), 422)
    problem(client.get("/v1/poles/P1/series/ev/charging_power"), 422)
    problem(client.get("/v1/poles/P1/series/env/bogus"), 404)
    # status has no numeric series: not a value of the family enum in the spec
    problem(client.get("/v1/poles/P1/series/status/pm10"), 422)
    problem(client.get("/v1/poles/P1/series/nope/pm10"), 422)
    problem(client.get("/v1/poles/NOPE/series/env/pm10"), 404)
    problem(client.get("/v1/poles/NOPE/series/env/pm10/export.csv"), 404)
    problem(client.get(base, params={"cursor": "x" * 2000}), 422)
    for hostile in (
        "!!!",
        "eyJ2IjoxfQ",
        "e30",
        "W10",
        "bnVsbA",
        "eyJ2IjoxLCJrIjoic2VyaWVzIiwiYSI6WzFdfQ",
    ):
        problem(client.get(base, params={"cursor": hostile}), 422)
