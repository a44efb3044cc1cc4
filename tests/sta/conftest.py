"""Fixtures of the SensorThings tests: the API of tests/api (a real uvicorn in
front of a fresh migrated PostgreSQL), and a small fleet written through the
real ingest writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from config.services import ApiSettings
from models.topics import Family
from tests.api.conftest import ADMIN_KEY, Put, client, put, register_pole

__all__ = ["client", "put"]


@pytest.fixture
def api_settings(database_url: str) -> ApiSettings:
    """The API as tests/api configures it, without the per-client rate limit: one
    test client follows thousands of nextLinks and fuzzes $filter faster than the
    20 requests/s a client gets (the limit itself: tests/api/test_abuse.py)."""
    return ApiSettings(
        database_url=database_url,
        api_key=ADMIN_KEY,  # type: ignore[arg-type]  # pydantic turns it into a SecretStr
        api_pool_size=4,
        api_cache_ttl_s=0,
        api_rate_limit_per_s=0,
    )


START = datetime(2026, 6, 1, tzinfo=UTC)
# Raw Datastreams (not the hourly/daily aggregates of them).
RAW = "properties/aggregateDuration eq null"
HOURS = 6


@dataclass
class Fleet:
    poles: dict[str, tuple[float, float]]  # pole -> (lon, lat)
    env_readings: int  # per pole
    start: datetime


def env_payloads(
    start: datetime, count: int, step: timedelta, **fixed: float
) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        payload: dict[str, Any] = {
            "dateObserved": (start + i * step).isoformat(),
            "pm10": 10.0 + i % 7,
            "pm25": 5.0 + i % 5,
            "no2": 20.0 + i % 11,
            "temperature": 15.0 + (i % 10) / 10,
        }
        payload.update(fixed)
        out.append(payload)
    return out


@pytest.fixture
def fleet(db: psycopg.Connection[Any], put: Put) -> Fleet:
    poles = {
        "P1": (13.40, 52.52),
        "P2": (13.41, 52.53),
        "P3": (9.99, 53.55),
    }
    districts = {"P1": "Mitte", "P2": "Mitte", "P3": "Altona"}
    for pole, (lon, lat) in poles.items():
        register_pole(db, pole, district=districts[pole], lat=lat, lon=lon,
                      capabilities=("env", "light", "ev"))  # fmt: skip
    per_pole = HOURS * 6  # every 10 minutes
    for pole in poles:
        put(pole, Family.ENV, env_payloads(START, per_pole, timedelta(minutes=10)))
    put("P1", Family.LIGHT, [
        {"dateObserved": (START + timedelta(hours=h)).isoformat(), "powerState": "on",
         "activePower": 40.0 + h, "illuminanceLevel": 1.0}
        for h in range(HOURS)
    ])  # fmt: skip
    for connector in (1, 2):
        put("P2", Family.EV, [
            {"dateObserved": (START + timedelta(hours=h)).isoformat(), "status": "Charging",
             "chargingPower": 11.0 * connector, "totalActiveEnergyImport": 100.0 + h}
            for h in range(HOURS)
        ], connector=connector)  # fmt: skip
    return Fleet(poles, per_pole, START)


def get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/sta/v1.1/{path}", params=params)
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def error(client: httpx.Client, path: str, status: int, **params: Any) -> str:
    response = client.get(f"/sta/v1.1/{path}", params=params)
    assert response.status_code == status, response.text
    doc = response.json()
    assert doc["code"] == status and doc["message"], doc
    message: str = doc["message"]
    return message
