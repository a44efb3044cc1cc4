"""Smoke test of the TimescaleDB-in-PGlite test server (tests/support/pglite).

One server start (a few seconds) covers what the storage code relies on: hypertables,
plain parameterised INSERTs, compression and retention policies run by hand (PGlite has
no background workers) and a continuous aggregate refreshed by hand.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from tests.support.pglite import running_pglite

pytestmark = pytest.mark.timescale

UTC = dt.UTC
START = dt.datetime(2024, 3, 1, tzinfo=UTC)  # far in the past: policies act on all of it
POLES = ("pole-a", "pole-b", "pole-c")
HOURS = 72
SAMPLES_PER_HOUR = 4


def _rows() -> list[tuple[dt.datetime, str, float]]:
    step = dt.timedelta(hours=1) / SAMPLES_PER_HOUR
    return [
        (START + i * step, pole, float(i % 10) + n)
        for i in range(HOURS * SAMPLES_PER_HOUR)
        for n, pole in enumerate(POLES)
    ]


def _job_id(conn: psycopg.Connection[tuple[object, ...]], proc: str, table: str) -> int:
    row = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = %s AND hypertable_name = %s",
        (proc, table),
    ).fetchone()
    assert row is not None, f"no {proc} job for {table}"
    job_id = row[0]
    assert isinstance(job_id, int)
    return job_id


def _chunks(conn: psycopg.Connection[tuple[object, ...]], table: str) -> tuple[int, int]:
    """(compressed chunks, all chunks) of a hypertable."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE is_compressed), count(*)"
        " FROM timescaledb_information.chunks WHERE hypertable_name = %s",
        (table,),
    ).fetchone()
    assert row is not None
    compressed, total = row
    assert isinstance(compressed, int)
    assert isinstance(total, int)
    return compressed, total


