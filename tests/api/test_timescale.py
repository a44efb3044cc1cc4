"""The read queries on TimescaleDB (PGlite build): hypertables with compressed
chunks answer the same as plain PostgreSQL, and /health reports TimescaleDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from config.services import ApiSettings
from storage.migrate import migrate
from storage.readmodels.rebuild import rebuild, rebuild_latest
from storage.readmodels.spec import ALL_ROLLUPS
from tests.api.conftest import run_api
from tests.support.pglite import running_pglite

pytestmark = pytest.mark.timescale

SEED = [
    "INSERT INTO poles (pole_id, district, latitude, longitude, capabilities) VALUES "
    "('TS1', 'Mitte', 52.52, 13.40, '{env,ev}'), ('TS2', 'Pankow', 52.57, 13.41, '{env}')",
    # Two days of minute readings around the spring DST change, into the raw hypertable.
    "INSERT INTO env_readings (pole_id, observed_at, received_at, pm10) "
    "SELECT p, t, t, 10 FROM unnest('{TS1,TS2}'::text[]) AS p, generate_series("
    "timestamptz '2026-03-28T23:00Z', timestamptz '2026-03-30T21:59Z', interval '1 minute') AS t",
    "INSERT INTO ev_readings (pole_id, connector_id, observed_at, received_at, status, error_code,"
    " total_active_energy_import) VALUES "
    "('TS1', 1, '2026-03-29T10:00Z', now(), 'Charging', 'NoError', 10),"
    "('TS1', 1, '2026-03-29T11:00Z', now(), 'Available', 'NoError', 15),"
    "('TS1', 2, '2026-03-29T11:00Z', now(), 'Faulted', 'GroundFailure', 3)",
]
COMPRESS = [
    "SELECT compress_chunk(c) FROM show_chunks('env_readings') AS c",
    "SELECT compress_chunk(c) FROM show_chunks('ev_readings') AS c",
]


@pytest.fixture(scope="module")
def timescale_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    workdir: Path = tmp_path_factory.mktemp("pglite-api")
    with running_pglite(workdir, in_memory=True) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            migrate(conn, "on")
            for statement in SEED:
                conn.execute(statement.encode())
            # The read models the writer would have kept (COPY crashes PGlite): the
            # rebuild's SQL, which the read-model tests hold equal to the writer's.
            rebuild(conn, ALL_ROLLUPS)
            rebuild_latest(conn)
            for statement in COMPRESS:
                conn.execute(statement.encode())
        # PGlite serves one connection at a time: a pool of one.
        settings = ApiSettings(database_url=dsn, api_pool_size=1, api_cache_ttl_s=0)
        with run_api(settings) as running, httpx.Client(base_url=running.url, timeout=60) as http:
            yield http


def test_health_reports_timescaledb(timescale_api: httpx.Client) -> None:
    body = timescale_api.get("/health").json()
    assert body["timescaledb"] is True and body["timescaledb_version"]


def test_series_over_compressed_chunks(timescale_api: httpx.Client) -> None:
    window = {"from": "2026-03-29T00:00:00+01:00", "to": "2026-03-31T00:00:00+02:00"}
    daily = timescale_api.get(
        "/v1/poles/TS1/series/env/pm10", params={**window, "interval": "day", "agg": "count"}
    ).json()
    assert [(p["time"], p["value"]) for p in daily["points"]] == [
        ("2026-03-29T00:00:00+01:00", 23 * 60.0),
        ("2026-03-30T00:00:00+02:00", 24 * 60.0),
    ]
    raw = timescale_api.get(
        "/v1/poles/TS1/series/env/pm10",
        params={
            "interval": "raw",
            "limit": 5,
            "from": "2026-03-29T01:58:00+01:00",
            "to": "2026-03-30T00:00:00Z",
        },
    ).json()
    assert [p["time"] for p in raw["points"]][:3] == [
        "2026-03-29T01:58:00+01:00",
        "2026-03-29T01:59:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]
    following = timescale_api.get(raw["next"]).json()["points"]
    assert following[0]["time"] == "2026-03-29T03:03:00+02:00"
    five = timescale_api.get(
        "/v1/poles/TS1/series/env/pm10",
        params={
            "interval": "5min",
            "agg": "count",
            "from": "2026-03-29T10:00:00Z",
            "to": "2026-03-29T10:10:00Z",
        },
    ).json()
    assert [p["value"] for p in five["points"]] == [5.0, 5.0]


def test_latest_aggregates_and_chargers(timescale_api: httpx.Client) -> None:
    latest = timescale_api.get("/v1/poles/TS1/latest").json()
    assert latest["env"]["observed_at"] == "2026-03-30T21:59:00Z"
    assert [(c["connector_id"], c["status"]) for c in latest["ev"]] == [
        (1, "Available"),
        (2, "Faulted"),
    ]
    districts = timescale_api.get(
        "/v1/aggregates/env/pm10",
        params={"from": "2026-03-29T00:00:00+01:00", "to": "2026-03-30T00:00:00+02:00"},
    ).json()
    assert [(p["group"], p["value"]) for p in districts["points"]] == [
        ("Mitte", 10.0),
        ("Pankow", 10.0),
    ]
    available = timescale_api.get(
        "/v1/ev/connectors", params={"status": "Available", "lat": 52.5, "lon": 13.4}
    ).json()
    assert [c["pole_id"] for c in available["items"]] == ["TS1"]
    energy = timescale_api.get(
        "/v1/ev/energy", params={"from": "2026-03-29T00:00:00Z", "to": "2026-03-30T00:00:00Z"}
    ).json()
    assert [e["energy_kwh"] for e in energy["items"]] == [5.0]
