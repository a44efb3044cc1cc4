"""The shared UBA files imported as reference stations; the statistics endpoint against
figures computed here, independently, straight from the CSV (no production code)."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from config.services import ApiSettings
from smartpole.cli import main
from tests.api.conftest import run_api

SHARED = Path("/work/shared/data/uba-airquality-muenster")
STATIONS = {"DENW095": "1140", "DENW260": "1303"}
UTC1 = timezone(timedelta(hours=1))
BERLIN = ZoneInfo("Europe/Berlin")


def _files(station_number: str) -> list[Path]:
    return sorted(SHARED.glob(f"*station{station_number}.csv"))


def independent(station_number: str) -> dict[int, dict[str, object]]:
    """Per CET year: NO2 annual mean and hours > 200, PM10 annual mean and days > 50 / 45
    (daily mean = the floating value at 24:00 CET), O3 days with an MDA8 > 120."""
    no2: dict[datetime, float] = {}
    o3: dict[datetime, float] = {}
    pm10_days: dict[object, float] = {}
    for path in _files(station_number):
        with path.open(encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle, delimiter=";"))
        seen: set[tuple[str, str]] = set()
        for row in rows[1:]:
            if len(row) < 5:
                continue
            stamp = row[1].strip("'")
            day, hour = stamp.split(" ")
            local_start = datetime.fromisoformat(day) + timedelta(hours=int(hour[:2]) - 1)
            key = (day, hour)
            fold = 1 if key in seen else 0
            seen.add(key)
            end = local_start.replace(tzinfo=BERLIN, fold=fold).astimezone(UTC1) + timedelta(
                hours=1
            )
            start = end - timedelta(hours=1)
            if row[4] != "-":
                no2[start] = float(row[4])
            if row[3] != "-":
                o3[start] = float(row[3])
            if row[2] != "-" and end.hour == 0:
                pm10_days[(end - timedelta(hours=1)).date()] = float(row[2])

    def rounded(v: float) -> int:
        return int(Decimal(repr(v)).quantize(Decimal(1), ROUND_HALF_UP))

    result: dict[int, dict[str, object]] = {}
    for year in (2020, 2021, 2022, 2023):
        hours = [v for h, v in no2.items() if h.year == year]
        days = [v for d, v in pm10_days.items() if d.year == year]  # type: ignore[attr-defined]
        n_hours = 8784 if year % 4 == 0 else 8760
        n_days = n_hours // 24
        # MDA8 per CET day: running 8-h means ending in the day, 6 of 8 hours, 18 means
        mda8_over = 0
        first = datetime(year, 1, 1, tzinfo=UTC1)
        for d in range(n_days):
            day_start = first + timedelta(days=d)
            means = []
            for k in range(24):
                last = day_start + timedelta(hours=k)
                window = [o3[w] for i in range(8) if (w := last - timedelta(hours=i)) in o3]
                if len(window) >= 6:
                    means.append(sum(window) / len(window))
            if len(means) >= 18 and rounded(max(means)) > 120:
                mda8_over += 1
        result[year] = {
            "no2_mean": sum(hours) / len(hours),
            "no2_capture": len(hours) / n_hours,
            "no2_hours_over_200": sum(1 for v in hours if v > 200),
            "no2_days_over_50": None,
            "pm10_mean": sum(days) / len(days),
            "pm10_capture": len(days) / n_days,
            "pm10_days_over_50": sum(1 for v in days if v > 50),
            "pm10_days_over_45": sum(1 for v in days if v > 45),
            "o3_days": mda8_over,
            "o3_hours": sum(1 for h in o3 if h.year == year),
        }
    return result


@pytest.fixture
def imported(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    if not SHARED.is_dir():
        pytest.skip("shared UBA data not present")
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
    geist = [str(p) for p in _files("1140")]
    weseler = [str(p) for p in _files("1303")]
    assert (
        main(
            [
                "stations",
                "import",
                *geist,
                "--name",
                "Münster-Geist",
                "--type",
                "background",
                "--area",
                "urban",
                "--latitude",
                "51.9365",
                "--longitude",
                "7.6116",
                "--district",
                "Geist",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "stations",
                "import",
                *weseler,
                "--name",
                "Münster Weseler Straße",
                "--type",
                "traffic",
                "--area",
                "urban",
                "--latitude",
                "51.9533",
                "--longitude",
                "7.6194",
                "--district",
                "Mitte",
            ]
        )
        == 0
    )
    return database_url


def by_key(item: dict[str, object], rule_set_in_force: bool = True) -> dict[str, dict]:
    return {s["key"]: s for s in item["statistics"] if s["in_force"] is rule_set_in_force}  # type: ignore[index,union-attr]


def test_stations_are_stored_as_reference_with_their_metadata(imported: str) -> None:
    with psycopg.connect(imported) as conn:
        rows = conn.execute(
            "SELECT station_id, eoi_code, national_id, station_type, measurement_class "
            "FROM reference_stations ORDER BY 1"
        ).fetchall()
        periods = conn.execute(
            "SELECT metric, averaging, count(*) FROM reference_values "
            "WHERE station_id = 'DENW095' GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        ("DENW095", "DENW095", "1140", "background", "reference"),
        ("DENW260", "DENW260", "1303", "traffic", "reference"),
    ]
    assert {(m, a) for m, a, _ in periods} == {
        ("no2", "hour"),
        ("o3", "hour"),
        ("pm10", "day, hourly floating"),
        ("pm25", "day, hourly floating"),
    }


@pytest.mark.parametrize("station", ["DENW095", "DENW260"])
def test_the_statistics_endpoint_matches_the_csv(imported: str, station: str) -> None:
    expected = independent(STATIONS[station])
    settings = ApiSettings(database_url=imported, api_cache_ttl_s=0)  # type: ignore[arg-type]
    with run_api(settings) as api, httpx.Client(base_url=api.url, timeout=60) as http:
        for year, want in expected.items():
            body = http.get(
                "/v1/air-quality/statistics", params={"station": station, "year": year}
            ).json()
            (item,) = body["items"]
            assert item["site"]["measurement"] == "reference"
            now = by_key(item)
            later = by_key(item, False)
            assert now["no2.annual_mean"]["value"] == pytest.approx(want["no2_mean"])
            assert now["no2.annual_mean"]["capture"] == pytest.approx(want["no2_capture"])
            assert now["no2.hourly_mean"]["exceedances"] == want["no2_hours_over_200"]
            assert now["pm10.annual_mean"]["value"] == pytest.approx(want["pm10_mean"])
            assert now["pm10.annual_mean"]["capture"] == pytest.approx(want["pm10_capture"])
            assert now["pm10.daily_mean"]["exceedances"] == want["pm10_days_over_50"]
            assert later["pm10.daily_mean"]["exceedances"] == want["pm10_days_over_45"]
            assert now["pm10.daily_mean"]["averaging"] == "day, hourly floating"
            if want["o3_hours"]:
                assert now["o3.max_daily_8h_mean"]["single_year"] == want["o3_days"]
            else:
                assert "o3.max_daily_8h_mean" not in now
            print(
                station,
                year,
                {
                    k: (v["published"], v["verdict"], round(v["capture"] or 0, 3))
                    for k, v in now.items()
                },
            )
        assert body["conventions"]["time_convention"].startswith("CET")
