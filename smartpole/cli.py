"""The `smartpole` command: one entry point, one subcommand per service."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from smartpole.logs import configure_logging
from smartpole.settings import Settings

# Command -> module with `register(commands)`. Imported lazily: an ingest
# worker should not pay for importing the API or the Grafana SDK at start-up.
COMMAND_MODULES: dict[str, str] = {
    "db": "storage.cli",
    "ingest": "ingest.cli",
    "api": "api.cli",
    "dashboards": "dashboards.cli",
    "simulate": "simulators.cli",
    "up": "smartpole.up",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` only when it is known, else for every command (help)."""
    parser = argparse.ArgumentParser(
        prog="smartpole",
        description="Telemetry platform for smart poles. Configuration: SMARTPOLE_* "
        "environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [command] if command in COMMAND_MODULES else list(COMMAND_MODULES)
    for name in names:
        importlib.import_module(COMMAND_MODULES[name]).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
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
