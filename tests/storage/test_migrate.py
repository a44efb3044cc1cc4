"""Migrations on plain PostgreSQL and on TimescaleDB (the PGlite build)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

import storage.migrate
from models.topics import Family
from storage.migrate import (
    MigrationError,
    StoragePolicy,
    load_migrations,
    migrate,
    pending_migrations,
)
from storage.readmodels.merge import merge_staged
from storage.writer import ReadingWriter
from tests.support.pglite import running_pglite

READING_TABLES = {"env_readings", "light_readings", "wifi_readings", "ev_readings", "status_events"}


def _labels(timescale_only: bool) -> list[str]:
    return [
        f"{m.version:04d}_{m.name}" for m in load_migrations() if m.timescale_only == timescale_only
    ]


def test_plain_postgresql_migrates_and_reruns_as_a_no_op(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert pending_migrations(conn) == _labels(timescale_only=False)
        assert "0001_core" in _labels(timescale_only=False)
        first = migrate(conn, "auto")
        again = migrate(conn, "auto")
        assert first.timescaledb is False
        assert first.applied == _labels(timescale_only=False)
        assert first.pending_without_timescaledb == _labels(timescale_only=True)
        assert "0002_hypertables" in first.pending_without_timescaledb
        assert again.applied == []
        assert pending_migrations(conn) == []
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert READING_TABLES | {"poles", "quarantine", "env_hourly", "schema_migrations"} <= tables


def test_timescaledb_installed_but_not_preloaded_is_reported_before_create_extension(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A stock TimescaleDB package without shared_preload_libraries: CREATE EXTENSION
    would raise a FATAL that drops the session. This PostgreSQL has no TimescaleDB,
    so it answers "available" by stand-in; had migrate run CREATE EXTENSION, the
    missing control file would fail it instead of the clear message."""
    monkeypatch.setattr(storage.migrate, "timescaledb_available", lambda conn: True)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        with pytest.raises(MigrationError, match="shared_preload_libraries"):
            migrate(conn, "on")
        report = migrate(conn, "auto")  # the failed run released its lock
        assert report.timescaledb is False and "0001_core" in report.applied
        assert "shared_preload_libraries = 'timescaledb'" in caplog.text
        assert "SMARTPOLE_TIMESCALEDB=off" in caplog.text
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")\
            .fetchone() == (0,)  # fmt: skip


def test_requiring_timescaledb_where_it_is_missing_fails_clearly(empty_database_url: str) -> None:
    with (
        psycopg.connect(empty_database_url) as conn,
        pytest.raises(MigrationError, match="not installed"),
    ):
        migrate(conn, "on")


@pytest.fixture(scope="module")
def timescale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_pglite(tmp_path_factory.mktemp("pglite")) as dsn:
        yield dsn


def job_ids(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        "SELECT proc_name, hypertable_name, job_id FROM timescaledb_information.jobs"
        " WHERE hypertable_name IS NOT NULL"
    ).fetchall()
    return {(proc, table): job for proc, table, job in rows}


