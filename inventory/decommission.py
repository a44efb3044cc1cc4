"""Retiring a pole: kept with its history and readings, hidden from current lists,
and every message it sends afterwards quarantined by ingest (storage/writer.py)
with the reason "pole ... was decommissioned".

`hooks` is what must also happen when a pole retires: the `smartpole poles
decommission` command (smartpole/poles_cli.py) passes the revocation of the
pole's broker credentials. Each hook runs inside the decommission's
transaction, after the pole is marked: a hook that raises rolls the
decommission back, so a pole is never retired with its credentials valid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from storage import registry

DecommissionHook = Callable[[psycopg.Connection[Any], str], None]


@dataclass(frozen=True, slots=True)
class Decommissioned:
    pole_id: str
    outcome: str  # done | already | missing
    at: datetime | None


def decommission_pole(
    conn: psycopg.Connection[Any],
    pole_id: str,
    *,
    changed_by: str,
    source: str,
    hooks: Sequence[DecommissionHook] = (),
) -> Decommissioned:
    with conn.transaction():
        outcome, at = registry.decommission(conn, pole_id, changed_by=changed_by, source=source)
        if outcome == "done":
            for hook in hooks:
                hook(conn, pole_id)
    return Decommissioned(pole_id, outcome, at)
