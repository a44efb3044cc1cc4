"""A test city for the browser: known poles (positions, districts, chargers) and readings
in a fresh database, the API in front of it with the simulated city's district outlines,
and headless Debian Chromium driven by Playwright (never `playwright install`).

Used by tests/web/ and by scripts/screenshots (the README's pictures come from the same
browser code and the same data)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from api.app import create_app
from config.services import ApiSettings
from models.readings import MODEL_FOR_FAMILY
from models.topics import Family, PoleTopic
from simulators.city import DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE, City
from simulators.districts import district_outlines
from storage.readmodels.rebuild import set_reporting_interval
from storage.writer import ReadingWriter, ReceivedReading
from tests.api.conftest import RunningApi

CHROMIUM = Path(os.environ.get("SMARTPOLE_TEST_CHROMIUM", "/usr/bin/chromium"))
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
# Readings every 10 minutes (the reporting interval recorded for the test poles), so an
# hour is valid with 5 of its 6 readings.
INTERVAL_MIN = 10
HOURS_OF_DATA = 30


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


@dataclass(frozen=True)
class WebPole:
    pole_id: str
    district: str
    latitude: float
    longitude: float
    capabilities: tuple[str, ...]
    pm10: float  # the level its PM10 readings sit at
    connectors: tuple[tuple[int, str], ...] = ()  # (connector id, OCPP status now)
    wifi_status: str | None = "up"
    lamp_status: str = "ok"
    power_state: str = "off"


@dataclass
class WebCity:
    url: str
    database_url: str
    poles: tuple[WebPole, ...]
    districts_file: Path
    now: datetime
    extra: dict[str, Any] = field(default_factory=dict)

    def pole(self, pole_id: str) -> WebPole:
        return next(p for p in self.poles if p.pole_id == pole_id)


def _poles(city: City) -> tuple[WebPole, ...]:
    d = city.districts
    all_four = ("env", "light", "wifi", "ev")
    no_wifi = ("env", "light", "ev")
    no_ev = ("env", "light", "wifi")
    free, charging, faulted = "Available", "Charging", "Faulted"
    spec: list[tuple[int, float, float, tuple[str, ...], float, dict[str, Any]]] = [
        (0, 0.0008, 0.0004, all_four, 12.0, {"connectors": ((1, free), (2, charging))}),
        (0, -0.0009, 0.0011, no_wifi, 30.0,
         {"connectors": ((1, faulted),), "lamp_status": "defectiveLamp", "power_state": "on"}),
        (0, 0.0002, -0.0012, no_ev, 60.0, {"wifi_status": "down"}),
        (1, 0.0005, 0.0003, no_wifi, 8.0, {"connectors": ((1, charging),)}),
        (1, -0.0004, -0.0006, no_ev, 130.0, {}),
        (2, 0.0003, 0.0005, all_four, 20.0, {"connectors": ((1, free),)}),
        (3, -0.0002, 0.0002, ("env", "light"), 45.0, {}),
    ]  # fmt: skip
    poles = []
    for number, (index, dlat, dlon, caps, pm10, extra) in enumerate(spec, start=1):
        district = d[index]
        poles.append(
            WebPole(
                pole_id=f"WEB-{number:03d}",
                district=district.name,
                latitude=round(district.latitude + dlat, 6),
                longitude=round(district.longitude + dlon, 6),
                capabilities=caps,
                pm10=pm10,
                **extra,
            )
        )
    return tuple(poles)


def _payloads(pole: WebPole, now: datetime) -> list[tuple[Family, int | None, dict[str, Any]]]:
    out: list[tuple[Family, int | None, dict[str, Any]]] = []
    steps = HOURS_OF_DATA * 60 // INTERVAL_MIN
    for step in range(steps, -1, -1):
        at = now - timedelta(minutes=step * INTERVAL_MIN)
        stamp = at.isoformat()
        wobble = (step % 5) - 2
        out.append(
            (
                Family.ENV,
                None,
                {
                    "dateObserved": stamp,
                    "pm25": round(pole.pm10 * 0.6 + wobble * 0.1, 2),
                    "pm10": round(pole.pm10 + wobble * 0.2, 2),
                    "no2": 18.0 + wobble,
                    "o3": 44.0 + wobble,
                    "temperature": 6.5 + wobble * 0.1,
                    "relativeHumidity": 61.0,
                    "atmosphericPressure": 1012.3,
                    "LAeq": 55.1,
                    "LAmax": 71.4,
                },
            )
        )
        if step % 3 == 0:
            out.append(
                (
                    Family.LIGHT,
                    None,
                    {
                        "dateObserved": stamp,
                        "powerState": pole.power_state,
                        "illuminanceLevel": 1.0 if pole.power_state == "on" else 0.0,
                        "activePower": 40.0 if pole.power_state == "on" else 0.0,
                        "totalActiveEnergyImport": 1204.25 + (steps - step) / 100,
                        "status": pole.lamp_status,
                    },
                )
            )
            if pole.wifi_status is not None and "wifi" in pole.capabilities:
                out.append(
                    (
                        Family.WIFI,
                        None,
                        {
                            "dateObserved": stamp,
                            "status": pole.wifi_status,
                            "connectedClients": 7 if pole.wifi_status == "up" else 0,
                            "bytesIn": 1000 * (steps - step),
                            "bytesOut": 2000 * (steps - step),
                        },
                    )
                )
    for connector, status in pole.connectors:
        out.append(
            (
                Family.EV,
                connector,
                {
                    "dateObserved": (now - timedelta(minutes=2)).isoformat(),
                    "status": status,
                    "errorCode": "GroundFailure" if status == "Faulted" else "NoError",
                    "chargingPower": 11.0 if status == "Charging" else 0.0,
                    "totalActiveEnergyImport": 5021.5,
                    **({"transactionId": "tx-1"} if status == "Charging" else {}),
                },
            )
        )
    return out


def seed_city(database_url: str, workdir: Path) -> WebCity:
    """Register the test poles and store their readings through the real writer."""
    city = City.named(DEFAULT_CITY, DEFAULT_LATITUDE, DEFAULT_LONGITUDE)
    districts_file = workdir / "districts.geojson"
    districts_file.write_text(json.dumps(district_outlines(city)), encoding="utf-8")
    poles = _poles(city)
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for pole in poles:
            conn.execute(
                "INSERT INTO poles (pole_id, name, district, latitude, longitude, capabilities)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    pole.pole_id,
                    f"{pole.district} {pole.pole_id[-1]}",
                    pole.district,
                    pole.latitude,
                    pole.longitude,
                    list(pole.capabilities),
                ),
            )
            for connector, _ in pole.connectors:
                conn.execute(
                    "INSERT INTO pole_connectors (pole_id, connector_id, max_power_kw, plug_type)"
                    " VALUES (%s, %s, 22, 'Type2')",
                    (pole.pole_id, connector),
                )
            set_reporting_interval(conn, pole.pole_id, INTERVAL_MIN * 60)
    with psycopg.connect(database_url) as conn:
        writer = ReadingWriter(conn)
        for pole in poles:
            readings = []
            for family, connector, payload in _payloads(pole, now):
                arrival = datetime.fromisoformat(payload["dateObserved"]) + timedelta(seconds=3)
                reading = MODEL_FOR_FAMILY[family].model_validate(
                    payload, context={"received_at": arrival}
                )
                readings.append(
                    ReceivedReading(PoleTopic(pole.pole_id, family, connector), reading, arrival)
                )
            writer.write_batch(readings, [])
    return WebCity("", database_url, poles, districts_file, now)


def city_settings(city: WebCity, **overrides: Any) -> ApiSettings:
    """The API of the test city: no response cache unless a test turns it on (every
    read sees what the test just wrote), no rate limit (one browser, many requests)."""
    settings: dict[str, Any] = {
        "database_url": city.database_url,
        "api_pool_size": 4,
        "api_cache_ttl_s": 0,
        "api_rate_limit_per_s": 0,
        "district_boundaries": city.districts_file,
    }
    return ApiSettings(**{**settings, **overrides})


@contextmanager
def serving(city: WebCity, **overrides: Any) -> Iterator[WebCity]:
    settings = city_settings(city, **overrides)
    with RunningApi(create_app(settings), settings) as running:
        yield dataclasses.replace(city, url=running.url)


@contextmanager
def chromium() -> Iterator[tuple[Playwright, Browser]]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # As root (CI) Chromium needs --no-sandbox; no GPU in headless here.
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield playwright, browser
        finally:
            browser.close()


@dataclass
class LocalOnly:
    """Every request the page makes, and the ones that tried to leave this machine
    (aborted: the page must work without them)."""

    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()


def new_page(
    browser: Browser,
    *,
    locale: str = "en-GB",
    geolocation: dict[str, float] | None = None,
    viewport: dict[str, int] | None = None,
) -> tuple[BrowserContext, Page, LocalOnly]:
    context = browser.new_context(
        locale=locale,
        viewport=viewport or {"width": 1280, "height": 860},  # type: ignore[arg-type]
        geolocation=geolocation,  # type: ignore[arg-type]
        permissions=["geolocation"] if geolocation else [],
        service_workers="block",
    )
    watch = LocalOnly()
    context.route("**/*", watch.route)
    page = context.new_page()
    return context, page, watch


def open_map(page: Page, city: WebCity) -> None:
    page.goto(f"{city.url}/map")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)


MARKER_TOTAL_JS = """() => {
  const clusters = [...document.querySelectorAll('.pole-cluster .cluster-count')]
    .reduce((sum, el) => sum + Number(el.dataset.count), 0);
  return clusters + document.querySelectorAll('.pole-marker').length;
}"""


def marker_total(page: Page) -> int:
    """Poles on the map: single markers plus the counts of the clusters, once the
    cluster animation has settled (two equal readings 150 ms apart)."""
    previous = -1
    for _ in range(40):
        total = int(page.evaluate(MARKER_TOTAL_JS))
        if total == previous:
            return total
        previous = total
        page.wait_for_timeout(150)
    return previous


def axe_source() -> str:
    path = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
    return path.read_text(encoding="utf-8")


def have_web_build() -> bool:
    dist = Path(__file__).resolve().parents[2] / "web" / "dist" / "manifest.json"
    return dist.is_file() and shutil.which("node") is not None
