"""Versioned, idempotent schema migrations and TimescaleDB policies.

Migrations are the SQL files in `storage/migrations/`, applied in version
order, each in its own transaction and recorded in `schema_migrations`.
Files named `NNNN_name.timescale.sql` apply only while TimescaleDB is active;
on plain PostgreSQL they stay pending, so installing the extension later and
migrating again converts the tables. Policies (compression, retention) are
configuration: they are re-applied from settings on every run, and so are
the objects derived from the domain catalogue (the `pole_health` view) and
the health thresholds in effect.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from config.services import StorageSettings, TimescaleMode
from models.catalogue.health import DEFAULT_HEALTH, HealthThresholds
from storage.connection import connect_with_retry
from storage.health_view import recreate_view, write_thresholds
from storage.tables import READING_TABLES

log = logging.getLogger(__name__)

MIGRATION_FILE = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?P<timescale>\.timescale)?\.sql$"
)
# Serialises concurrent migrators (several ingest replicas starting at once).
MIGRATION_LOCK_KEY = 0x5E7A_901E

DATABASE_STARTUP_TIMEOUT_S = 60.0


class MigrationError(RuntimeError):
    pass


class SchemaNotCurrent(RuntimeError):  # noqa: N818 - a state, not an error of ours
    """A service found migrations not yet applied; the message says which."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    timescale_only: bool
    sql_text: str


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    compress_after_days: int = 7
    retention_days: int = 0  # 0: keep forever


@dataclass(slots=True)
class MigrationReport:
    timescaledb: bool
    timescaledb_version: str | None
    applied: list[str] = field(default_factory=list)
    pending_without_timescaledb: list[str] = field(default_factory=list)


def load_migrations() -> list[Migration]:
    folder = resources.files("storage") / "migrations"
    migrations = []
    for entry in folder.iterdir():
        match = MIGRATION_FILE.match(entry.name)
        if match is None:
            continue
        migrations.append(
            Migration(
                version=int(match["version"]),
                name=match["name"],
                timescale_only=bool(match["timescale"]),
                sql_text=entry.read_text(encoding="utf-8"),
            )
        )
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return migrations


def timescaledb_available(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def timescaledb_version(conn: psycopg.Connection[Any]) -> str | None:
    """The installed TimescaleDB version in this database, None on plain PostgreSQL."""
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    return None if row is None else str(row[0])


def migrate_database(settings: StorageSettings) -> MigrationReport:
    """`smartpole db migrate` as a function: connect (waiting for a database that is
    still starting), migrate with the settings' policies and thresholds, close."""
    conn = connect_with_retry(
        settings.require_database_url(), give_up_after_s=DATABASE_STARTUP_TIMEOUT_S
    )
    assert conn is not None  # no stop condition was given
    with conn:
        return migrate(
            conn,
            settings.timescaledb,
            StoragePolicy(settings.compress_after_days, settings.retention_days),
            HealthThresholds(
                offline_after=timedelta(seconds=settings.health_offline_after_s),
                stale_sensor_after=timedelta(seconds=settings.health_stale_sensor_after_s),
            ),
        )


def migrate(
    conn: psycopg.Connection[Any],
    mode: TimescaleMode = "auto",
    policy: StoragePolicy | None = None,
    thresholds: HealthThresholds = DEFAULT_HEALTH,
) -> MigrationReport:
    """Bring the schema up to date. Safe to run any number of times.

    Leaves `conn` in autocommit mode: each migration manages its own transaction."""
    policy = policy or StoragePolicy()
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        use_timescale = _enable_timescaledb(conn, mode)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied_versions = {
            row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()
        }
        report = MigrationReport(use_timescale, timescaledb_version(conn))
        for migration in load_migrations():
            label = f"{migration.version:04d}_{migration.name}"
            if migration.version in applied_versions:
                continue
            if migration.timescale_only and not use_timescale:
                report.pending_without_timescaledb.append(label)
                continue
            with conn.transaction():
                # bytes: the file is trusted SQL, sent as-is without parameters
                conn.execute(migration.sql_text.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            log.info("applied migration %s", label)
            report.applied.append(label)
        if use_timescale:
            apply_timescale_policies(conn, policy)
        write_thresholds(conn, thresholds)
        recreate_view(conn)
        return report
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _enable_timescaledb(conn: psycopg.Connection[Any], mode: TimescaleMode) -> bool:
    if mode == "off":
        return False
    if not timescaledb_available(conn):
        if mode == "on":
            raise MigrationError(
                "SMARTPOLE_TIMESCALEDB=on but the timescaledb extension is not installed "
                "on this PostgreSQL server"
            )
        return False
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return True


def apply_timescale_policies(conn: psycopg.Connection[Any], policy: StoragePolicy) -> None:
    """Make the compression and retention jobs match the settings."""
    for table in READING_TABLES.values():
        ident = sql.Literal(table)
        conn.execute(
            sql.SQL("SELECT remove_compression_policy({}, if_exists => true)").format(ident)
        )
        conn.execute(
            sql.SQL("SELECT add_compression_policy({}, {}::interval)").format(
                ident, sql.Literal(f"{policy.compress_after_days} days")
            )
        )
        conn.execute(sql.SQL("SELECT remove_retention_policy({}, if_exists => true)").format(ident))
        if policy.retention_days > 0:
            conn.execute(
                sql.SQL("SELECT add_retention_policy({}, {}::interval)").format(
                    ident, sql.Literal(f"{policy.retention_days} days")
                )
            )


def pending_migrations(conn: psycopg.Connection[Any]) -> list[str]:
    """Migrations not yet applied (ignoring TimescaleDB-only ones on plain PostgreSQL)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    applied: set[int] = set()
    if exists and exists[0]:
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    active = timescaledb_version(conn) is not None
    return [
        f"{m.version:04d}_{m.name}"
        for m in load_migrations()
        if m.version not in applied and (active or not m.timescale_only)
    ]
