"""The broker's roles and identities, written once and read by the bootstrap,
the administration commands and the tests.

Names: a pole's username and client id are its pole id; every other identity
is `smartpole.<name>`. A dot never appears in a pole id (models.topics), so
no pole can ever be issued an identity that is a platform service's, and the
reserved prefix `smartpole` keeps pole client ids clear of the services'
(e.g. `smartpole-ingest-<host>`).

Default access (no matching rule): nothing may be published, subscribed or
delivered. Every right below is granted explicitly. Delivery is denied by
default too, so even a session taken over by mistake cannot be read from
with a role that was not meant to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from models.topics import (
    POLE_ID_PATTERN,
    SENSORTHINGS_TOPIC_FILTER,
    SUBSCRIPTION_FILTER,
    pole_topic_filter,
)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
SERVICE_PREFIX = "smartpole."
SERVICE_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")
# Pole ids that would look like the platform's own client ids.
RESERVED_POLE_ID_PREFIX = "smartpole"
POLE_ROLE_PREFIX = "pole."
# The ingest workers' shared subscription, in any share group.
INGEST_SUBSCRIPTION = f"$share/+/{SUBSCRIPTION_FILTER}"


class Role(StrEnum):
    """The platform's service roles (a pole has a role of its own, `pole.<id>`)."""

    ADMIN = "smartpole.admin"
    INGEST = "smartpole.ingest"
    PLATFORM_PUBLISHER = "smartpole.platform-publisher"
    CONSUMER = "smartpole.consumer"


@dataclass(frozen=True, slots=True)
class Acl:
    acltype: str  # publishClientSend | publishClientReceive | subscribePattern | ...
    topic: str
    allow: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"acltype": self.acltype, "topic": self.topic, "allow": self.allow, "priority": 0}


def _send(topic: str) -> Acl:
    return Acl("publishClientSend", topic)


def _read(topic: str) -> tuple[Acl, Acl]:
    """Subscribing to filters within `topic`, and having its messages delivered."""
    return Acl("subscribePattern", topic), Acl("publishClientReceive", topic)


SERVICE_ROLES: dict[Role, tuple[Acl, ...]] = {
    # The platform's own tooling: administers identities and reads broker
    # statistics; publishes and reads no pole data.
    Role.ADMIN: (
        _send(f"{CONTROL_TOPIC}/#"),
        *_read(f"{CONTROL_TOPIC}/#"),
        *_read("$SYS/#"),
    ),
    # Reads the shared subscription, publishes nothing.
    Role.INGEST: (
        Acl("subscribePattern", INGEST_SUBSCRIPTION),
        Acl("publishClientReceive", SUBSCRIPTION_FILTER),
    ),
    # What the platform publishes after a commit (SensorThings MQTT), nothing else.
    Role.PLATFORM_PUBLISHER: (_send(SENSORTHINGS_TOPIC_FILTER),),
    # City services and open-data clients that want a stream: read only.
    Role.CONSUMER: (*_read(SUBSCRIPTION_FILTER), *_read(SENSORTHINGS_TOPIC_FILTER)),
}

DEFAULT_ACL_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}


class IdentityError(ValueError):
    """A name that cannot be an identity; the message says why."""


def check_pole_id(pole_id: str) -> str:
    if not POLE_ID_PATTERN.fullmatch(pole_id):
        raise IdentityError(
            f"invalid pole id {pole_id[:80]!r}: 1-64 characters of A-Z a-z 0-9 _ -, "
            "starting with a letter or digit"
        )
    if pole_id.lower().startswith(RESERVED_POLE_ID_PREFIX):
        raise IdentityError(
            f"pole id {pole_id!r} starts with {RESERVED_POLE_ID_PREFIX!r}, which is reserved "
            "for the platform's own client ids"
        )
    return pole_id


def pole_role_name(pole_id: str) -> str:
    return POLE_ROLE_PREFIX + check_pole_id(pole_id)


def pole_role_acls(pole_id: str) -> tuple[Acl, ...]:
    """A pole publishes under its own id only (its last-will is checked against
    the same rule when the broker sends it) and subscribes to nothing: the
    contract has no command topic yet. When one exists, add it here as
    `*_read(f"{TOPIC_PREFIX}/{pole_id}/cmd/#")`."""
    return (_send(pole_topic_filter(check_pole_id(pole_id))),)


def service_username(name: str) -> str:
    """`ingest` -> `smartpole.ingest`; a full `smartpole.<name>` is accepted too."""
    bare = name.removeprefix(SERVICE_PREFIX)
    if not SERVICE_NAME_PATTERN.fullmatch(bare):
        raise IdentityError(
            f"invalid account name {name[:60]!r}: 1-48 of a-z 0-9 -, starting with a letter "
            "or digit"
        )
    return SERVICE_PREFIX + bare


def role_json(name: str, acls: tuple[Acl, ...], description: str = "") -> dict[str, Any]:
    return {
        "rolename": name,
        "textdescription": description,
        "acls": [acl.as_json() for acl in acls],
    }
