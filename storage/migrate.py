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

from config.base import LocalTimeSettings
from config.services import StorageSettings, TimescaleMode
from models.catalogue.health import DEFAULT_HEALTH, HealthThresholds
from storage.connection import connect_with_retry
from storage.health_view import recreate_view, write_thresholds
from storage.readmodels.rebuild import sync_local_zone
from storage.tables import READING_TABLES

log = logging.getLogger(__name__)

MIGRATION_FILE = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?P<timescale>\.timescale)?\.sql$"
)
# Serialises concurrent migrators (several ingest replicas starting at once).
MIGRATION_LOCK_KEY = 0x5E7A_901E

DATABASE_STARTUP_TIMEOUT_S = 60.0
DEFAULT_LOCAL_ZONE: str = LocalTimeSettings.model_fields["timezone"].default


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
    rebuilt: list[str] = field(default_factory=list)  # read models rebuilt


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
            local_zone=settings.timezone,
        )


def migrate(
    conn: psycopg.Connection[Any],
    mode: TimescaleMode = "auto",
    policy: StoragePolicy | None = None,
    thresholds: HealthThresholds = DEFAULT_HEALTH,
    local_zone: str = DEFAULT_LOCAL_ZONE,
) -> MigrationReport:
    """Bring the schema up to date. Safe to run any number of times.

    `local_zone` is the zone of the daily rollups' local days: recorded on the
    first run (which fills the read models from what is stored), and a change
    rebuilds the local-day rollups (storage/readmodels/rebuild.py).

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
        report.rebuilt = sync_local_zone(conn, local_zone)
        return report
    finally:
        # A FATAL (a server that drops the session) leaves nothing to unlock, and
        # the lock went with the session: say what happened, not "connection closed".
        if not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


NOT_PRELOADED = (
    "the timescaledb extension is installed on this PostgreSQL server but not preloaded: "
    "add timescaledb to shared_preload_libraries in postgresql.conf "
    "(shared_preload_libraries = 'timescaledb') and restart PostgreSQL"
)


def timescaledb_preloaded(conn: psycopg.Connection[Any]) -> bool:
    """Whether TimescaleDB's loader runs in this server: it registers the setting
    timescaledb.disable_load when shared_preload_libraries loads it."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.disable_load')"
        " OR 'timescaledb' = ANY (string_to_array("
        "      replace(current_setting('shared_preload_libraries'), ' ', ''), ','))"
    ).fetchone()
    return bool(row and row[0])


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
    # Checked before CREATE EXTENSION: without the preload, TimescaleDB raises a
    # FATAL that drops the session (and with it this migration's lock).
    if not timescaledb_preloaded(conn):
        if mode == "on":
            raise MigrationError(f"SMARTPOLE_TIMESCALEDB=on, but {NOT_PRELOADED}")
        log.warning(
            "%s; continuing on plain PostgreSQL (SMARTPOLE_TIMESCALEDB=off silences this, "
            "=on makes it an error)",
            NOT_PRELOADED,
        )
        return False
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return True


_POLICIES = (
    # (job procedure, config key, add function, remove function)
    ("policy_compression", "compress_after", "add_compression_policy", "remove_compression_policy"),
    ("policy_retention", "drop_after", "add_retention_policy", "remove_retention_policy"),
)


def apply_timescale_policies(conn: psycopg.Connection[Any], policy: StoragePolicy) -> None:
    """Make the compression and retention jobs match the settings, touching only the
    jobs that differ: an unchanged job keeps its id, its history and any tuning an
    operator did with alter_job (re-creating all of them on every migrate also made
    every job fire at once, and compression and retention then collided)."""
    wanted = {
        "policy_compression": f"{policy.compress_after_days} days",
        "policy_retention": f"{policy.retention_days} days" if policy.retention_days else None,
    }
    current = {
        (str(proc), str(table)): config
        for proc, table, config in conn.execute(
            "SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs"
            " WHERE proc_name IN ('policy_compression', 'policy_retention')"
        )
    }
    for table in READING_TABLES.values():
        for proc, key, add, remove in _POLICIES:
            want = wanted[proc]
            config = current.get((proc, table))
            have = None if config is None else config.get(key)
            if have is not None and want is not None and _same_interval(conn, have, want):
                continue
            if config is not None:
                conn.execute(
                    sql.SQL("SELECT {}({}, if_exists => true)").format(
                        sql.Identifier(remove), sql.Literal(table)
                    )
                )
            if want is not None:
                conn.execute(
                    sql.SQL("SELECT {}({}, {}::interval)").format(
                        sql.Identifier(add), sql.Literal(table), sql.Literal(want)
                    )
                )
                log.info("TimescaleDB %s of %s set to %s", proc, table, want)


def _same_interval(conn: psycopg.Connection[Any], have: str, want: str) -> bool:
    row = conn.execute("SELECT %s::interval = %s::interval", (have, want)).fetchone()
    return bool(row and row[0])


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