def jobs(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    rows = conn.execute(
        "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs"
        " WHERE hypertable_name IS NOT NULL"
    ).fetchall()
    return {(proc, table): config for proc, table, config in rows}


@pytest.mark.timescale
def test_timescaledb_gets_hypertables_compression_and_policies(timescale: str) -> None:
    with psycopg.connect(timescale) as conn:
        # Start on plain tables with data in them: migrating later converts them.
        migrate(conn, "off")
        conn.execute(
            "INSERT INTO env_readings (pole_id, observed_at, received_at, pm10)"
            " VALUES ('A', '2026-01-01T00:00Z', now(), 10)"
        )
        report = migrate(conn, "on", StoragePolicy(compress_after_days=3, retention_days=400))
        assert report.timescaledb and report.timescaledb_version
        assert report.applied == _labels(timescale_only=True)

        hypertables = {
            name: compressed
            for name, compressed in conn.execute(
                "SELECT hypertable_name, compression_enabled"
                " FROM timescaledb_information.hypertables"
            )
        }
        assert hypertables == {
            **dict.fromkeys(READING_TABLES, True),
            "env_hourly": False,
            "wifi_hourly": False,
        }
        segment_by = conn.execute(
            "SELECT attname FROM timescaledb_information.compression_settings"
            " WHERE hypertable_name = 'ev_readings' AND segmentby_column_index IS NOT NULL"
            " ORDER BY segmentby_column_index"
        ).fetchall()
        assert segment_by == [("pole_id",), ("connector_id",)]
        configured = jobs(conn)
        for table in READING_TABLES:
            assert configured[("policy_compression", table)]["compress_after"] == "3 days"
            assert configured[("policy_retention", table)]["drop_after"] == "400 days"
        assert conn.execute("SELECT count(*) FROM env_readings").fetchone() == (1,)

        # The same settings again: every job keeps its id (and so its history and
        # any alter_job tuning).
        before = job_ids(conn)
        assert migrate(conn, "on", StoragePolicy(3, 400)).applied == []
        assert job_ids(conn) == before
        # Policies follow changed settings; the schema is not touched again.
        rerun = migrate(conn, "on", StoragePolicy(compress_after_days=7, retention_days=400))
        assert rerun.applied == []
        configured = jobs(conn)
        assert configured[("policy_compression", "env_readings")]["compress_after"] == "7 days"
        after = job_ids(conn)
        retention = {k: v for k, v in after.items() if k[0] == "policy_retention"}
        assert retention == {k: v for k, v in before.items() if k[0] == "policy_retention"}
        assert all(after[k] != before[k] for k in after if k[0] == "policy_compression")
        migrate(conn, "on", StoragePolicy(compress_after_days=7, retention_days=0))
        assert not any(proc == "policy_retention" for proc, _ in jobs(conn))


@pytest.mark.timescale
def test_merge_and_rollup_work_on_compressed_hypertables(timescale: str) -> None:
    """The writer's merge (minus COPY, which PGlite cannot do) on TimescaleDB,
    including a late duplicate and a late new reading into a compressed chunk."""
    with psycopg.connect(timescale) as conn:
        migrate(conn, "on")
        conn.execute("TRUNCATE env_readings, env_hourly")
        conn.autocommit = False  # staged rows live until their transaction commits
        ReadingWriter(conn)._ensure_staging()
        old = datetime(2025, 6, 1, tzinfo=UTC)

        def merge(minutes: list[int], pm10: float) -> int:
            for m in minutes:
                conn.execute(
                    "INSERT INTO stage_env_readings (pole_id, observed_at, received_at, pm10, laeq)"
                    " VALUES ('A', %s, now(), %s, 60)",
                    (old + timedelta(minutes=m), pm10),
                )
            with conn.cursor() as cur:
                return merge_staged(cur, Family.ENV)

        assert merge(list(range(0, 120, 10)), 20.0) == 12
        conn.commit()
        compression_job = jobs_ids(conn, "policy_compression", "env_readings")
        conn.commit()
        conn.autocommit = True  # a job commits by itself
        conn.execute("CALL run_job(%s)", (compression_job,))
        conn.autocommit = False
        compressed = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'env_readings' AND is_compressed"
        ).fetchone()
        assert compressed == (1,)
        assert merge([0, 10], 99.0) == 0  # redelivered into a compressed chunk: no duplicate
        assert merge([5], 50.0) == 1  # late, new, into a compressed chunk
        conn.commit()
        assert conn.execute("SELECT count(*), max(pm10) FROM env_readings").fetchone() == (13, 50.0)
        hourly = conn.execute(
            "SELECT bucket, readings, pm10_count, pm10_sum, pm10_max"
            " FROM env_hourly ORDER BY bucket"
        ).fetchall()
        assert hourly == [
            (old, 7, 7, 170.0, 50.0),
            (old + timedelta(hours=1), 6, 6, 120.0, 20.0),
        ]


def jobs_ids(conn: psycopg.Connection[Any], proc: str, table: str) -> int:
    row = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = %s AND hypertable_name = %s",
        (proc, table),
    ).fetchone()
    assert row is not None
    return int(row[0])
