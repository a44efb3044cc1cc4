"""The dynamic security configuration a new broker starts from.

A broker whose plugin has no configuration file accepts nobody, and the
administration channel needs an identity of its own: so a deployment starts
from a file written here with the service roles, the admin account and the
platform's service accounts, each with a fresh password written to a file
of its own (0600) in a secrets folder. Poles are added later, over the admin
channel (`smartpole poles credentials issue`), without restarting the broker.

`smartpole broker init` writes it for a production broker, `smartpole up`
for its local one, and the test fixtures for theirs: one function, so the
tested configuration is the shipped one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brokerauth.passwords import (
    dynsec_password_hash,
    new_password,
    write_password_file,
    write_private,
)
from brokerauth.roles import DEFAULT_ACL_ACCESS, SERVICE_ROLES, Role, role_json, service_username

ADMIN_ACCOUNT = service_username("admin")
INGEST_ACCOUNT = service_username("ingest")
PLATFORM_ACCOUNT = service_username("platform")
# What a new deployment gets: the admin channel, ingest, and the platform's
# SensorThings publisher. Consumers are added as they are needed.
DEFAULT_ACCOUNTS: dict[str, Role] = {
    ADMIN_ACCOUNT: Role.ADMIN,
    INGEST_ACCOUNT: Role.INGEST,
    PLATFORM_ACCOUNT: Role.PLATFORM_PUBLISHER,
}
ROLE_DESCRIPTIONS = {
    Role.ADMIN: "administers identities over $CONTROL; reads $SYS; no pole data",
    Role.INGEST: "reads the shared subscription; publishes nothing",
    Role.PLATFORM_PUBLISHER: "publishes the SensorThings topics (v1.1/#) only",
    Role.CONSUMER: "reads pole and SensorThings topics; publishes nothing",
}


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    role: Role
    password: str


def password_file(secrets_dir: Path, username: str) -> Path:
    return secrets_dir / f"{username}.password"


def dynsec_config(accounts: Iterable[Account]) -> dict[str, Any]:
    return {
        "clients": [
            {
                "username": account.username,
                "textdescription": f"smartpole service account ({account.role.value})",
                **dynsec_password_hash(account.password),
                "roles": [{"rolename": account.role.value, "priority": 0}],
            }
            for account in accounts
        ],
        "groups": [],
        "roles": [
            role_json(role.value, acls, ROLE_DESCRIPTIONS[role])
            for role, acls in SERVICE_ROLES.items()
        ],
        "defaultACLAccess": DEFAULT_ACL_ACCESS,
    }


def initialise(
    config_file: Path,
    secrets_dir: Path,
    accounts: Mapping[str, Role] = DEFAULT_ACCOUNTS,
    *,
    passwords: Mapping[str, str] | None = None,
) -> list[Account]:
    """Write the plugin's configuration and one password file per account.

    Refuses to overwrite an existing configuration: it holds every pole's
    identity, and replacing it would lock the whole fleet out. `passwords`
    keeps given passwords (tests that start many brokers reuse theirs)."""
    if config_file.exists():
        raise FileExistsError(f"{config_file} exists: the broker already has its identities")
    made = [
        Account(username, role, (passwords or {}).get(username) or new_password())
        for username, role in accounts.items()
    ]
    secrets_dir.mkdir(parents=True, exist_ok=True)
    secrets_dir.chmod(0o700)
    for account in made:
        write_password_file(password_file(secrets_dir, account.username), account.password)
    write_private(config_file, json.dumps(dynsec_config(made), indent=1) + "\n")
    return made
