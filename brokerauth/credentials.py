"""Pole credentials: issue, rotate, revoke, list.

Each change is made at the broker (over the admin channel) and recorded in
the credential registry within one database transaction: if the broker
refuses, nothing is recorded; if recording fails after the broker changed,
a new identity is taken back out of the broker again. The password of an
issued or rotated identity is returned once to the caller, who shows it or
writes a commissioning file; it is never stored here.

A pole's identity: username and bound client id are its pole id (the broker
refuses a connection with the pole's credentials under any other client id,
so one pole's credentials cannot take over another pole's session), and a
role `pole.<id>` that may publish under its own topics only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from brokerauth.commissioning import PoleIdentity
from brokerauth.dynsec import BrokerAdmin, CommandFailedError
from brokerauth.passwords import new_password
from brokerauth.roles import check_pole_id, pole_role_acls, pole_role_name, role_json
from storage import credentials as registry

log = logging.getLogger(__name__)

# Commands per admin message: the broker saves its configuration after each
# message, so a fleet is issued in batches, not one save per pole.
BATCH = 200


class CredentialError(RuntimeError):
    """A credential change that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class Issued:
    identity: PoleIdentity
    at: datetime
    rotated: bool = False


@dataclass(slots=True)
class Outcome:
    issued: list[Issued] = field(default_factory=list)  # issue, rotate: the new secrets
    revoked: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # pole id -> why


def _now() -> datetime:
    return datetime.now(UTC)


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _client_states(admin: BrokerAdmin, pole_ids: Sequence[str]) -> dict[str, bool | None]:
    """Per pole: None (no identity at the broker), True (enabled), False (disabled)."""
    states: dict[str, bool | None] = {}
    for chunk in _batches(pole_ids):
        answers = admin.try_execute([{"command": "getClient", "username": p} for p in chunk])
        for pole_id, answer in zip(chunk, answers, strict=True):
            client = (answer.get("data") or {}).get("client")
            states[pole_id] = (
                None if answer.get("error") or not client else not client.get("disabled", False)
            )
    return states


def issue(
    conn: psycopg.Connection[Any],
    admin: BrokerAdmin,
    pole_ids: Iterable[str],
    *,
    actor: str,
) -> Outcome:
    """New credentials for poles that have none (or whose were revoked).
    A pole that already holds working credentials is skipped: rotate it."""
    wanted = list(dict.fromkeys(check_pole_id(p) for p in pole_ids))
    outcome = Outcome()
    retired = registry.decommissioned(conn, wanted)
    for pole_id in retired:
        outcome.skipped[pole_id] = "decommissioned"
    candidates = [p for p in wanted if p not in retired]
    states = _client_states(admin, candidates)
    at = _now()
    fresh: list[PoleIdentity] = []
    commands: list[dict[str, Any]] = []
    for pole_id in candidates:
        state = states[pole_id]
        if state is True:
            outcome.skipped[pole_id] = "already has credentials (rotate to replace them)"
            continue
        identity = PoleIdentity(pole_id, pole_id, pole_id, new_password())
        fresh.append(identity)
        if state is None:
            commands += pole_identity_commands(identity)
        else:  # revoked: a new password, the binding and role kept, and enabled again
            commands += [
                {"command": "setClientPassword", "username": pole_id,
                 "password": identity.password},
                {"command": "setClientId", "username": pole_id, "clientid": pole_id},
                {"command": "enableClient", "username": pole_id},
            ]  # fmt: skip
    created = [_delete_commands(i.pole_id) for i in fresh if states[i.pole_id] is None]
    try:
        with conn.transaction():
            for identity in fresh:
                registry.record(
                    conn, identity.pole_id, "issued", actor=actor, at=at,
                    username=identity.username, client_id=identity.client_id,
                )  # fmt: skip
            _apply(admin, commands, undo=created)
    except psycopg.Error:
        # The broker holds identities the registry could not record: take them back.
        admin.try_execute([command for group in created for command in group])
        raise
    outcome.issued = [Issued(identity, at) for identity in fresh]
    for identity in fresh:
        log.info("issued broker credentials for pole %s (by %s)", identity.pole_id, actor)
    return outcome


