"""`smartpole ingest`: run one ingest worker."""

from __future__ import annotations

import argparse

from ingest.service import IngestService
from smartpole.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ingest = commands.add_parser(
        "ingest", help="run an ingest worker (MQTT -> database); scale out by running more"
    )
    ingest.set_defaults(handler=run_ingest)


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    service = IngestService(settings)
    service.install_signal_handlers()
    service.run()
    return 0
