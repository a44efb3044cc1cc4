"""Valid wire payloads of every family, for tests that need realistic traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

BASE_TIME = datetime(2026, 3, 1, tzinfo=UTC)
TOPIC = "smartpole/v1/poles/{pole}/{family}"


def stamp(minutes: int) -> str:
    return (BASE_TIME + timedelta(minutes=minutes)).isoformat()


def env(minutes: int, **overrides: Any) -> dict[str, Any]:
    return {
        "dateObserved": stamp(minutes),
        "pm25": 8.5,
        "pm10": 17.0 + minutes % 7,
        "no2": 31.2,
        "o3": 54.0,
        "temperature": 6.5,
        "relativeHumidity": 81.0,
        "atmosphericPressure": 1012.3,
        "LAeq": 55.1,
        "LAmax": 71.4,
        **overrides,
    }


def light(minutes: int, **overrides: Any) -> dict[str, Any]:
    return {
        "dateObserved": stamp(minutes),
        "powerState": "low",
        "illuminanceLevel": 0.4,
        "activePower": 28.5,
        "totalActiveEnergyImport": 1204.25 + minutes / 100,
        "status": "ok",
        **overrides,
    }


def wifi(minutes: int, **overrides: Any) -> dict[str, Any]:
    return {
        "dateObserved": stamp(minutes),
        "status": "up",
        "connectedClients": 12,
        "bytesIn": 123_456_789 + minutes,
        "bytesOut": 987_654_321 + minutes,
        **overrides,
    }


def ev(minutes: int, **overrides: Any) -> dict[str, Any]:
    return {
        "dateObserved": stamp(minutes),
        "status": "Charging",
        "errorCode": "NoError",
        "chargingPower": 10.8,
        "totalActiveEnergyImport": 5021.5 + minutes / 10,
        "transactionId": "tx-4711",
        **overrides,
    }


def status(minutes: int, **overrides: Any) -> dict[str, Any]:
    return {
        "dateObserved": stamp(minutes),
        "status": "online",
        "firmwareVersion": "2.4.1",
        **overrides,
    }


def topic(pole: str, family: str) -> str:
    return TOPIC.format(pole=pole, family=family)
