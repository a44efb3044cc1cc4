"""Fixtures: a real PostgreSQL per session (a fresh database per test, cloned
from a migrated template), a real Mosquitto per test, and ingest processes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from storage.migrate import migrate
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.services import (
    MosquittoServer,
    PostgresServer,
    create_database,
    running_mosquitto,
    running_postgres,
)

TEMPLATE_DB = "smartpole_template"
_db_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with running_postgres(tmp_path_factory.mktemp("postgres")) as server:
        url = create_database(server, TEMPLATE_DB)
        with psycopg.connect(url) as conn:
            migrate(conn, "off")
        yield server


@pytest.fixture
def database_url(postgres: PostgresServer) -> str:
    """A fresh, migrated database of its own for each test."""
    return create_database(postgres, f"test_{next(_db_numbers)}", template=TEMPLATE_DB)


@pytest.fixture
def empty_database_url(postgres: PostgresServer) -> str:
    return create_database(postgres, f"empty_{next(_db_numbers)}")


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        yield broker


@pytest.fixture
def publisher(mosquitto: MosquittoServer) -> Iterator[TestPublisher]:
    client = TestPublisher(mosquitto.port)
    yield client
    client.close()


@pytest.fixture
def ingest(
    database_url: str, mosquitto: MosquittoServer, tmp_path: Path
) -> Iterator[IngestProcess]:
    """An ingest worker, not yet started: tests decide when."""
    process = IngestProcess(database_url, mosquitto.url, tmp_path / "ingest.log")
    yield process
    if process.running:
        process.stop()
