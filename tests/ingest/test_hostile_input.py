"""Hostile input through the real pipe: each bad message or array element lands
in quarantine with its reason, good readings beside it are stored, and the
worker keeps running."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.ingest.test_end_to_end import count, start_and_wait_subscribed
from tests.support import samples
from tests.support.ingest_process import IngestProcess
from tests.support.mqtt import TestPublisher
from tests.support.services import wait_until

Conn = psycopg.Connection[tuple[Any, ...]]

ENV = samples.topic("H-1", "env")

# (topic, payload, a fragment the quarantine reason must contain)
HOSTILE: list[tuple[str, bytes | dict[str, Any] | list[Any], str]] = [
    (ENV, b'{"dateObserved": "2026-03-01T00:00:00Z", "pm10": 1', "malformed JSON"),
    (ENV, b"\xff\xfe\x00garbage", "malformed JSON"),
    (ENV, b'{"dateObserved": "2026-03-01T00:01:00Z", "pm10": NaN}', "malformed JSON"),
    (ENV, b'{"dateObserved": "2026-03-01T00:02:00Z", "pm10": Infinity}', "malformed JSON"),
    (ENV, b'{"dateObserved": "2026-03-01T00:03:00Z", "pm10": 1e999}', "malformed JSON"),
    (ENV, samples.env(4, pm10="12"), "pm10: Input should be a valid number"),
    (ENV, samples.env(5, relativeHumidity=140), "relativeHumidity: Input should be less than"),
    (ENV, samples.env(6, pm25=-3), "pm25: Input should be greater than or equal to 0"),
    (ENV, samples.env(7, LAmax=30), "LAmax cannot be below LAeq"),
    (ENV, samples.env(8, benzene=1.0), "benzene: unknown field"),
    (ENV, {"pm10": 12}, "dateObserved: Field required"),
    (ENV, samples.env(9, dateObserved="2026-03-01T00:09:00"), "timezone"),
    (ENV, samples.env(10, dateObserved="2099-01-01T00:00:00Z"), "ahead of the platform clock"),
    (ENV, samples.env(11, dateObserved="1970-01-01T00:00:00Z"), "device clock not set"),
    (ENV, b"[]", "non-empty array"),
    (ENV, b'"just a string"', "JSON str"),
    (ENV, b"x" * 300_000, "payload too large"),
    (samples.topic("H-1", "gas"), samples.env(12), "unknown family 'gas'"),
    (samples.topic("H 1", "env"), samples.env(13), "invalid pole id"),
    (samples.topic("H-1", "ev/0"), samples.ev(14), "connector id must be 1-99"),
    (samples.topic("H-1", "ev/x"), samples.ev(15), "/ev/{connector_id}, a number"),
    (samples.topic("H-1", "env/extra"), samples.env(16), "unexpected topic levels"),
    (samples.topic("H-1", "ev/1"), samples.ev(18, status="Exploded"), "status: Input should be"),
    (samples.topic("H-1", "status"), {"status": "online"}, "dateObserved is required"),
    (samples.topic("H-1", "light"), samples.light(19, illuminanceLevel=1.5), "illuminanceLevel"),
    (samples.topic("H-1", "wifi"), samples.wifi(20, connectedClients=-1), "connectedClients"),
]


def test_every_hostile_message_is_quarantined_with_its_reason(
    ingest: IngestProcess, publisher: TestPublisher, db: Conn
) -> None:
    start_and_wait_subscribed(ingest)
    publisher.publish_all((topic, payload) for topic, payload, _ in HOSTILE)
    good = [(ENV, samples.env(100)), (samples.topic("H-2", "ev/1"), samples.ev(100))]
    publisher.publish_all(good)  # the worker must still be taking messages

    wait_until(lambda: count(db, "env_readings") + count(db, "ev_readings") == 2, 30, "good rows")
    rows = db.execute("SELECT topic, reason, payload FROM quarantine ORDER BY id").fetchall()
    for topic, _, fragment in HOSTILE:
        assert any(t == topic and fragment in r for t, r, _ in rows), (
            f"no quarantine reason containing {fragment!r} for {topic}; got {rows}"
        )
    assert len(rows) == len(HOSTILE)
    oversized = next(p for _, r, p in rows if "too large" in r)
    assert len(oversized) == 4096
    assert count(db, "env_readings") == 1 and count(db, "ev_readings") == 1
    assert ingest.running


def test_an_array_mixing_good_and_bad_readings_keeps_the_good_ones(
    ingest: IngestProcess, publisher: TestPublisher, db: Conn
) -> None:
    start_and_wait_subscribed(ingest)
    backlog = [
        samples.env(0),
        samples.env(1, pm10=-1),
        samples.env(2),
        "not an object",
        samples.env(3, no2=float("nan")) | {"no2": None},  # null is allowed: "not measured"
        samples.env(4, dateObserved="2099-01-01T00:00:00Z"),
    ]
    publisher.publish_all([(ENV, backlog)])
    wait_until(lambda: count(db, "quarantine") == 3, 30, "three bad items quarantined")
    wait_until(lambda: count(db, "env_readings") == 3, 30, "three good items stored")
    rows = db.execute("SELECT item_index, reason FROM quarantine ORDER BY item_index").fetchall()
    assert [index for index, _ in rows] == [1, 3, 5]
    assert rows[0][1].startswith("item 1: pm10:")
    assert rows[1][1] == "item 3: a reading must be a JSON object, got str"
    assert "ahead of the platform clock" in rows[2][1]
    stored = db.execute("SELECT no2 FROM env_readings ORDER BY observed_at").fetchall()
    assert stored == [(31.2,), (31.2,), (None,)]


def test_a_reading_the_database_refuses_is_quarantined_and_its_batch_mates_stored(
    ingest: IngestProcess, publisher: TestPublisher, db: Conn
) -> None:
    db.execute("ALTER TABLE env_readings ADD CONSTRAINT pm10_sane CHECK (pm10 < 1000)")
    ingest.env["SMARTPOLE_INGEST_BATCH_MAX_AGE_MS"] = "1000"  # both in one batch
    start_and_wait_subscribed(ingest)
    publisher.publish_all([(ENV, samples.env(0, pm10=2000.0)), (ENV, samples.env(1))])
    wait_until(lambda: count(db, "quarantine") == 1, 30, "the refused reading quarantined")
    wait_until(lambda: count(db, "env_readings") == 1, 30, "its neighbour stored")
    reason = db.execute("SELECT reason FROM quarantine").fetchone()
    assert reason is not None and reason[0].startswith("storage refused:")
    assert "pm10_sane" in reason[0]
    assert ingest.running
