"""Pole health (online/offline honestly, stale sensors, faults) and /health, /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from config.services import ApiSettings
from models.topics import Family
from tests.api.conftest import Put, problem, register_pole, run_api


def test_online_offline_stale_and_faults(
    client: httpx.Client, put: Put, db: psycopg.Connection[Any]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    recent = (now - timedelta(seconds=30)).isoformat()
    # OK1: talking, every sensor fresh.
    put("OK1", Family.STATUS, {"dateObserved": recent, "status": "online"})
    put("OK1", Family.ENV, {"dateObserved": recent, "pm10": 5.0})
    # WILL: the broker published its last-will.
    put("WILL", Family.STATUS, {"status": "offline"}, received_at=now - timedelta(seconds=10))
    # QUIET: said online, then silence beyond the expected cadence (300 s).
    old = now - timedelta(hours=1)
    put("QUIET", Family.STATUS, {"dateObserved": old.isoformat(), "status": "online"})
    # LAMP: online, light defective, env stale (last reading 2 h ago, device clock).
    put(
        "LAMP",
        Family.LIGHT,
        {"dateObserved": recent, "powerState": "on", "status": "defectiveLamp"},
    )
    put(
        "LAMP",
        Family.ENV,
        {"dateObserved": (now - timedelta(hours=2)).isoformat(), "pm10": 1.0},
        received_at=now,
    )
    # EV: one connector Faulted, one with an error code, one fine.
    put("EV", Family.EV, {"dateObserved": recent, "status": "Faulted"}, connector=1)
    put(
        "EV",
        Family.EV,
        {"dateObserved": recent, "status": "Available", "errorCode": "HighTemperature"},
        connector=2,
    )
    put("EV", Family.EV, {"dateObserved": recent, "status": "Charging"}, connector=3)
    register_pole(db, "NEW")  # registered by an operator, never heard from
    items = {i["pole_id"]: i for i in client.get("/v1/health/poles").json()["items"]}
    assert items["OK1"]["connection"] == "online" and items["OK1"]["stale_sensors"] == []
    assert items["WILL"]["connection"] == "offline" and "last-will" in items["WILL"]["reason"]
    assert items["QUIET"]["connection"] == "offline" and "silent" in items["QUIET"]["reason"]
    assert items["LAMP"]["connection"] == "online"
    assert items["LAMP"]["lamp_fault"] == "defectiveLamp"
    assert items["LAMP"]["stale_sensors"] == ["env"]
    assert [
        (f["connector_id"], f["status"], f["error_code"]) for f in items["EV"]["charger_faults"]
    ] == [
        (1, "Faulted", "NoError"),
        (2, "Available", "HighTemperature"),
    ]
    assert items["NEW"]["connection"] == "unknown"
    one = client.get("/v1/health/poles", params={"pole_id": "EV"}).json()["items"]
    assert [i["pole_id"] for i in one] == ["EV"]
    problem(client.get("/v1/health/poles", params={"pole_id": "../x"}), 422)


def test_service_health_and_metrics(client: httpx.Client, put: Put) -> None:
    body = client.get("/health").json()
    assert body["database"] == "reachable" and body["timescaledb"] is False
    assert body["last_message_age_s"] is None and body["poles"] == 0
    put(
        "P1",
        Family.ENV,
        {"dateObserved": datetime.now(UTC).isoformat(), "pm10": 1.0},
        received_at=datetime.now(UTC),
    )
    body = client.get("/health").json()
    assert body["status"] == "ok" and 0 <= body["last_message_age_s"] < 60
    client.get("/v1/poles/P1")
    client.get("/v1/random/junk/path")
    metrics = client.get("/metrics").text
    assert 'route="/v1/poles/{pole_id}",status="200"' in metrics
    assert 'route="unmatched",status="404"' in metrics and "junk" not in metrics
    assert "smartpole_api_db_pool_size" in metrics


def test_health_reports_an_unreachable_database(
    api_settings: ApiSettings, database_url: str
) -> None:
    # Requests wait for a connection up to the pool's timeout (10 s) before a 503.
    with run_api(api_settings) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        with psycopg.connect(
            database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True
        ) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database_url.rsplit("/", 1)[1],),
            )
            admin.execute(
                "ALTER DATABASE " + database_url.rsplit("/", 1)[1] + " ALLOW_CONNECTIONS false"
            )
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database_url.rsplit("/", 1)[1],),
            )
            down = http.get("/health")
            assert down.status_code == 503 and down.json()["database"] == "unreachable"
            problem(http.get("/v1/poles"), 503)
            admin.execute(
                "ALTER DATABASE " + database_url.rsplit("/", 1)[1] + " ALLOW_CONNECTIONS true"
            )
        assert http.get("/v1/poles").status_code == 200
