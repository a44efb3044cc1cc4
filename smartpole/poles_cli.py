"""`smartpole poles ...`: the poles themselves (inventory) and their broker identities.

The group is a shell the command modules fill: `register_credentials` adds
`credentials`; the inventory commands (import, export, decommission) add
theirs the same way.
"""

from __future__ import annotations

import argparse

from brokerauth.credentials_cli import register_credentials


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    poles = commands.add_parser("poles", help="the poles: broker credentials")
    subcommands = poles.add_subparsers(dest="poles_command", required=True, metavar="COMMAND")
    register_credentials(subcommands)
