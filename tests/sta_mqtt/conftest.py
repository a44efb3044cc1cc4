"""Fixtures of the SensorThings MQTT tests: the API of tests/api (for the HTTP
view of the same Observations), the test broker, and the publisher process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from config.services import ApiSettings
from models.catalogue.families import FAMILIES
from models.sensorthings.ids import StreamKind, datastream_id, observation_id
from models.sensorthings.mapping import OBSERVED_PROPERTIES
from tests.api.conftest import ADMIN_KEY, client, put
from tests.support.services import MosquittoServer
from tests.support.sta_publisher import Consumer, PublisherProcess

__all__ = ["client", "put"]


@pytest.fixture
def api_settings(database_url: str) -> ApiSettings:
    """The API of tests/api without its rate limit: the tests read every
    published Observation back over HTTP."""
    return ApiSettings(
        database_url=database_url,
        api_key=ADMIN_KEY,  # type: ignore[arg-type]  # pydantic turns it into a SecretStr
        api_pool_size=4,
        api_cache_ttl_s=0,
        api_rate_limit_per_s=0,
    )


MakePublisher = Callable[..., PublisherProcess]


def sta_base(client: httpx.Client) -> str:
    """The facade's URL as the API renders it in every @iot.selfLink."""
    return str(client.base_url).rstrip("/") + "/sta/v1.1"


@pytest.fixture
def make_publisher(
    database_url: str, mosquitto: MosquittoServer, client: httpx.Client, tmp_path: Path
) -> Iterator[MakePublisher]:
    """make_publisher(**settings): a publisher process (not started) whose links
    match the test API's."""
    made: list[PublisherProcess] = []

    def _make(**settings: str | int) -> PublisherProcess:
        process = PublisherProcess(
            database_url, mosquitto, sta_base(client), tmp_path / "sta-publish.log", **settings
        )
        made.append(process)
        return process

    yield _make
    for process in made:
        if process.running:
            process.stop()


@pytest.fixture
def consumer(mosquitto: MosquittoServer) -> Iterator[Consumer]:
    probe = Consumer(mosquitto.consumer_endpoint, "test-sta-consumer")
    yield probe
    probe.close()


def stored_observation_ids(db: psycopg.Connection[Any], datastream: int | None = None) -> set[int]:
    """Every raw Observation id the database holds (of one Datastream), by SQL
    independent of the publisher's: reading_id * 32 + slot of each non-null metric."""
    out: set[int] = set()
    for d in OBSERVED_PROPERTIES.values():
        spec = FAMILIES[d.family]
        connector = "r.connector_id" if spec.has_connector else "0"
        rows = db.execute(
            f"SELECT r.reading_id, s.stream_id FROM {spec.table} r JOIN sta_streams s "  # noqa: S608
            f"ON s.pole_id = r.pole_id AND s.family = %s AND s.connector_id = {connector} "
            f"WHERE r.{d.column} IS NOT NULL",
            (d.family.value,),
        ).fetchall()
        for reading_id, stream_id in rows:
            if datastream is None or datastream_id(stream_id, StreamKind.RAW, d.slot) == datastream:
                out.add(observation_id(reading_id, d.slot))
    return out