def test_timescaledb_in_pglite(tmp_path: Path) -> None:
    rows = _rows()
    with (
        running_pglite(tmp_path) as dsn,
        psycopg.connect(dsn, autocommit=True) as conn,
    ):
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        assert version is not None
        assert str(version[0]).startswith("2.")

        conn.execute(
            """
            CREATE TABLE telemetry (
                ts      timestamptz      NOT NULL,
                pole_id text             NOT NULL,
                power_w double precision NOT NULL
            )
            """
        )
        created = conn.execute(
            "SELECT * FROM create_hypertable('telemetry', by_range('ts', INTERVAL '1 day'))"
        ).fetchone()
        assert created is not None
        assert created[1] is True

        # Plain parameterised INSERTs (extended protocol, server-side parameters).
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO telemetry (ts, pole_id, power_w) VALUES (%s, %s, %s)", rows
            )
        count = conn.execute("SELECT count(*), sum(power_w) FROM telemetry").fetchone()
        assert count is not None
        assert count[0] == len(rows)
        assert count[1] == pytest.approx(sum(r[2] for r in rows))

        hypertables = conn.execute(
            "SELECT hypertable_name, num_chunks"
            " FROM timescaledb_information.hypertables WHERE hypertable_name = 'telemetry'"
        ).fetchall()
        assert hypertables == [("telemetry", HOURS // 24)]

        # time_bucket with a time zone: days start at local midnight (23:00 UTC in March).
        first_day = conn.execute(
            "SELECT time_bucket('1 day', ts, 'Europe/Berlin') AS day, count(*)"
            " FROM telemetry GROUP BY day ORDER BY day LIMIT 1"
        ).fetchone()
        assert first_day is not None
        assert first_day[0] == dt.datetime(2024, 2, 29, 23, tzinfo=UTC)
        assert first_day[1] == 23 * SAMPLES_PER_HOUR * len(POLES)

        # Continuous aggregate, created empty and refreshed by hand.
        conn.execute(
            """
            CREATE MATERIALIZED VIEW telemetry_hourly
            WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
            SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket,
                   pole_id,
                   avg(power_w) AS avg_w,
                   count(*)     AS samples
            FROM telemetry
            GROUP BY bucket, pole_id
            WITH NO DATA
            """
        )
        empty = conn.execute("SELECT count(*) FROM telemetry_hourly").fetchone()
        assert empty == (0,)
        conn.execute("CALL refresh_continuous_aggregate('telemetry_hourly', NULL, NULL)")
        hourly = conn.execute(
            "SELECT count(*), sum(samples), min(samples), max(samples) FROM telemetry_hourly"
        ).fetchone()
        assert hourly == (HOURS * len(POLES), len(rows), SAMPLES_PER_HOUR, SAMPLES_PER_HOUR)
        avg = conn.execute(
            "SELECT avg_w FROM telemetry_hourly WHERE bucket = %s AND pole_id = %s",
            (START, "pole-b"),
        ).fetchone()
        assert avg is not None
        assert avg[0] == pytest.approx((0 + 1 + 2 + 3) / 4 + 1)

        # A refresh policy (start_offset NULL: from the oldest data), run by hand after a
        # late sample changed an hour that was already materialised.
        conn.execute(
            "SELECT add_continuous_aggregate_policy('telemetry_hourly',"
            " start_offset => NULL, end_offset => INTERVAL '1 hour',"
            " schedule_interval => INTERVAL '1 hour')"
        )
        late = START + dt.timedelta(minutes=7, seconds=30)
        conn.execute(
            "INSERT INTO telemetry (ts, pole_id, power_w) VALUES (%s, %s, %s)",
            (late, "pole-a", 42.0),
        )
        # (The jobs view names the continuous aggregate itself as the job's hypertable.)
        refresh = _job_id(conn, "policy_refresh_continuous_aggregate", "telemetry_hourly")
        first_hour = "SELECT samples FROM telemetry_hourly WHERE bucket = %s AND pole_id = %s"
        assert conn.execute(first_hour, (START, "pole-a")).fetchone() == (SAMPLES_PER_HOUR,)
        conn.execute("CALL run_job(%s)", (refresh,))
        assert conn.execute(first_hour, (START, "pole-a")).fetchone() == (SAMPLES_PER_HOUR + 1,)
        conn.execute("DELETE FROM telemetry WHERE ts = %s", (late,))
        conn.execute("CALL run_job(%s)", (refresh,))
        assert conn.execute(first_hour, (START, "pole-a")).fetchone() == (SAMPLES_PER_HOUR,)

        # Compression, then its policy and a retention policy, run by hand.
        conn.execute(
            "ALTER TABLE telemetry SET (timescaledb.compress,"
            " timescaledb.compress_segmentby = 'pole_id',"
            " timescaledb.compress_orderby = 'ts DESC')"
        )
        settings = conn.execute(
            "SELECT attname, segmentby_column_index, orderby_column_index"
            " FROM timescaledb_information.compression_settings"
            " WHERE hypertable_name = 'telemetry' ORDER BY attname"
        ).fetchall()
        assert settings == [("pole_id", 1, None), ("ts", None, 1)]

        conn.execute(
            "SELECT add_compression_policy('telemetry', compress_after => INTERVAL '7 days')"
        )
        conn.execute("SELECT add_retention_policy('telemetry', drop_after => INTERVAL '3650 days')")
        jobs = conn.execute(
            "SELECT proc_name FROM timescaledb_information.jobs"
            " WHERE hypertable_name IN ('telemetry', 'telemetry_hourly') ORDER BY proc_name"
        ).fetchall()
        assert [j[0] for j in jobs] == [
            "policy_compression",
            "policy_refresh_continuous_aggregate",
            "policy_retention",
        ]

        assert _chunks(conn, "telemetry") == (0, HOURS // 24)
        conn.execute("CALL run_job(%s)", (_job_id(conn, "policy_compression", "telemetry"),))
        assert _chunks(conn, "telemetry") == (HOURS // 24, HOURS // 24)
        # Compressed data reads back the same.
        after = conn.execute("SELECT count(*), sum(power_w) FROM telemetry").fetchone()
        assert after == count

        # Retention keeps ten years: running it drops nothing ...
        conn.execute("CALL run_job(%s)", (_job_id(conn, "policy_retention", "telemetry"),))
        assert _chunks(conn, "telemetry") == (HOURS // 24, HOURS // 24)
        # ... and with a one-day horizon it drops every chunk (the data is from 2024).
        retention = _job_id(conn, "policy_retention", "telemetry")
        conn.execute(
            "SELECT alter_job(job_id, config => jsonb_set(config, '{drop_after}', '\"1 day\"'))"
            " FROM timescaledb_information.jobs WHERE job_id = %s",
            (retention,),
        )
        conn.execute("CALL run_job(%s)", (retention,))
        assert _chunks(conn, "telemetry") == (0, 0)
        assert conn.execute("SELECT count(*) FROM telemetry").fetchone() == (0,)
        # The aggregate keeps its materialised rows.
        kept = conn.execute("SELECT count(*) FROM telemetry_hourly").fetchone()
        assert kept == (HOURS * len(POLES),)