def rotate(
    conn: psycopg.Connection[Any],
    admin: BrokerAdmin,
    pole_ids: Iterable[str],
    *,
    actor: str,
) -> Outcome:
    """A new password for poles holding working credentials: the old one is
    refused from now on (a session already connected keeps running until it
    reconnects; revoke to cut it off)."""
    wanted = list(dict.fromkeys(check_pole_id(p) for p in pole_ids))
    outcome = Outcome()
    states = _client_states(admin, wanted)
    at = _now()
    fresh = []
    for pole_id in wanted:
        if states[pole_id] is not True:
            outcome.skipped[pole_id] = (
                "has no credentials (issue them)" if states[pole_id] is None else "revoked"
            )
            continue
        fresh.append(PoleIdentity(pole_id, pole_id, pole_id, new_password()))
    with conn.transaction():
        for identity in fresh:
            if registry.credential(conn, identity.pole_id) is None:
                # Known to the broker but not to this registry (issued elsewhere).
                registry.record(
                    conn, identity.pole_id, "issued", actor=actor, at=at,
                    username=identity.username, client_id=identity.client_id,
                )  # fmt: skip
            registry.record(conn, identity.pole_id, "rotated", actor=actor, at=at)
        _apply(
            admin,
            [{"command": "setClientPassword", "username": i.username, "password": i.password}
             for i in fresh],
        )  # fmt: skip
    outcome.issued = [Issued(identity, at, rotated=True) for identity in fresh]
    for identity in fresh:
        log.info("rotated broker credentials of pole %s (by %s)", identity.pole_id, actor)
    return outcome


def revoke(
    conn: psycopg.Connection[Any],
    admin: BrokerAdmin,
    pole_ids: Iterable[str],
    *,
    actor: str,
) -> Outcome:
    """Disable the poles' identities: the broker disconnects them at once and
    refuses them from then on. The identity stays (disabled), so the pole's
    bound client id stays unusable; `issue` gives it new credentials."""
    wanted = list(dict.fromkeys(check_pole_id(p) for p in pole_ids))
    outcome = Outcome()
    states = _client_states(admin, wanted)
    at = _now()
    targets = []
    for pole_id in wanted:
        if states[pole_id] is None:
            outcome.skipped[pole_id] = "has no credentials"
        elif states[pole_id] is False:
            outcome.skipped[pole_id] = "already revoked"
        else:
            targets.append(pole_id)
    with conn.transaction():
        for pole_id in targets:
            if registry.credential(conn, pole_id) is not None:
                registry.record(conn, pole_id, "revoked", actor=actor, at=at)
        _apply(admin, [{"command": "disableClient", "username": p} for p in targets])
    outcome.revoked = targets
    for pole_id in targets:
        log.info("revoked broker credentials of pole %s (by %s)", pole_id, actor)
    return outcome


def revoke_pole_credentials(
    conn: psycopg.Connection[Any], admin: BrokerAdmin, pole_id: str, *, actor: str
) -> bool:
    """The hook for decommissioning: revoke one pole's credentials, if it has
    any. True when it had working credentials."""
    return bool(revoke(conn, admin, [pole_id], actor=actor).revoked)


def listing(conn: psycopg.Connection[Any], admin: BrokerAdmin | None) -> list[dict[str, Any]]:
    """The registry's rows, each with what the broker says (when it is reachable):
    `broker` is enabled, disabled, or missing."""
    rows = registry.credentials(conn)
    if admin is not None:
        states = _client_states(admin, [row["pole_id"] for row in rows])
        for row in rows:
            state = states.get(row["pole_id"])
            row["broker"] = "missing" if state is None else "enabled" if state else "disabled"
    return rows


def pole_identity_commands(identity: PoleIdentity) -> list[dict[str, Any]]:
    """The admin commands that create a pole's role and identity."""
    role = pole_role_name(identity.pole_id)
    return [
        {"command": "createRole", **role_json(role, pole_role_acls(identity.pole_id),
                                               f"pole {identity.pole_id}: its own topics")},
        {
            "command": "createClient",
            "username": identity.username,
            "password": identity.password,
            "clientid": identity.client_id,
            "textdescription": f"pole {identity.pole_id}",
            "roles": [{"rolename": role, "priority": 0}],
        },
    ]  # fmt: skip


def _delete_commands(pole_id: str) -> list[dict[str, Any]]:
    return [
        {"command": "deleteClient", "username": pole_id},
        {"command": "deleteRole", "rolename": pole_role_name(pole_id)},
    ]


def _apply(
    admin: BrokerAdmin,
    commands: list[dict[str, Any]],
    undo: Sequence[list[dict[str, Any]]] = (),
) -> None:
    """Run the commands in batches; a refusal raises CredentialError. When a
    batch fails half way, `undo` takes back what this call created (best
    effort), so the registry's rollback and the broker agree again."""
    try:
        for chunk in _batches(commands):
            admin.execute(list(chunk))
    except CommandFailedError as exc:
        cleanup = [command for group in undo for command in group]
        if cleanup:
            admin.try_execute(cleanup)
        raise CredentialError(f"the broker refused {exc}") from exc
