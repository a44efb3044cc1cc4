"""`smartpole poles ...`: the poles themselves (inventory) and their broker identities.

The group joins two parts that do not know each other: the inventory commands
(import, export, decommission, history: inventory/cli.py) and the broker
credentials (brokerauth/credentials_cli.py). Decommissioning is where they meet:
a retired pole's credentials are revoked in the same step, inside the
decommission's transaction, so a pole is never retired with valid credentials.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from typing import Any

import psycopg

from brokerauth.credentials import revoke_pole_credentials
from brokerauth.credentials_cli import register_credentials
from brokerauth.dynsec import BrokerAdmin, BrokerAdminError
from config import ConfigError
from config.services import PoleRetirementSettings
from inventory import cli as inventory_cli
from inventory.decommission import DecommissionHook
from storage import credentials as credential_registry


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    poles = commands.add_parser(
        "poles",
        help="the poles: inventory (import, export, decommission, history) and broker credentials",
    )
    subcommands = poles.add_subparsers(dest="poles_command", required=True, metavar="COMMAND")
    inventory_cli.register_inventory(subcommands)
    register_credentials(subcommands)
    subcommands.choices["decommission"].set_defaults(
        handler=run_decommission, settings_class=PoleRetirementSettings
    )


def run_decommission(args: argparse.Namespace, settings: PoleRetirementSettings) -> int:
    with ExitStack() as stack:
        hooks: list[DecommissionHook] = []
        if settings.broker_admin_password_file is not None:
            admin = stack.enter_context(BrokerAdmin(settings.broker_admin()))
            actor = inventory_cli.cli_user()

            def revoke(conn: psycopg.Connection[Any], pole_id: str) -> None:
                revoke_pole_credentials(conn, admin, pole_id, actor=actor)

            hooks.append(revoke)
        else:
            hooks.append(_refuse_if_it_holds_credentials)
        try:
            return inventory_cli.run_decommission(args, settings, hooks)
        except BrokerAdminError as exc:
            print(f"smartpole poles decommission: nothing changed: {exc}")
            return 1


def _refuse_if_it_holds_credentials(conn: psycopg.Connection[Any], pole_id: str) -> None:
    held = credential_registry.credential(conn, pole_id)
    if held is not None and held["revoked_at"] is None:
        raise ConfigError(
            f"pole {pole_id} holds broker credentials, which decommissioning revokes: set "
            "SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE, or revoke them first (`smartpole poles "
            f"credentials revoke {pole_id}`); nothing changed"
        )
