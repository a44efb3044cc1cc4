"""`smartpole db ...`: schema management."""

from __future__ import annotations

import argparse
import logging

from config.services import StorageSettings
from storage.migrate import MigrationReport, migrate_database

log = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="database schema management")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    migrate_cmd = db_commands.add_parser(
        "migrate", help="create or upgrade the schema and apply TimescaleDB policies"
    )
    migrate_cmd.set_defaults(handler=run_migrate, settings_class=StorageSettings)


def run_migrate(args: argparse.Namespace, settings: StorageSettings) -> int:
    log_report(migrate_database(settings))
    return 0


def log_report(report: MigrationReport) -> None:
    if report.timescaledb:
        log.info("storage: TimescaleDB %s (hypertables, compression)", report.timescaledb_version)
    else:
        log.info("storage: plain PostgreSQL (TimescaleDB extension not active)")
    log.info("migrations applied: %s", ", ".join(report.applied) or "none (already current)")
    if report.pending_without_timescaledb:
        log.info("waiting for TimescaleDB: %s", ", ".join(report.pending_without_timescaledb))
