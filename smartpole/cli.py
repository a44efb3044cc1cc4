"""The `smartpole` command: one entry point, one subcommand per service.

Each subcommand declares the settings class it reads (`settings_class` in its
parser defaults); this module reads it from the environment, configures
logging and runs the handler. It is the only place that exits the process
because of bad configuration: library code raises `config.ConfigError`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from pydantic import ValidationError

from config import ConfigError
from config.base import ServiceSettings
from config.logging_setup import configure_logging

# Command -> module with `register(commands)`. Imported lazily: an ingest
# worker should not pay for importing the API or the Grafana SDK at start-up.
COMMAND_MODULES: dict[str, str] = {
    "db": "storage.cli",
    "ingest": "ingest.cli",
    "quarantine": "storage.quarantine_cli",
    "api": "api.cli",
    "dashboards": "dashboards.cli",
    "simulate": "simulators.cli",
    "poles": "smartpole.poles_cli",
    "broker": "brokerauth.broker_cli",
    "certs": "brokerauth.certs_cli",
    "stations": "airquality.cli",
    "air-quality": "airquality.cli",
    "up": "smartpole.up",
}
EXIT_BAD_CONFIGURATION = 2


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` only when it is known, else for every command (help)."""
    parser = argparse.ArgumentParser(
        prog="smartpole",
        description="Telemetry platform for smart poles. Configuration: SMARTPOLE_* "
        "environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [command] if command in COMMAND_MODULES else list(COMMAND_MODULES)
    for module in dict.fromkeys(COMMAND_MODULES[name] for name in names):  # one module, 2 commands
        importlib.import_module(module).register(commands)
    return parser


def describe_validation_error(exc: ValidationError) -> str:
    return "; ".join(
        f"SMARTPOLE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    settings_class: type[ServiceSettings] = args.settings_class
    try:
        with warnings.catch_warnings(record=True) as notices:
            warnings.simplefilter("always", DeprecationWarning)
            settings = settings_class()
    except ValidationError as exc:
        print(f"smartpole: invalid configuration: {describe_validation_error(exc)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_CONFIGURATION
    configure_logging(settings.log_level, settings.log_format)
    for notice in notices:  # deprecated variable names, logged where the service logs
        logging.getLogger("smartpole.config").warning("%s", notice.message)
    try:
        result: int = args.handler(args, settings)
    except ConfigError as exc:
        print(f"smartpole: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    return result


if __name__ == "__main__":
    sys.exit(main())
