"""The map's endpoints and the pages the API serves: the European Air Quality Index from
the catalogue's bands and 24-hour running means, the per-pole state, the district
outlines, cache headers of the page and its assets, and hostile paths and queries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.routes.map import map_item
from config.services import ApiSettings
from models.catalogue.air_quality import (
    EAQI_BANDS,
    EAQI_MIN_HOURS_24H,
    EAQI_POLLUTANTS,
    eaqi_band,
    eaqi_overall,
)
from models.topics import Family
from storage.readmodels.rebuild import set_reporting_interval
from tests.api.conftest import Put, register_pole, run_api
from tests.support.web import have_web_build

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)


def test_bands_are_ordered_and_the_worst_pollutant_decides() -> None:
    levels = [b.level for b in EAQI_BANDS]
    assert levels == sorted(levels) == list(range(1, 7))
    for spec in EAQI_POLLUTANTS:
        bounds = spec.upper_bounds
        assert list(bounds) == sorted(bounds)
        # Each bound belongs to the band below it; just above it, the next band.
        for level, upper in enumerate(bounds, start=1):
            band = eaqi_band(spec.pollutant, upper)
            assert band is not None and band.level == level
            above = eaqi_band(spec.pollutant, upper + 0.01)
            assert above is not None and above.level == level + 1
    assert eaqi_band("pm10", None) is None
    assert eaqi_overall([None, eaqi_band("pm10", 1.0), eaqi_band("no2", 1000.0)]) == EAQI_BANDS[-1]
    assert eaqi_overall([None, None]) is None


def _env(at: datetime, pm10: float, pm25: float = 3.0, no2: float = 5.0) -> dict[str, Any]:
    return {"dateObserved": at.isoformat(), "pm10": pm10, "pm25": pm25, "no2": no2, "o3": 20.0}


@pytest.fixture
def city(db: Any, put: Put, database_url: str) -> Iterator[httpx.Client]:
    register_pole(db, "MAP-1", district="Mitte", lat=52.52, lon=13.40, capabilities=("env", "ev"))
    register_pole(db, "MAP-2", district="Nord", lat=52.53, lon=13.41, capabilities=("env",))
    register_pole(db, "MAP-3", district="Nord", lat=52.54, lon=13.42, capabilities=("light",))
    db.execute(
        "INSERT INTO pole_connectors (pole_id, connector_id, max_power_kw, plug_type)"
        " VALUES ('MAP-1', 1, 22, 'Type2'), ('MAP-1', 2, 11, 'Type2')"
    )
    for pole in ("MAP-1", "MAP-2"):
        set_reporting_interval(db, pole, 600)  # six readings an hour, five make it valid
    # MAP-1: 24 full hours; PM10 at 10 for 12 hours and at 50 for the 12 newest hours:
    # running mean 30 (band "fair"), though the newest hourly value alone is 50.
    readings = []
    for hour in range(24):
        for minute in range(0, 60, 10):
            at = NOW.replace(minute=0) - timedelta(hours=23 - hour) + timedelta(minutes=minute)
            readings.append(_env(at, 10.0 if hour < 12 else 50.0))
    put("MAP-1", Family.ENV, readings)
    # MAP-2: only EAQI_MIN_HOURS_24H - 1 valid hours: no PM running mean, no PM band.
    few = [
        _env(NOW.replace(minute=0) - timedelta(hours=h) + timedelta(minutes=m), 500.0)
        for h in range(EAQI_MIN_HOURS_24H - 1)
        for m in range(0, 60, 10)
    ]
    put("MAP-2", Family.ENV, few)
    put(
        "MAP-1",
        Family.EV,
        {"dateObserved": NOW.isoformat(), "status": "Available", "errorCode": "NoError"},
        connector=1,
    )
    put(
        "MAP-1",
        Family.EV,
        {"dateObserved": NOW.isoformat(), "status": "Faulted", "errorCode": "GroundFailure"},
        connector=2,
    )
    put(
        "MAP-3",
        Family.LIGHT,
        {"dateObserved": NOW.isoformat(), "powerState": "off", "status": "brokenLantern"},
    )
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0, api_pool_size=2)
    with run_api(settings) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        yield http


def _items(client: httpx.Client, query: str = "") -> dict[str, dict[str, Any]]:
    response = client.get(f"/v1/map/poles{query}")
    assert response.status_code == 200, response.text
    return {item["pole_id"]: item for item in response.json()["items"]}


def test_pm_is_banded_on_the_24_hour_running_mean(city: httpx.Client) -> None:
    items = _items(city)
    assert set(items) == {"MAP-1", "MAP-2", "MAP-3"}
    aqi = {p["pollutant"]: p for p in items["MAP-1"]["aqi"]["pollutants"]}
    assert aqi["pm10"]["valid_hours"] == 24
    assert aqi["pm10"]["value"] == pytest.approx(30.0)
    pm10 = eaqi_band("pm10", 30.0)
    assert pm10 is not None and aqi["pm10"]["band"] == pm10.level
    # The hourly pollutants use the newest valid hour.
    assert aqi["no2"]["value"] == pytest.approx(5.0)
    assert items["MAP-1"]["aqi"]["band"] == max(p["band"] for p in aqi.values())


def test_too_few_hours_give_no_pm_band(city: httpx.Client) -> None:
    aqi = {p["pollutant"]: p for p in _items(city)["MAP-2"]["aqi"]["pollutants"]}
    assert aqi["pm10"]["valid_hours"] == EAQI_MIN_HOURS_24H - 1
    assert aqi["pm10"]["value"] is None and aqi["pm10"]["band"] is None


def test_chargers_and_lamps_are_grouped(city: httpx.Client) -> None:
    items = _items(city)
    groups = {c["connector_id"]: c["group"] for c in items["MAP-1"]["connectors"]}
    assert groups == {1: "free", 2: "faulted"}
    assert items["MAP-1"]["connectors"][0]["plug_type"] == "Type2"
    lamp = items["MAP-3"]["lamp"]
    assert lamp["defective"] is True and lamp["day_burner"] is False
    assert items["MAP-3"]["aqi"] is None


def test_filters_by_pole_and_district(city: httpx.Client) -> None:
    assert set(_items(city, "?pole_id=MAP-1,MAP-3")) == {"MAP-1", "MAP-3"}
    assert set(_items(city, "?district=Nord")) == {"MAP-2", "MAP-3"}


@pytest.mark.parametrize(
    "query",
    [
        "?pole_id=",
        "?pole_id=a,,b",
        "?pole_id=%27%3B%20DROP%20TABLE%20poles%3B--",
        "?pole_id=" + ",".join(f"P{i}" for i in range(101)),
        "?district=%00",
    ],
)
def test_hostile_queries_are_refused(city: httpx.Client, query: str) -> None:
    response = city.get(f"/v1/map/poles{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_day_burner_is_judged_by_the_sun_at_the_pole() -> None:
    noon = datetime(2026, 6, 21, 11, 0, tzinfo=UTC)  # 13:00 in Berlin, sun high
    row: dict[str, Any] = {
        "pole_id": "X",
        "name": None,
        "district": None,
        "latitude": 52.52,
        "longitude": 13.40,
        "capabilities": ["light"],
        "status": "online",
        "e_observed_at": None,
        "w_observed_at": None,
        "connectors": [],
        "l_observed_at": noon,
        "l_lamp_status": "ok",
        "l_power_state": "on",
    }
    assert map_item(row)["lamp"]["day_burner"] is True
    assert map_item({**row, "l_power_state": "off"})["lamp"]["day_burner"] is False
    night = noon.replace(hour=23)
    assert map_item({**row, "l_observed_at": night})["lamp"]["day_burner"] is False


def test_config_comes_from_the_catalogue(city: httpx.Client) -> None:
    config = city.get("/v1/map/config").json()
    assert [b["colour"] for b in config["aqi"]["bands"]] == [b.colour for b in EAQI_BANDS]
    assert {p["pollutant"]: p["upper_bounds"] for p in config["aqi"]["pollutants"]} == {
        p.pollutant: list(p.upper_bounds) for p in EAQI_POLLUTANTS
    }
    units = {m["metric"]: m["unit"] for m in config["metrics"]["env"]}
    assert units["pm10"] == "µg/m³" and units["temperature"] == "°C"
    assert config["tiles"] is None


def test_district_outlines_are_the_configured_ones(tmp_path: Path, database_url: str) -> None:
    outline = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Mitte"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[13.3, 52.5], [13.5, 52.5], [13.5, 52.6], [13.3, 52.5]]],
                },
            }
        ],
    }
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps(outline), encoding="utf-8")
    settings = ApiSettings(database_url=database_url, district_boundaries=path, api_pool_size=2)
    with run_api(settings) as running:
        got = httpx.get(f"{running.url}/v1/map/districts.geojson", timeout=30).json()
        none = ApiSettings(database_url=database_url, api_pool_size=2)
    assert [f["properties"]["name"] for f in got["features"]] == ["Mitte"]
    assert got["features"][0]["geometry"]["type"] == "Polygon"
    with run_api(none) as running:
        assert (
            httpx.get(f"{running.url}/v1/map/districts.geojson", timeout=30).json()["features"]
            == []
        )


needs_build = pytest.mark.skipif(not have_web_build(), reason="web/dist not built")


@needs_build
def test_pages_and_assets_have_cache_headers(client: httpx.Client) -> None:
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/map"
    page = client.get("/map")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert len(assets) == 2, page.text
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    for docs in ("/docs", "/redoc"):
        html = client.get(docs)
        assert html.status_code == 200 and html.headers["cache-control"] == "no-cache"
        assert "cdn." not in html.text and "googleapis" not in html.text
        assert "/static/assets/" in html.text


@needs_build
@pytest.mark.parametrize(
    "path",
    [
        "/static/manifest.json",
        "/static/assets/../manifest.json",
        "/static/assets/%2e%2e/manifest.json",
        "/static/assets/..%2f..%2fpyproject.toml",
        "/static/assets/nothing.js",
        "/static/assets/",
        "/static/%00",
    ],
)
def test_static_serves_nothing_but_assets(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)


def test_pages_say_when_the_assets_are_not_built(tmp_path: Path, database_url: str) -> None:
    settings = ApiSettings(database_url=database_url, api_web_dir=tmp_path, api_pool_size=2)
    with run_api(settings) as running:
        response = httpx.get(f"{running.url}/map", timeout=30)
    assert response.status_code == 503
    assert "scripts/build-web" in response.json()["detail"]


def test_the_page_restates_no_band_of_the_catalogue() -> None:
    """The bands reach the page through /v1/map/config only."""
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (Path(__file__).resolve().parents[2] / "web" / "src").glob("*.js")
    )
    for band in EAQI_BANDS:
        assert band.colour.lower() not in sources.lower(), band
        assert band.label_en not in sources and band.label_de not in sources, band
    for spec in EAQI_POLLUTANTS:
        bounds = r"\D{1,6}".join(re.escape(f"{b:g}") for b in spec.upper_bounds[:3])
        assert not re.search(bounds, sources), spec
