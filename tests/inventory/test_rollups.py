"""An import that gives poles their district moves their share of the district
rollups: poles that spoke before the city's inventory arrived (their readings sit
under no district), and poles the import moves from one district to another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from models.readings import EnvReading
from models.topics import Family, PoleTopic
from storage.writer import ReadingWriter, ReceivedReading
from tests.inventory.conftest import EAST, WEST, Importer

T0 = datetime(2026, 5, 4, 10, tzinfo=UTC)


def _readings(database_url: str, pole_id: str, pm10: float) -> None:
    items = []
    for minute in range(0, 60, 5):
        at = T0 + timedelta(minutes=minute)
        reading = EnvReading.model_validate(
            {"dateObserved": at.isoformat(), "pm10": pm10}, context={"received_at": at}
        )
        items.append(ReceivedReading(PoleTopic(pole_id, Family.ENV), reading, at))
    with psycopg.connect(database_url) as conn:
        ReadingWriter(conn).write_batch(items, [])


def _district_hours(db: psycopg.Connection[Any]) -> dict[str, tuple[int, float]]:
    rows = db.execute(
        "SELECT group_key, sum(pm10_count)::int, sum(pm10_sum) FROM env_hourly_group"
        " WHERE group_kind = 'district' GROUP BY group_key ORDER BY group_key"
    ).fetchall()
    return {key: (count, total) for key, count, total in rows if count}


def test_importing_districts_moves_the_poles_rollups(
    run_import: Importer, database_url: str, db: psycopg.Connection[Any]
) -> None:
    # Two poles talk before the city's inventory is imported: no district yet.
    _readings(database_url, "CR-0001", 10.0)
    _readings(database_url, "CR-0002", 30.0)
    assert _district_hours(db) == {"": (24, 480.0)}
    header = "pole_id;latitude;longitude;district\n"
    first = header + f"CR-0001;{WEST[1]};{WEST[0]};West\nCR-0002;{EAST[1]};{EAST[0]};East\n"
    assert run_import(first).written
    assert _district_hours(db) == {"East": (12, 360.0), "West": (12, 120.0)}
    # A correction moves CR-0002 to the west: its share goes with it.
    moved = header + f"CR-0002;{WEST[1]};{WEST[0]};West\n"
    assert run_import(moved).written
    assert _district_hours(db) == {"West": (24, 480.0)}
