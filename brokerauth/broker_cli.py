"""`smartpole broker init|accounts`: the broker's first identities, and the
platform's service accounts (ingest workers, the platform publisher, consumers).

`init` writes the dynamic security plugin's configuration for a new broker
(before it first starts) and one password file per account (0600). Account
passwords are shown once or written to a file (`--out`), never taken from or
put on a command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from brokerauth.bootstrap import DEFAULT_ACCOUNTS, initialise, password_file
from brokerauth.dynsec import BrokerAdmin, BrokerAdminError
from brokerauth.passwords import new_password, write_password_file
from brokerauth.roles import IdentityError, Role, service_username
from config.base import ServiceSettings
from config.services import BrokerAccountSettings

ROLE_NAMES = {
    role.value.removeprefix("smartpole."): role for role in Role if role is not Role.ADMIN
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = commands.add_parser("broker", help="the broker's identities: init, accounts")
    actions = broker.add_subparsers(dest="broker_command", required=True, metavar="COMMAND")
    init = actions.add_parser(
        "init",
        help="write a new broker's identities file and the service accounts' passwords",
        description="Writes the dynamic security plugin's configuration (mosquitto.conf: "
        "plugin_opt_config_file) with the smartpole roles and the accounts "
        f"{', '.join(DEFAULT_ACCOUNTS)}, and one password file per account. "
        "Run once, before the broker first starts; refuses to overwrite.",
    )
    init.add_argument("--config-file", type=Path, required=True, help="e.g. dynamic-security.json")
    init.add_argument(
        "--secrets-dir", type=Path, required=True, help="folder for <account>.password files"
    )
    init.add_argument(
        "--if-missing", action="store_true", help="do nothing (exit 0) if the file exists"
    )
    init.add_argument(
        "--config-owner", type=_owner, help="UID:GID to hand the file to (the broker's user)"
    )
    init.add_argument("--secrets-owner", type=_owner, help="UID:GID to hand the password files to")
    init.set_defaults(handler=_init, settings_class=ServiceSettings)

    accounts = actions.add_parser("accounts", help="service accounts: issue, rotate, revoke")
    account_actions = accounts.add_subparsers(
        dest="accounts_command", required=True, metavar="ACTION"
    )
    issue = account_actions.add_parser("issue", help="a new service account")
    issue.add_argument("name", help="e.g. city-traffic (becomes smartpole.city-traffic)")
    issue.add_argument("--role", required=True, choices=sorted(ROLE_NAMES))
    issue.add_argument("--out", type=Path, help="write the password to this file (0600)")
    issue.set_defaults(handler=_issue, settings_class=BrokerAccountSettings)
    rotate = account_actions.add_parser("rotate", help="a new password for a service account")
    rotate.add_argument("name")
    rotate.add_argument("--out", type=Path, help="write the password to this file (0600)")
    rotate.set_defaults(handler=_rotate, settings_class=BrokerAccountSettings)
    revoke = account_actions.add_parser(
        "revoke", help="disable a service account (disconnected at once)"
    )
    revoke.add_argument("name")
    revoke.set_defaults(handler=_revoke, settings_class=BrokerAccountSettings)


def _init(args: argparse.Namespace, settings: ServiceSettings) -> int:
    if args.if_missing and args.config_file.exists():
        print(f"{args.config_file} exists: nothing to do")
        return 0
    try:
        made = initialise(args.config_file, args.secrets_dir)
    except FileExistsError as exc:
        print(f"smartpole broker init: {exc}", file=sys.stderr)
        return 1
    if args.config_owner:
        os.chown(args.config_file, *args.config_owner)
    if args.secrets_owner:
        os.chown(args.secrets_dir, *args.secrets_owner)
        for account in made:
            os.chown(password_file(args.secrets_dir, account.username), *args.secrets_owner)
    print(f"wrote {args.config_file}")
    for account in made:
        print(f"  {account.username} ({account.role.value}): password in "
              f"{password_file(args.secrets_dir, account.username)}")  # fmt: skip
    return 0


def _owner(text: str) -> tuple[int, int]:
    uid, _, gid = text.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not UID:GID: {text[:40]!r}") from None


def _show_or_write(username: str, password: str, out: Path | None) -> None:
    if out is None:
        print(json.dumps({"username": username, "password": password}))
    else:
        write_password_file(out, password)
        print(f"{username}: password in {out}")


def _issue(args: argparse.Namespace, settings: BrokerAccountSettings) -> int:
    try:
        username = service_username(args.name)
        password = new_password()
        with BrokerAdmin(settings.broker_admin()) as admin:
            admin.execute([{
                "command": "createClient", "username": username, "password": password,
                "textdescription": f"smartpole service account ({ROLE_NAMES[args.role].value})",
                "roles": [{"rolename": ROLE_NAMES[args.role].value, "priority": 0}],
            }])  # fmt: skip
    except (BrokerAdminError, IdentityError) as exc:
        print(f"smartpole broker accounts: {exc}", file=sys.stderr)
        return 1
    _show_or_write(username, password, args.out)
    return 0


def _rotate(args: argparse.Namespace, settings: BrokerAccountSettings) -> int:
    try:
        username = service_username(args.name)
        password = new_password()
        with BrokerAdmin(settings.broker_admin()) as admin:
            admin.execute(
                [{"command": "setClientPassword", "username": username, "password": password}]
            )
    except (BrokerAdminError, IdentityError) as exc:
        print(f"smartpole broker accounts: {exc}", file=sys.stderr)
        return 1
    _show_or_write(username, password, args.out)
    return 0


def _revoke(args: argparse.Namespace, settings: BrokerAccountSettings) -> int:
    try:
        username = service_username(args.name)
        with BrokerAdmin(settings.broker_admin()) as admin:
            admin.execute([{"command": "disableClient", "username": username}])
    except (BrokerAdminError, IdentityError) as exc:
        print(f"smartpole broker accounts: {exc}", file=sys.stderr)
        return 1
    print(f"{username}: revoked (disconnected, and refused from now on)")
    return 0
