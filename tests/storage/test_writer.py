"""The batch writer against a real PostgreSQL: idempotency, rollup, registry, quarantine."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from models.readings import EnvReading, PoleStatus, WifiReading
from models.topics import Family, PoleTopic
from models.wire import Rejection
from storage.writer import ReadingWriter, ReceivedReading, ReceivedRejection

T0 = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # the night Europe/Berlin switches to CEST


def env_item(pole: str, at: datetime, **values: float) -> ReceivedReading:
    reading = EnvReading.model_validate({"dateObserved": at, **values})
    return ReceivedReading(PoleTopic(pole, Family.ENV), reading, at + timedelta(seconds=2))


@pytest.fixture
def writer(database_url: str) -> Any:
    with psycopg.connect(database_url) as conn:
        yield ReadingWriter(conn)


def test_a_batch_written_twice_stores_once_and_counts_duplicates(writer: ReadingWriter) -> None:
    batch = [env_item("A", T0 + timedelta(minutes=m), pm10=10 + m) for m in range(50)]
    first = writer.write_batch(batch, [])
    again = writer.write_batch(batch, [])
    assert (first.stored, first.duplicates) == (50, 0)
    assert (again.stored, again.duplicates) == (0, 50)
    # duplicates inside one batch too
    inside = writer.write_batch(
        [batch[0], batch[0], env_item("A", T0 - timedelta(hours=1), o3=1)], []
    )
    assert (inside.stored, inside.duplicates) == (1, 2)


def test_hourly_rollup_equals_a_recomputation_from_raw_rows(writer: ReadingWriter) -> None:
    rng = random.Random(7)
    items = []
    for pole in ("A", "B", "C"):
        for minute in range(0, 6 * 60, 5):
            values = {"pm10": rng.uniform(0, 90), "no2": rng.uniform(0, 250)}
            if rng.random() < 0.7:  # some readings lack a metric: counts must differ
                values["laeq"] = rng.uniform(35, 80)
            items.append(env_item(pole, T0 + timedelta(minutes=minute), **values))
    rng.shuffle(items)  # out of order, as backlogs arrive
    redelivered = rng.sample(items, 40)
    for start in range(0, len(items), 37):
        writer.write_batch(items[start : start + 37], [])
    writer.write_batch(redelivered, [])
    # A late reading in an hour that is already summarised.
    writer.write_batch([env_item("A", T0 + timedelta(minutes=2), pm10=500.0)], [])

    conn = writer.conn
    mismatches = conn.execute(
        """
        WITH raw AS (
            SELECT pole_id, date_trunc('hour', observed_at, 'UTC') AS bucket, count(*) AS n,
                   count(pm10) AS pm10_count, sum(pm10::float8) AS pm10_sum, min(pm10) AS pm10_min,
                   max(pm10) AS pm10_max, count(no2) AS no2_count, avg(no2) AS no2_avg,
                   count(laeq) AS laeq_count,
                   10 * log(sum(power(10, laeq / 10.0)) / count(laeq)) AS laeq
            FROM env_readings GROUP BY 1, 2
        )
        SELECT raw.*, h.* FROM raw FULL JOIN env_hourly h USING (pole_id, bucket)
        WHERE h.readings IS DISTINCT FROM raw.n
           OR h.pm10_count IS DISTINCT FROM raw.pm10_count
           OR abs(h.pm10_sum - raw.pm10_sum) > 1e-6
           OR h.pm10_min IS DISTINCT FROM raw.pm10_min
           OR h.pm10_max IS DISTINCT FROM raw.pm10_max
           OR abs(h.no2_sum / h.no2_count - raw.no2_avg) > 1e-6
           OR h.laeq_count IS DISTINCT FROM raw.laeq_count
           OR abs(10 * log(h.laeq_energy_sum / nullif(h.laeq_count, 0)) - raw.laeq) > 1e-6
        """
    ).fetchall()
    assert mismatches == []
    buckets = conn.execute("SELECT count(*), sum(readings) FROM env_hourly").fetchone()
    assert buckets == (18, 3 * 72 + 1)
    late_bucket = conn.execute(
        "SELECT pm10_max FROM env_hourly WHERE pole_id = 'A' AND bucket = %s", (T0,)
    ).fetchone()
    assert late_bucket == (500.0,)


def test_registry_tracks_first_last_seen_and_the_newest_status_wins(writer: ReadingWriter) -> None:
    online = PoleStatus.model_validate(
        {"dateObserved": T0, "status": "online", "firmwareVersion": "1.0"}
    )
    offline_earlier = PoleStatus.model_validate(
        {"dateObserved": T0 - timedelta(hours=1), "status": "offline"}
    )
    status_topic = PoleTopic("A", Family.STATUS)
    wifi = WifiReading.model_validate({"dateObserved": T0, "status": "up", "connectedClients": 3})
    writer.write_batch(
        [
            ReceivedReading(status_topic, online, T0),
            ReceivedReading(PoleTopic("A", Family.WIFI), wifi, T0 + timedelta(seconds=1)),
        ],
        [],
    )
    # A late backlog carries an older offline status: it is history, not news.
    writer.write_batch(
        [ReceivedReading(status_topic, offline_earlier, T0 + timedelta(hours=1))], []
    )
    row = writer.conn.execute(
        "SELECT status, status_since, firmware_version, capabilities, first_seen, last_seen,"
        " last_observed_at FROM poles WHERE pole_id = 'A'"
    ).fetchone()
    assert row == ("online", T0, "1.0", ["wifi"], T0, T0 + timedelta(hours=1), T0)
    # A last-will without a time counts from its arrival and does win.
    will = PoleStatus.model_validate({"status": "offline"})
    writer.write_batch([ReceivedReading(status_topic, will, T0 + timedelta(hours=2))], [])
    assert writer.conn.execute("SELECT status, status_since FROM poles").fetchone() == (
        "offline",
        T0 + timedelta(hours=2),
    )
    assert writer.conn.execute("SELECT count(*) FROM status_events").fetchone() == (3,)


def test_identical_rejects_are_counted_not_repeated(writer: ReadingWriter) -> None:
    topic = "smartpole/v1/poles/A/env"
    reject = ReceivedRejection(
        topic, PoleTopic("A", Family.ENV), Rejection("malformed JSON", b"{oops"), T0
    )
    later = ReceivedRejection(
        topic,
        PoleTopic("A", Family.ENV),
        Rejection("malformed JSON", b"{oops"),
        T0 + timedelta(minutes=1),
    )
    other = ReceivedRejection("bad/topic", None, Rejection("topic: nope", b"{}"), T0)
    result = writer.write_batch([], [reject, later, other])
    writer.write_batch([], [reject])
    assert result.quarantined == 3
    rows = writer.conn.execute(
        "SELECT topic, pole_id, times_seen, received_at, last_received_at, payload"
        " FROM quarantine ORDER BY topic"
    ).fetchall()
    assert rows == [
        ("bad/topic", None, 1, T0, T0, b"{}"),
        (topic, "A", 3, T0, T0 + timedelta(minutes=1), b"{oops"),
    ]
    # The pole behind the garbage is registered: it is alive, just broken.
    assert writer.conn.execute("SELECT pole_id, last_observed_at FROM poles").fetchall() == [
        ("A", None)
    ]


def test_a_batch_the_database_refuses_leaves_the_writer_usable(
    writer: ReadingWriter, database_url: str
) -> None:
    # An operator's constraint stricter than the wire model: the database, not
    # validation, refuses the reading. The very first batch failing must not
    # leave the writer believing in staging tables that rolled back with it.
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("ALTER TABLE env_readings ADD CONSTRAINT pm10_sane CHECK (pm10 < 1000)")
    with pytest.raises(psycopg.errors.CheckViolation):
        writer.write_batch([env_item("A", T0, pm10=2000)], [])
    assert writer.write_batch([env_item("A", T0, pm10=20)], []).stored == 1
