"""Seeded databases for running the dashboards' SQL: plain PostgreSQL and TimescaleDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from storage.migrate import migrate
from tests.conftest import TEMPLATE_DB
from tests.dashboards.seed import seed
from tests.support.pglite import running_pglite
from tests.support.services import PostgresServer, create_database


@pytest.fixture(scope="module")
def seeded_postgres(postgres: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    """One seeded plain-PostgreSQL database shared by a module's read-only queries."""
    url = create_database(postgres, f"dashboards_{id(object())}", template=TEMPLATE_DB)
    with psycopg.connect(url, autocommit=True) as conn:
        seed(conn)
        yield conn


@pytest.fixture(scope="module")
def seeded_timescale(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[psycopg.Connection[Any]]:
    """TimescaleDB (PGlite), migrated with hypertables and seeded; one connection only."""
    with (
        running_pglite(tmp_path_factory.mktemp("pglite"), in_memory=True) as dsn,
        psycopg.connect(dsn, autocommit=True) as conn,
    ):
        report = migrate(conn, "on")
        assert report.timescaledb
        seed(conn)
        yield conn
