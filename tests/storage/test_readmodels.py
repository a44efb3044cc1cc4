"""Every read model the writer keeps equals a recomputation from the raw rows
(tests/storage/readmodel_oracle.py), after shuffled batches, redeliveries, a
late backlog, across the spring DST change, in local and CET days; so does the
rebuild; and two writers at once on the same poles change nothing."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from models.readings import MODEL_FOR_FAMILY
from models.topics import Family, PoleTopic
from storage.migrate import migrate
from storage.readmodels.rebuild import FIRST_BUILD, rebuild, set_reporting_interval
from storage.readmodels.spec import ALL_ROLLUPS, LATEST_TABLES, create_table_sql
from storage.registry import patch_pole, put_pole
from storage.writer import ReadingWriter, ReceivedReading
from tests.storage.readmodel_oracle import (
    expected_latest,
    expected_read_models,
    mismatches,
    table_rows,
)
from tests.support.pglite import running_pglite
from tests.support.staging import InsertStagingWriter

ZONE = "Europe/Berlin"
# 28 March 20:00 UTC to 30 March 04:00 UTC: Berlin springs forward at 01:00 UTC on
# the 29th (a 23-hour day); CET days start at 23:00 UTC, Berlin's at 23:00 or 22:00.
START = datetime(2026, 3, 28, 20, tzinfo=UTC)
HOURS = 32
INTERVALS = {"A": 600}  # pole A reports every 10 minutes; the others at the catalogue's 60 s


def item(
    pole: str, family: Family, payload: dict[str, Any], connector: int | None = None
) -> ReceivedReading:
    at = payload["dateObserved"]
    reading = MODEL_FOR_FAMILY[family].model_validate(payload, context={"received_at": at})
    return ReceivedReading(PoleTopic(pole, family, connector), reading, at + timedelta(seconds=3))


def generate(rng: random.Random) -> list[ReceivedReading]:  # noqa: PLR0912 - one block a family
    items: list[ReceivedReading] = []

    def times(step_min: int, keep: float) -> list[datetime]:
        n = HOURS * 60 // step_min
        return [START + timedelta(minutes=step_min * i) for i in range(n) if rng.random() < keep]

    for pole, step, keep in (("A", 10, 0.8), ("B", 1, 0.78), ("C", 5, 0.9)):
        for t in times(step, keep):
            values: dict[str, Any] = {"dateObserved": t, "no2": rng.uniform(150, 250)}
            if rng.random() < 0.9:
                values["pm10"] = rng.uniform(20, 80)
            if rng.random() < 0.8:
                values["o3"] = rng.uniform(100, 200)
                values["LAeq"] = rng.uniform(40, 80)
            items.append(item(pole, Family.ENV, values))
    for pole in ("A", "B", "C"):
        meter = 100.0
        for i, t in enumerate(times(15, 0.85)):
            meter = 5.0 if pole == "C" and i == 40 else meter + rng.uniform(0, 0.05)
            state = rng.choice(["on", "off", "low"])
            items.append(item(pole, Family.LIGHT, {"dateObserved": t, "powerState": state,
                                                   "activePower": rng.uniform(0, 60),
                                                   "totalActiveEnergyImport": meter}))  # fmt: skip
    for pole in ("A", "D"):
        sent = received = 0
        for i, t in enumerate(times(5, 0.9)):
            if i == 100:
                sent = received = 0  # a reboot
            sent += rng.randint(0, 10_000)
            received += rng.randint(0, 50_000)
            payload = {"dateObserved": t, "status": "up", "connectedClients": rng.randint(0, 30),
                       "bytesIn": received, "bytesOut": sent}  # fmt: skip
            items.append(item(pole, Family.WIFI, payload))
    for pole, connector in (("A", 1), ("A", 2), ("D", 1)):
        meter, tx = 1000.0, 0
        for t in times(5, 0.9):
            status = rng.choice(["Available", "Charging", "Charging", "Finishing"])
            payload: dict[str, Any] = {"dateObserved": t, "status": status}
            if status != "Available":
                if rng.random() < 0.3:
                    tx += 1
                payload["transactionId"] = f"tx-{tx}"
                meter += rng.uniform(0, 1)
                payload["chargingPower"] = rng.uniform(0, 22)
            if rng.random() < 0.9:
                payload["totalActiveEnergyImport"] = meter
            items.append(item(pole, Family.EV, payload, connector))
    return items


def register(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        for pole, district in (("A", "Mitte"), ("B", "Mitte"), ("C", None), ("D", "Pankow")):
            conn.execute("INSERT INTO poles (pole_id, district) VALUES (%s, %s)", (pole, district))
    for pole, seconds in INTERVALS.items():
        set_reporting_interval(conn, pole, seconds)


def write_shuffled(writer: ReadingWriter, items: list[ReceivedReading], rng: random.Random) -> None:
    """70 % in random batches, then a redelivery of a sample (some twice in a batch),
    then the remaining 30 % as a late backlog."""
    rng.shuffle(items)
    cut = len(items) * 7 // 10
    first, late = items[:cut], items[cut:]
    position = 0
    while position < len(first):
        size = rng.randint(1, 400)
        writer.write_batch(first[position : position + size], [])
        position += size
    again = rng.sample(first, len(first) // 7)
    writer.write_batch(again + again[:50], [])
    late.sort(key=lambda i: i.reading.date_observed or START, reverse=True)  # newest first
    for position in range(0, len(late), 500):
        writer.write_batch(late[position : position + 500], [])


def assert_read_models_exact(conn: psycopg.Connection[Any]) -> None:
    expected = expected_read_models(conn, ZONE, INTERVALS)
    for rollup in ALL_ROLLUPS:
        problems = mismatches(expected[rollup.table], table_rows(conn, rollup))
        assert problems == [], f"{rollup.table}: {problems[:5]}"
    for table, rows in expected_latest(conn).items():
        stored = {tuple(r[:1]) if table != "ev_latest" else tuple(r[:2]): r for r in
                  conn.execute(f"SELECT * FROM {table}").fetchall()}  # noqa: S608  # fmt: skip
        assert set(stored) == set(rows), table
        for key, row in rows.items():
            assert stored[key] == tuple(row.values()), (table, key)


@pytest.fixture
def conn(database_url: str) -> Any:
    with psycopg.connect(database_url, autocommit=True) as connection:
        register(connection)
        yield connection


def test_read_models_equal_a_recomputation_after_shuffled_late_and_redelivered_batches(
    conn: psycopg.Connection[Any], database_url: str
) -> None:
    rng = random.Random(13)
    items = generate(rng)
    with psycopg.connect(database_url) as writer_conn:
        write_shuffled(ReadingWriter(writer_conn), items, rng)
    assert_read_models_exact(conn)
    # The rollups count what the scenario is about (not vacuous): valid and invalid
    # hours, hours over the NO2 limit, CET days that are not Berlin days.
    row = conn.execute(
        "SELECT sum(no2_valid_hours), sum(readings) FILTER (WHERE no2_valid_hours = 0),"
        " sum(no2_hours_over_200) FROM env_daily"
    ).fetchone()
    assert row is not None and row[0] > 0 and row[1] > 0 and row[2] > 0
    assert conn.execute(
        "SELECT count(*) FROM env_daily_cet c WHERE NOT EXISTS "
        "(SELECT 1 FROM env_daily d WHERE d.pole_id = c.pole_id AND d.bucket = c.bucket)"
    ).fetchone() != (0,)
    sums = conn.execute(
        "SELECT sum(sessions), sum(occupied_s), sum(total_active_energy_import_increase)"
        " FROM ev_daily"
    ).fetchone()
    assert sums is not None and all(v and v > 0 for v in sums)
    # The rebuild (migrate's first build, a change of zone) gives the same.
    rebuild(conn, FIRST_BUILD)
    assert_read_models_exact(conn)
    # A pole moved to another district (the admin API) takes its share along.
    assert patch_pole(conn, "A", {"district": "Pankow"}, actor="test") is not None
    put_pole(conn, "C", {"district": "Mitte"}, actor="test")
    assert_read_models_exact(conn)


def test_two_writers_on_the_same_poles_at_once(
    conn: psycopg.Connection[Any], database_url: str
) -> None:
    """Shared subscriptions hand one pole's messages to every worker: the per-pole
    locks must keep the edges and valid hours exact, and no deadlock may stop them."""
    rng = random.Random(14)
    items = generate(rng)
    rng.shuffle(items)
    halves = [items[0::2], items[1::2]]
    failures: list[BaseException] = []

    def run(part: list[ReceivedReading], seed: int) -> None:
        local = random.Random(seed)
        try:
            with psycopg.connect(database_url) as c:
                writer = ReadingWriter(c)
                position = 0
                while position < len(part):
                    size = local.randint(50, 300)
                    while True:
                        try:
                            writer.write_batch(part[position : position + size], [])
                            break
                        except psycopg.errors.DeadlockDetected:  # ingest retries these too
                            continue
                    position += size
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(h, n)) for n, h in enumerate(halves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert failures == []
    assert_read_models_exact(conn)


def test_the_rollup_tables_are_their_spec(conn: psycopg.Connection[Any]) -> None:
    for rollup in ALL_ROLLUPS:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            (rollup.table,),
        ).fetchall()
        assert {r[0] for r in rows} == {c for c, _ in rollup.columns()}, rollup.table
        assert rollup.table in create_table_sql(rollup)
    for family, table in LATEST_TABLES.items():
        raw = conn.execute(
            "SELECT array_agg(column_name::text ORDER BY ordinal_position)"
            " FROM information_schema.columns WHERE table_name = %s",
            (table,),
        ).fetchone()
        assert raw is not None and raw[0][0] == "pole_id", family


@pytest.mark.timescale
def test_read_models_on_timescaledb_with_compressed_chunks(tmp_path: Path) -> None:
    """The same merge on TimescaleDB (PGlite build; staged without COPY), late data
    landing in compressed chunks included."""
    rng = random.Random(15)
    items = generate(rng)
    rng.shuffle(items)
    cut = len(items) * 7 // 10
    with (
        running_pglite(tmp_path, in_memory=True) as dsn,
        psycopg.connect(dsn, autocommit=True) as conn,
    ):
        migrate(conn, "on")
        register(conn)
        conn.autocommit = False
        writer = InsertStagingWriter(conn)
        for start in range(0, cut, 300):
            writer.write_batch(items[start : start + 300], [])
        conn.commit()
        conn.autocommit = True
        for table in ("env_readings", "light_readings", "wifi_readings", "ev_readings"):
            conn.execute(f"SELECT compress_chunk(c) FROM show_chunks('{table}') AS c")  # noqa: S608
        conn.autocommit = False
        for start in range(cut, len(items), 300):
            writer.write_batch(items[start : start + 300], [])
        writer.write_batch(items[:200], [])  # redelivered into compressed chunks
        conn.commit()
        conn.autocommit = True
        compressed = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed"
        ).fetchone()
        assert compressed is not None and compressed[0] > 0
        stored = conn.execute(
            "SELECT (SELECT count(*) FROM env_readings), count(*) FROM ev_daily"
        ).fetchone()
        assert stored is not None and stored[0] > 1000 and stored[1] > 0
        assert_read_models_exact(conn)
