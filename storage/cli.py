"""`smartpole db ...`: schema management."""

from __future__ import annotations

import argparse
import logging

from config.services import StorageSettings
from storage.connection import connect
from storage.migrate import MigrationReport, migrate_database
from storage.readmodels.rebuild import set_reporting_interval

log = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = commands.add_parser("db", help="database schema management")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    migrate_cmd = db_commands.add_parser(
        "migrate", help="create or upgrade the schema and apply TimescaleDB policies"
    )
    migrate_cmd.set_defaults(handler=run_migrate, settings_class=StorageSettings)
    interval_cmd = db_commands.add_parser(
        "reporting-interval",
        help="how often a pole reports env readings, where it is not the catalogue's cadence "
        "(e.g. 3600 for a station replaying hourly means); recomputes its valid hours",
    )
    interval_cmd.add_argument("pole_id")
    interval_cmd.add_argument(
        "seconds", type=int, nargs="?", help="omit to go back to the catalogue's cadence"
    )
    interval_cmd.add_argument(
        "--stamped-at-end",
        action="store_true",
        help="its readings are interval means labelled with the interval's end (as UBA and "
        "EEA hourly data are): the official statistics shift them back",
    )
    interval_cmd.set_defaults(handler=run_reporting_interval, settings_class=StorageSettings)


def run_migrate(args: argparse.Namespace, settings: StorageSettings) -> int:
    log_report(migrate_database(settings))
    return 0


def run_reporting_interval(args: argparse.Namespace, settings: StorageSettings) -> int:
    if args.seconds is not None and args.seconds <= 0:
        log.error("the reporting interval must be a positive number of seconds")
        return 2
    with connect(settings.require_database_url(), autocommit=True) as conn:
        set_reporting_interval(conn, args.pole_id, args.seconds, stamped_at_end=args.stamped_at_end)
    log.info("pole %s: env reporting interval %s", args.pole_id, args.seconds or "default")
    return 0


def log_report(report: MigrationReport) -> None:
    if report.timescaledb:
        log.info("storage: TimescaleDB %s (hypertables, compression)", report.timescaledb_version)
    else:
        log.info("storage: plain PostgreSQL (TimescaleDB extension not active)")
    log.info("migrations applied: %s", ", ".join(report.applied) or "none (already current)")
    if report.rebuilt:
        log.info("read models rebuilt: %s", ", ".join(report.rebuilt))
    if report.pending_without_timescaledb:
        log.info("waiting for TimescaleDB: %s", ", ".join(report.pending_without_timescaledb))
