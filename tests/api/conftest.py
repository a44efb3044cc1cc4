"""Fixtures of the API tests: a real uvicorn server on a free port in front of a
fresh, migrated PostgreSQL database, and helpers to put readings in through the
real writer (COPY + hourly rollup), as ingest would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from api.app import create_app
from api.cli import server_options
from config.services import ApiSettings
from models.readings import MODEL_FOR_FAMILY
from models.topics import Family, PoleTopic
from storage.writer import ReadingWriter, ReceivedReading, WriteResult
from tests.support.services import free_port, wait_until

ADMIN_KEY = "test-admin-key"


class RunningApi:
    """The app served as `smartpole api` serves it (api.cli.server_options:
    request size limits, trusted proxies), on a free port."""

    def __init__(self, app: Any, settings: ApiSettings | None = None) -> None:
        self.port = free_port()
        options = server_options(settings or ApiSettings())
        options.update(host="127.0.0.1", port=self.port)
        config = uvicorn.Config(app, lifespan="on", workers=1, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api-under-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningApi:
        self.thread.start()
        wait_until(
            lambda: self.server.started or not self.thread.is_alive(), 30, "the API to start"
        )
        if not self.server.started:
            raise RuntimeError("the API did not start (see the log above)")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def run_api(settings: ApiSettings) -> RunningApi:
    return RunningApi(create_app(settings), settings)


@pytest.fixture
def api_settings(database_url: str) -> ApiSettings:
    """The API as configured for tests: no response cache (api_cache_ttl_s=0), so
    every read sees what the test just wrote; test_response_cache.py turns it on."""
    return ApiSettings(
        database_url=database_url,
        api_key=ADMIN_KEY,  # type: ignore[arg-type]  # pydantic turns it into a SecretStr
        api_pool_size=4,
        api_cors_origins="https://app.example.org",
        api_cache_ttl_s=0,
    )


@pytest.fixture
def client(api_settings: ApiSettings) -> Iterator[httpx.Client]:
    """An HTTP client talking to a live API server (real sockets, real database)."""
    with run_api(api_settings) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        yield http


Put = Callable[..., WriteResult]


@pytest.fixture
def put(database_url: str) -> Iterator[Put]:
    """put(pole_id, family, payload_or_payloads, connector=None, received_at=None):
    stores readings through the real batch writer."""
    conn = psycopg.connect(database_url)
    writer = ReadingWriter(conn)

    def _put(
        pole_id: str,
        family: Family,
        payloads: dict[str, Any] | list[dict[str, Any]],
        connector: int | None = None,
        received_at: datetime | None = None,
    ) -> WriteResult:
        items = payloads if isinstance(payloads, list) else [payloads]
        topic = PoleTopic(pole_id, family, connector)
        readings = []
        for payload in items:
            observed = payload.get("dateObserved")
            arrival = received_at or (
                datetime.fromisoformat(observed) + timedelta(seconds=5) if observed else None
            )
            assert arrival is not None, "a last-will needs received_at"
            reading = MODEL_FOR_FAMILY[family].model_validate(
                payload, context={"received_at": arrival}
            )
            readings.append(ReceivedReading(topic, reading, arrival))
        return writer.write_batch(readings, [])

    yield _put
    conn.close()


def register_pole(
    db: psycopg.Connection[Any],
    pole_id: str,
    *,
    district: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    capabilities: tuple[str, ...] = (),
) -> None:
    """Test set-up of the registry (the admin API is tested on its own)."""
    db.execute(
        "INSERT INTO poles (pole_id, district, latitude, longitude, capabilities) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (pole_id) DO UPDATE SET district = "
        "EXCLUDED.district, latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude, "
        "capabilities = EXCLUDED.capabilities",
        (pole_id, district, lat, lon, list(capabilities)),
    )


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem document with this status; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status
    assert doc["title"] and doc["detail"] and doc["type"].startswith("https://")
    return doc
