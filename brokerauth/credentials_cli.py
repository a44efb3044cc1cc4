"""`smartpole poles credentials issue|rotate|revoke|list`: the poles' broker identities.

`register_credentials(poles_subcommands)` adds the `credentials` group to the
`smartpole poles` command (whichever module owns that group).

A new password is shown once, on standard output, or written to a per-pole
commissioning file (`--out DIR`, mode 0600) for the field technician; it is
never logged, never stored in the database and never taken from or put on a
command line. The broker's admin password comes from
SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from brokerauth import commissioning, credentials
from brokerauth.dynsec import BrokerAdmin, BrokerAdminError
from brokerauth.roles import IdentityError
from config.services import BrokerAdminSettings
from storage import credentials as registry


def register_credentials(
    poles_subcommands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    group = poles_subcommands.add_parser(
        "credentials",
        help="the poles' broker identities: issue, rotate, revoke, list",
        description="Each pole has its own MQTT identity: username and client id are its pole "
        "id, and it may publish under smartpole/v1/poles/<its id>/# only. Needs "
        "SMARTPOLE_DATABASE_URL, SMARTPOLE_MQTT_URL (the broker's host, port and TLS "
        "options) and SMARTPOLE_BROKER_ADMIN_PASSWORD_FILE.",
    )
    actions = group.add_subparsers(dest="credentials_command", required=True, metavar="ACTION")
    for name, help_text, handler in (
        ("issue", "new credentials for poles that have none (or whose were revoked)", _issue),
        ("rotate", "new passwords for poles; the old ones are refused from now on", _rotate),
    ):
        parser = actions.add_parser(name, help=help_text)
        _add_targets(parser)
        parser.add_argument(
            "--out",
            type=Path,
            help="write one commissioning file per pole here (<POLE_ID>.json, mode 0600) "
            "instead of showing the passwords",
        )
        parser.add_argument(
            "--broker-url",
            help="where the poles connect (e.g. mqtts://broker.city.example:8883), "
            "written into the commissioning files",
        )
        parser.set_defaults(handler=handler, settings_class=BrokerAdminSettings)
    revoke = actions.add_parser(
        "revoke", help="disable poles' credentials: disconnected at once, refused from then on"
    )
    revoke.add_argument("pole_ids", nargs="+", metavar="POLE_ID")
    revoke.set_defaults(handler=_revoke, settings_class=BrokerAdminSettings)
    listing = actions.add_parser("list", help="which poles have credentials, since when")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument(
        "--offline", action="store_true", help="from the registry only, without asking the broker"
    )
    listing.set_defaults(handler=_list, settings_class=BrokerAdminSettings)


def _add_targets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pole_ids", nargs="*", metavar="POLE_ID")
    parser.add_argument(
        "--all",
        action="store_true",
        help="every registered pole that is not decommissioned",
    )


def actor() -> str:
    """Who made a change, for the registry: the operating system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@contextmanager
def _connections(
    settings: BrokerAdminSettings,
) -> Iterator[tuple[psycopg.Connection[Any], BrokerAdmin]]:
    with (
        psycopg.connect(settings.require_database_url()) as conn,
        BrokerAdmin(settings.broker_admin()) as admin,
    ):
        yield conn, admin


def _targets(args: argparse.Namespace, conn: psycopg.Connection[Any]) -> list[str]:
    if args.all and args.pole_ids:
        raise IdentityError("give pole ids or --all, not both")
    if args.all:
        return registry.poles_in_service(conn)
    if not args.pole_ids:
        raise IdentityError("give pole ids or --all")
    return list(args.pole_ids)


def _issue(args: argparse.Namespace, settings: BrokerAdminSettings) -> int:
    return _change(args, settings, credentials.issue)


def _rotate(args: argparse.Namespace, settings: BrokerAdminSettings) -> int:
    return _change(args, settings, credentials.rotate)


def _change(args: argparse.Namespace, settings: BrokerAdminSettings, change: Any) -> int:
    out: Path | None = args.out
    try:
        with _connections(settings) as (conn, admin):
            pole_ids = _targets(args, conn)
            outcome: credentials.Outcome = change(conn, admin, pole_ids, actor=actor())
    except (BrokerAdminError, credentials.CredentialError, IdentityError) as exc:
        print(f"smartpole poles credentials: {exc}", file=sys.stderr)
        return 1
    for issued in outcome.issued:
        if out is not None:
            path = commissioning.write(
                out, issued.identity, issued_at=issued.at, broker_url=args.broker_url
            )
            print(f"{issued.identity.pole_id}: commissioning file {path}")
        else:
            # Shown once: the broker keeps only a hash, the registry nothing.
            identity = issued.identity
            shown = {
                "pole_id": identity.pole_id,
                "username": identity.username,
                "client_id": identity.client_id,
                "password": identity.password,
            }
            print(json.dumps(shown))
    _print_skipped(outcome)
    return 1 if outcome.skipped and not outcome.issued else 0


def _revoke(args: argparse.Namespace, settings: BrokerAdminSettings) -> int:
    try:
        with _connections(settings) as (conn, admin):
            outcome = credentials.revoke(conn, admin, args.pole_ids, actor=actor())
    except (BrokerAdminError, credentials.CredentialError, IdentityError) as exc:
        print(f"smartpole poles credentials: {exc}", file=sys.stderr)
        return 1
    for pole_id in outcome.revoked:
        print(f"{pole_id}: revoked (disconnected, and refused from now on)")
    _print_skipped(outcome)
    return 1 if outcome.skipped and not outcome.revoked else 0


def _print_skipped(outcome: credentials.Outcome) -> None:
    for pole_id, why in sorted(outcome.skipped.items()):
        print(f"{pole_id}: skipped, {why}", file=sys.stderr)


def _list(args: argparse.Namespace, settings: BrokerAdminSettings) -> int:
    try:
        with psycopg.connect(settings.require_database_url()) as conn:
            if args.offline:
                rows = credentials.listing(conn, None)
            else:
                with BrokerAdmin(settings.broker_admin()) as admin:
                    rows = credentials.listing(conn, admin)
    except BrokerAdminError as exc:
        print(f"smartpole poles credentials: {exc} (--offline lists the registry only)",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str))
        return 0
    print(f"{'pole':<24} {'issued':<20} {'rotated':<20} {'revoked':<20} broker")
    for row in rows:
        print(
            f"{row['pole_id']:<24} {_when(row['issued_at']):<20} {_when(row['rotated_at']):<20} "
            f"{_when(row['revoked_at']):<20} {row.get('broker', '-')}"
        )
    return 0


def _when(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
