"""Decoding rules, unit by unit (the end-to-end tests run them through MQTT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from models.readings import EnvReading, EvConnectorReading, PoleStatus
from models.vocabulary import OcppStatus
from models.wire import DecodeLimits, decode_message

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ENV = "smartpole/v1/poles/P/env"


def decode(payload: object, topic: str = ENV, **limits: object) -> tuple[list[object], list[str]]:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    decoded = decode_message(topic, raw, NOW, DecodeLimits(**limits))  # type: ignore[arg-type]
    return list(decoded.readings), [r.reason for r in decoded.rejections]


def test_device_time_is_normalised_to_utc() -> None:
    readings, rejections = decode({"dateObserved": "2026-11-24T13:00:00+01:00", "pm10": 1})
    assert rejections == []
    assert isinstance(readings[0], EnvReading)
    assert readings[0].date_observed == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_future_is_judged_against_receipt_time_with_the_configured_skew() -> None:
    just_ok = (NOW + timedelta(seconds=299)).isoformat()
    too_far = (NOW + timedelta(seconds=301)).isoformat()
    assert decode({"dateObserved": just_ok, "pm10": 1})[1] == []
    assert "301 s ahead" in decode({"dateObserved": too_far, "pm10": 1})[1][0]
    lenient = decode({"dateObserved": too_far, "pm10": 1}, max_future_skew=timedelta(hours=1))
    assert lenient[1] == []


def test_an_env_reading_needs_a_measurement() -> None:
    assert decode({"dateObserved": NOW.isoformat()})[1] == [
        "reading: an env reading needs at least one measurement"
    ]


@pytest.mark.parametrize("value", [True, "1", [1], {"v": 1}])
def test_numbers_are_strict(value: object) -> None:
    assert (
        "pm10: Input should be a valid number"
        in decode({"dateObserved": NOW.isoformat(), "pm10": value})[1][0]
    )


def test_ev_and_status_models() -> None:
    readings, _ = decode(
        {"dateObserved": NOW.isoformat(), "status": "Faulted", "errorCode": "GroundFailure"},
        topic="smartpole/v1/poles/P/ev/2",
    )
    assert isinstance(readings[0], EvConnectorReading)
    assert readings[0].status is OcppStatus.FAULTED
    will, _ = decode({"status": "offline"}, topic="smartpole/v1/poles/P/status")
    assert isinstance(will[0], PoleStatus) and will[0].date_observed is None
    _, bad = decode(
        {"dateObserved": NOW.isoformat(), "status": "Charging", "transactionId": "x" * 65},
        topic="smartpole/v1/poles/P/ev/2",
    )
    assert "transactionId" in bad[0]
    _, control = decode(
        {"dateObserved": NOW.isoformat(), "status": "online", "firmwareVersion": "1\n2"},
        topic="smartpole/v1/poles/P/status",
    )
    assert "firmwareVersion" in control[0]


def test_wire_output_of_a_model_is_accepted_back() -> None:
    reading = EnvReading(dateObserved=NOW, pm10=12.5, LAeq=50, LAmax=60)  # type: ignore[call-arg]
    readings, rejections = decode(reading.wire())
    assert rejections == [] and readings == [reading]
    assert set(reading.wire()) == {"dateObserved", "pm10", "LAeq", "LAmax"}


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"dateObserved": "2026-11-24T12:00:00Z", "pm10": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b"[" + b"[" * 50_000 + b"]" * 50_000 + b"]",
    ],
)
def test_deeply_nested_json_is_rejected_not_crashing(payload: bytes) -> None:
    readings, rejections = decode(payload)
    assert readings == [] and len(rejections) == 1
