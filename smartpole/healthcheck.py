"""`python -m smartpole.healthcheck`: can this service reach what it needs?

The container healthcheck of an ingest worker, which serves no HTTP: with
the worker's own settings, the database must accept a query and the broker
a TCP connection. Exit 0 when both do; otherwise 1 and the reason.
"""

from __future__ import annotations

import socket
import sys

import psycopg
from pydantic import ValidationError

from config import ConfigError
from config.services import IngestSettings
from storage.admin import database_answers


def problems(settings: IngestSettings) -> list[str]:
    found = []
    try:
        database_answers(settings.require_database_url())
    except psycopg.Error as exc:
        found.append(f"database: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}")
    broker = settings.mqtt
    try:
        with socket.create_connection((broker.host, broker.port), timeout=5):
            pass
    except OSError as exc:
        found.append(f"broker {broker.host}:{broker.port}: {exc}")
    return found


def main() -> int:
    try:
        settings = IngestSettings()
        found = problems(settings)
    except (ValidationError, ConfigError) as exc:
        found = [f"configuration: {exc}"]
    for problem in found:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
