"""The `smartpole` command: one entry point, one subcommand per service."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

import ingest.cli
import storage.cli
from smartpole.logs import configure_logging
from smartpole.settings import Settings

COMMAND_MODULES = (storage.cli, ingest.cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smartpole",
        description="Telemetry platform for smart poles. Configuration: SMARTPOLE_* "
        "environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"SMARTPOLE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        print(f"smartpole: invalid configuration: {problems}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    result: int = args.handler(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
