"""Retiring a pole: history kept, gone from current lists, later messages
quarantined with the reason, the hook for credentials called, and an import
does not bring it back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from inventory import decommission
from inventory.decommission import decommission_pole
from models.readings import MODEL_FOR_FAMILY
from models.topics import Family, PoleTopic
from storage.queries.health import pole_health_facts
from storage.queries.poles import PoleFilter, get_pole, list_poles
from storage.writer import ReadingWriter, ReceivedReading
from tests.inventory.conftest import EAST, WEST, Importer, rows
from tests.support import samples

INVENTORY = (
    "pole_id;asset_id;latitude;longitude;capabilities\n"
    f"CR-0001;Mast 9;{WEST[1]};{WEST[0]};env,light\n"
    f"CR-0002;;{EAST[1]};{EAST[0]};env,light\n"
)


# The hooks the decommissions of these tests run (the fixture puts a recorder in).
HOOKS: list[decommission.DecommissionHook] = []


@pytest.fixture
def hook_calls() -> Iterator[list[str]]:
    calls: list[str] = []

    def revoke(conn: psycopg.Connection[Any], pole_id: str) -> None:
        assert conn.execute(  # runs inside the decommission's transaction
            "SELECT decommissioned_at IS NOT NULL FROM poles WHERE pole_id = %s", (pole_id,)
        ).fetchone() == (True,)
        calls.append(pole_id)

    HOOKS.append(revoke)
    yield calls
    HOOKS.remove(revoke)


def _env_reading(pole_id: str, received_at: datetime) -> ReceivedReading:
    payload = samples.env(0, dateObserved=(received_at - timedelta(seconds=5)).isoformat())
    reading = MODEL_FOR_FAMILY[Family.ENV].model_validate(
        payload, context={"received_at": received_at}
    )
    return ReceivedReading(PoleTopic(pole_id, Family.ENV), reading, received_at)


def test_decommission_keeps_history_hides_the_pole_and_quarantines_its_messages(
    run_import: Importer, db: psycopg.Connection[Any], database_url: str, hook_calls: list[str]
) -> None:
    assert run_import(INVENTORY).written
    with psycopg.connect(database_url) as conn:
        done = decommission_pole(
            conn, "CR-0001", changed_by="anna", source="cli decommission", hooks=HOOKS
        )
        again = decommission_pole(
            conn, "CR-0001", changed_by="anna", source="cli decommission", hooks=HOOKS
        )
        missing = decommission_pole(
            conn, "NOPE", changed_by="anna", source="cli decommission", hooks=HOOKS
        )
    assert done.outcome == "done" and again.outcome == "already" and missing.outcome == "missing"
    assert hook_calls == ["CR-0001"]  # once, not for the repeat

    history = db.execute(
        "SELECT changed_by, source, changes FROM pole_registry_history "
        "WHERE pole_id = 'CR-0001' ORDER BY id"
    ).fetchall()
    assert [h[:2] for h in history] == [
        ("test-user", history[0][1]),
        ("anna", "cli decommission"),
    ]
    assert set(history[1][2]) == {"decommissioned_at"}

    # Gone from current lists, still there when asked for by id.
    assert [p["pole_id"] for p in list_poles(db, PoleFilter(), None, 10)] == ["CR-0002"]
    assert [p["pole_id"] for p in pole_health_facts(db, None, None, None, 10)] == ["CR-0002"]
    detail = get_pole(db, "CR-0001")
    assert detail is not None and detail["decommissioned_at"] == done.at

    # Its messages from now on are quarantined; the other pole's are stored.
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        result = ReadingWriter(conn).write_batch(
            [_env_reading("CR-0001", now), _env_reading("CR-0002", now)], []
        )
    assert (result.stored, result.quarantined) == (1, 1)
    (reason,) = db.execute("SELECT reason FROM quarantine").fetchone() or ()
    assert reason.startswith("pole CR-0001 was decommissioned at ")
    assert db.execute("SELECT pole_id FROM env_readings").fetchall() == [("CR-0002",)]

    # An import does not bring it back; its asset number is free for a new pole.
    back = run_import(INVENTORY)
    assert not back.written
    assert "was decommissioned on" in rows(back, "rejected")[0]["reason"]
    reused = run_import("pole_id;asset_id\nCR-0003;Mast 9\n")
    assert reused.written, reused.as_dict()


def test_a_failing_hook_rolls_the_decommission_back(
    run_import: Importer, db: psycopg.Connection[Any], database_url: str
) -> None:
    assert run_import(INVENTORY).written

    def broker_down(conn: psycopg.Connection[Any], pole_id: str) -> None:
        raise RuntimeError("broker unreachable")

    with psycopg.connect(database_url) as conn, pytest.raises(RuntimeError):
        decommission_pole(
            conn, "CR-0002", changed_by="anna", source="cli decommission", hooks=[broker_down]
        )
    row = db.execute("SELECT decommissioned_at FROM poles WHERE pole_id = 'CR-0002'").fetchone()
    assert row == (None,)
