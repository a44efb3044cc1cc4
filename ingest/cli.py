"""`smartpole ingest`: run one ingest worker."""

from __future__ import annotations

import argparse
import sys

from config.services import IngestSettings
from ingest.service import IngestService
from storage.migrate import SchemaNotCurrent


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = commands.add_parser(
        "ingest", help="run an ingest worker (MQTT -> database); scale out by running more"
    )
    ingest.set_defaults(handler=run_ingest, settings_class=IngestSettings)


def run_ingest(args: argparse.Namespace, settings: IngestSettings) -> int:
    service = IngestService(settings)
    service.install_signal_handlers()
    try:
        service.run()
    except SchemaNotCurrent as exc:
        print(f"smartpole ingest: {exc}", file=sys.stderr)
        return 1
    return 0
