"""Commissioning files: a pole's broker identity, for the field technician who
configures the pole (and for the simulators, which connect as poles do).

One JSON file per pole, `<pole_id>.json`, mode 0600. It holds the password in
the clear: it is the one copy there is (the broker keeps a hash), so it goes
onto the pole and is then deleted or kept as safely as the pole's key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from brokerauth.passwords import write_private
from brokerauth.roles import IdentityError, check_pole_id
from models.topics import pole_topic_filter

FORMAT = "smartpole-commissioning/1"


class CommissioningError(ValueError):
    """A commissioning file that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class PoleIdentity:
    pole_id: str
    username: str
    client_id: str
    password: str = field(repr=False)


def file_for(folder: Path, pole_id: str) -> Path:
    return folder / f"{check_pole_id(pole_id)}.json"


def write(
    folder: Path, identity: PoleIdentity, *, issued_at: datetime, broker_url: str | None
) -> Path:
    document: dict[str, Any] = {
        "format": FORMAT,
        "pole_id": identity.pole_id,
        "mqtt": {
            "url": broker_url,
            "username": identity.username,
            "password": identity.password,
            "client_id": identity.client_id,
            "may_publish": pole_topic_filter(identity.pole_id),
            "last_will_topic": pole_topic_filter(identity.pole_id).removesuffix("#") + "status",
        },
        "issued_at": issued_at.isoformat(),
    }
    path = file_for(folder, identity.pole_id)
    write_private(path, json.dumps(document, indent=2) + "\n")
    return path


def read(path: Path) -> PoleIdentity:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise CommissioningError(f"{path}: not a smartpole commissioning file")
        mqtt = document["mqtt"]
        identity = PoleIdentity(
            pole_id=check_pole_id(str(document["pole_id"])),
            username=str(mqtt["username"]),
            client_id=str(mqtt["client_id"]),
            password=str(mqtt["password"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IdentityError) as exc:
        if isinstance(exc, CommissioningError):
            raise
        raise CommissioningError(f"{path}: unreadable commissioning file ({exc})") from None
    if path.stem != identity.pole_id:
        raise CommissioningError(f"{path} holds the identity of pole {identity.pole_id!r}")
    return identity


def load(path: Path) -> dict[str, PoleIdentity]:
    """Every identity in a folder of commissioning files, or in one file."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not path.exists():
        raise CommissioningError(f"{path}: no such file or folder")
    identities = {}
    for file in files:
        identity = read(file)
        identities[identity.pole_id] = identity
    return identities
