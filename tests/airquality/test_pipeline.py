"""Through the real pipe: UBA hourly readings replayed as a pole (simulate replay ->
Mosquitto -> ingest) give the statistics the same file gives as a reference station; a
simulated pole beside a station is compared, calibrated and flagged."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from config.services import ApiSettings
from models.topics import Family
from smartpole.cli import main
from storage.queries import aq_official as q
from tests.api.conftest import Put, register_pole, run_api
from tests.simulators.test_end_to_end import run_simulate, start_ingest
from tests.support.ingest_process import IngestProcess
from tests.support.services import MosquittoServer, wait_until

SOURCE = "luftqualitaet_muenster_2022-01-01_2024-01-01_station1140.csv"
H = timedelta(hours=1)


def _stats(http: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    body = http.get("/v1/air-quality/statistics", params=params).json()
    (item,) = body["items"]
    return {s["key"] + "|" + s["rule_set"]: s for s in item["statistics"]}


def test_replayed_pole_readings_give_the_stations_figures(
    ingest: IngestProcess,
    mosquitto: MosquittoServer,
    database_url: str,
    uba_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
    start_ingest(ingest)
    source = uba_dir / SOURCE
    # CET 2023 with the 7 hours before it (the first 8-hour means reach back).
    result = run_simulate(
        mosquitto,
        "replay",
        str(source),
        "--quiet",
        "--from",
        "2022-12-31T17:30:00+01:00",
        "--until",
        "2024-01-01T00:30:00+01:00",
        poles=["UBA-DENW095"],
    )
    assert result.returncode == 0, result.stderr
    assert main(["stations", "import", str(source), "--type", "background"]) == 0
    # The replayed pole reports hourly means stamped at the end of their hour.
    assert main(["db", "reporting-interval", "UBA-DENW095", "3600", "--stamped-at-end"]) == 0
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM reference_values WHERE metric = 'no2' AND averaging = 'hour'"
            " AND period_start >= '2022-12-31 16:00Z' AND period_end <= '2023-12-31 23:00Z'"
        ).fetchone()
        assert stored is not None

        def arrived() -> bool:
            row = conn.execute(
                "SELECT count(*) FROM env_readings WHERE no2 IS NOT NULL"
                " AND observed_at > '2022-12-31 16:00Z' AND observed_at <= '2023-12-31 23:00Z'"
            ).fetchone()
            conn.commit()
            return row is not None and row[0] == stored[0]

        wait_until(arrived, 120, "the replayed hours")
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0)  # type: ignore[arg-type]
    with run_api(settings) as api, httpx.Client(base_url=api.url, timeout=60) as http:
        pole = _stats(http, pole_id="UBA-DENW095", year=2023)
        station = _stats(http, station="DENW095", year=2023)
        flags = http.get(
            "/v1/air-quality/flags",
            params={"pole_id": "UBA-DENW095", "from": "2023-01-01", "to": "2023-12-31"},
        ).json()["items"]
    # The platform flags the pole's hours (a station is not flagged): the pole's figures are
    # the station's hourly values less the flagged hours, computed here from the stored rows.
    flagged = {f["hour_start"] for f in flags if f["metric"] == "no2"}
    with psycopg.connect(database_url) as conn:
        values = conn.execute(
            "SELECT period_start, value FROM reference_values WHERE station_id = 'DENW095'"
            " AND metric = 'no2' AND period_start >= '2022-12-31 23:00Z'"
            " AND period_start < '2023-12-31 23:00Z'"
        ).fetchall()
    kept = [
        v
        for t, v in values
        if t.astimezone(UTC).isoformat().replace("+00:00", "Z") not in flagged
        and t.astimezone(UTC).isoformat() not in flagged
    ]
    assert len(kept) == len(values) - len(flagged)
    mean = pole["no2.annual_mean|2008/50/EC"]
    assert mean["excluded_flagged_hours"] == len(flagged)
    assert mean["value"] == pytest.approx(sum(kept) / len(kept))
    assert mean["capture"] == pytest.approx(len(kept) / 8760)
    assert station["no2.annual_mean|2008/50/EC"]["capture"] == pytest.approx(len(values) / 8760)
    hours = pole["no2.hourly_mean|2008/50/EC"]
    assert hours["exceedances"] == sum(1 for v in kept if v > 200)
    o3 = "o3.max_daily_8h_mean|2008/50/EC"
    spikes = sum(1 for f in flags if f["metric"] == "o3")
    assert abs(pole[o3]["single_year"] - station[o3]["single_year"]) <= spikes
    assert pole[o3]["single_year_valid"] and station[o3]["single_year_valid"]
    assert pole[o3]["excluded_flagged_hours"] == spikes
    # The pole is labelled indicative; its PM columns are 24-h running means the pole
    # cannot mark as such, so only the station's PM figures are official.
    assert pole[o3]["excluded_flagged_hours"] >= 0


# --- a simulated pole beside a reference station --------------------------------------------------

STATION = ("TEST001", 51.9365, 7.6116)
FIRST = date(2023, 3, 1)
DAYS = 60


def _scene(database_url: str, put: Put) -> list[tuple[datetime, float, float]]:
    """A station with hourly PM2.5; a pole 30 m away that reads 1.4 x reference + 0.25 x RH
    - 3 (plus noise), one reading an hour."""
    rng = random.Random(3)
    with psycopg.connect(database_url) as conn:
        q.upsert_station(
            conn,
            {
                "station_id": STATION[0],
                "source": "eea",
                "latitude": STATION[1],
                "longitude": STATION[2],
            },
        )
        register_pole(
            conn, "P-NEAR", lat=STATION[1] + 0.00027, lon=STATION[2], capabilities=("env",)
        )
        register_pole(conn, "P-FAR", lat=STATION[1] + 0.01, lon=STATION[2], capabilities=("env",))
        rows, readings, truth = [], [], []
        start = datetime(2023, 2, 28, 23, tzinfo=UTC)
        for i in range(DAYS * 24):
            hour = start + i * H
            day_level = 10 + 25 * abs(((i // 24) % 7) - 3) / 3
            ref = day_level + rng.uniform(-2, 2)
            rh = 30 + 35 * ((i // 24) % 5) / 4 + rng.uniform(-3, 3)  # under the 70 % flag
            raw = 1.4 * ref + 0.25 * rh - 3 + rng.gauss(0, 0.3)
            rows.append((STATION[0], "pm25", "hour", hour, hour + H, ref, None))
            readings.append(
                {
                    "dateObserved": (hour + timedelta(minutes=30)).isoformat(),
                    "pm25": round(raw, 3),
                    "relativeHumidity": round(min(rh, 100), 2),
                }
            )
            truth.append((hour, raw, ref))
        q.insert_reference_values(conn, rows)
        conn.execute(
            "INSERT INTO reporting_intervals (pole_id, family, interval_s)"
            " VALUES ('P-NEAR', 'env', 3600)"
        )
        conn.commit()
    for chunk in range(0, len(readings), 500):
        put("P-NEAR", Family.ENV, readings[chunk : chunk + 500])
    return truth


def test_colocation_calibration_and_corrected_statistics(
    database_url: str, put: Put, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scene(database_url, put)
    last = FIRST + timedelta(days=DAYS - 1)
    period = {"from": FIRST.isoformat(), "to": last.isoformat()}
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0)  # type: ignore[arg-type]
    with psycopg.connect(database_url) as conn:
        raw_before = conn.execute(
            "SELECT observed_at, pm25 FROM env_readings ORDER BY 1"
        ).fetchall()
    with run_api(settings) as api, httpx.Client(base_url=api.url, timeout=60) as http:
        raw = http.get("/v1/air-quality/colocation", params=period).json()
        (pair,) = raw["items"]  # P-FAR is 1.1 km away: not co-located
        assert pair["pole_id"] == "P-NEAR" and 25 < pair["distance_m"] < 35
        assert pair["days_compared"] == DAYS and pair["capture"] == 1.0
        assert pair["bias"] > 10 and pair["calibration_version"] is None
        monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
        assert (
            main(
                [
                    "air-quality",
                    "calibrate",
                    "P-NEAR",
                    "pm25",
                    "--station",
                    STATION[0],
                    "--from",
                    FIRST.isoformat(),
                    "--to",
                    last.isoformat(),
                    "--humidity",
                ]
            )
            == 0
        )
        (cal,) = http.get("/v1/air-quality/calibrations", params={"pole_id": "P-NEAR"}).json()[
            "items"
        ]
        # Tolerance: 3 % on the slope and the humidity term, 1 µg/m³ on the intercept.
        assert cal["version"] == 1
        assert cal["slope"] == pytest.approx(1 / 1.4, rel=0.03)
        assert cal["humidity_coefficient"] == pytest.approx(-0.25 / 1.4, rel=0.03)
        assert cal["intercept"] == pytest.approx(3 / 1.4, abs=1.0)
        fixed = http.get(
            "/v1/air-quality/colocation", params={**period, "correction": "corrected"}
        ).json()["items"][0]
        assert abs(fixed["bias"]) < 0.5 and fixed["rmse"] < 1.0 and fixed["r2"] > 0.95
        assert fixed["calibration_version"] == 1
        raw_stats = _stats(http, pole_id="P-NEAR", year=2023)
        corrected = _stats(http, pole_id="P-NEAR", year=2023, correction="corrected")
        station = _stats(http, station=STATION[0], year=2023)
        key = "pm25.annual_mean|2008/50/EC"
        assert raw_stats[key]["value"] - station[key]["value"] > 10
        assert corrected[key]["value"] == pytest.approx(station[key]["value"], abs=0.5)
        assert corrected[key]["calibration"]["version"] == 1
        assert raw_stats[key]["calibration"] is None
        assert corrected[key]["valid"] is False  # 60 days of a year: never silently a number
        series = http.get(
            "/v1/air-quality/hourly",
            params={"pole_id": "P-NEAR", "metric": "pm25", "correction": "corrected", **period},
        ).json()
        assert series["calibration_version"] == 1 and len(series["items"]) == DAYS * 24
        assert series["reporting_interval_s"] == 3600
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT observed_at, pm25 FROM env_readings ORDER BY 1").fetchall() == (
            raw_before
        )  # raw values untouched


def test_flagged_hours_are_listed_and_excluded_from_the_statistics(
    database_url: str, put: Put
) -> None:
    with psycopg.connect(database_url) as conn:
        register_pole(conn, "P-Q", capabilities=("env",))
        conn.execute(
            "INSERT INTO reporting_intervals (pole_id, family, interval_s)"
            " VALUES ('P-Q', 'env', 3600)"
        )
        conn.commit()
    rng = random.Random(5)
    start = datetime(2023, 1, 9, 23, tzinfo=UTC)
    readings = []
    for i in range(72):
        value = 20 + rng.uniform(-3, 3)
        rh = 50.0
        if i == 10:
            rh = 85.0  # humid: pm flagged, no2 not
        if i == 30:
            value = 90.0  # a spike
        readings.append(
            {
                "dateObserved": (start + i * H).isoformat(),
                "pm10": round(value, 2),
                "no2": round(value, 2),
                "relativeHumidity": rh,
            }
        )
    put("P-Q", Family.ENV, readings)
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0)  # type: ignore[arg-type]
    with run_api(settings) as api, httpx.Client(base_url=api.url, timeout=60) as http:
        body = http.get(
            "/v1/air-quality/flags",
            params={"pole_id": "P-Q", "from": "2023-01-10", "to": "2023-01-12"},
        ).json()
        flagged = {(f["metric"], f["hour_start"][:13]): f["flags"] for f in body["items"]}
        assert flagged[("pm10", "2023-01-10T09")] == ["humidity"]
        assert ("no2", "2023-01-10T09") not in flagged
        assert "spike" in flagged[("pm10", "2023-01-11T05")]
        assert "spike" in flagged[("no2", "2023-01-11T05")]
        assert {r["flag"] for r in body["rules"]} == {"humidity", "flatline", "spike", "jump"}
        stats = _stats(http, pole_id="P-Q", year=2023)
        pm10 = stats["pm10.annual_mean|2008/50/EC"]
        no2 = stats["no2.annual_mean|2008/50/EC"]
        excluded_pm = sum(1 for (m, _), _f in flagged.items() if m == "pm10")
        assert pm10["excluded_flagged_hours"] == excluded_pm >= 2
        assert no2["excluded_flagged_hours"] == sum(1 for (m, _) in flagged if m == "no2")
        assert pm10["capture"] == pytest.approx((72 - excluded_pm) / 8760)
        assert pm10["value"] < 24  # the 90 µg/m³ spike is not in the mean
        assert (
            "indicative"
            in http.get("/v1/air-quality/statistics", params={"pole_id": "P-Q"}).json()["items"][0][
                "site"
            ]["measurement"]
        )
