"""Upgrading a database made by an earlier release: commit b14dd5f (migrations
0001-0017, issue 16 merged; there are no release tags yet). That commit's own
code (from git, run in a subprocess: its migration runner and its writer)
creates the schema and stores data; today's `migrate` then upgrades it, and
the data is all there, read models filled, 0017's `env_reporting` folded into
`reporting_intervals`, and a second migrate is a no-op."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from models.readings import EnvReading
from models.topics import Family, PoleTopic
from storage.migrate import load_migrations, migrate, pending_migrations
from storage.writer import ReadingWriter, ReceivedReading
from tests.deploy.launch import REPO

OLD_COMMIT = "b14dd5f"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# Runs in the old tree: its migrate() as `smartpole db migrate` ran it, then
# readings, a quarantined message, a registry entry and a credential through
# its own code, and a reporting interval in its env_reporting table.
OLD_SIDE = """
import sys
from datetime import datetime, timedelta, UTC

import orjson
import psycopg

import storage.migrate
from models.wire import decode_message
from storage.migrate import migrate
from storage.writer import ReadingWriter, ReceivedReading, ReceivedRejection

dsn = sys.argv[1]
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
assert storage.migrate.__file__.startswith(sys.argv[2]), storage.migrate.__file__
with psycopg.connect(dsn) as conn:
    report = migrate(conn, "off")
    print("applied", ",".join(report.applied))
    conn.autocommit = False
    writer = ReadingWriter(conn)
    readings, rejections = [], []
    messages = [
        ("smartpole/v1/poles/OLD-1/env",
         [{"dateObserved": (T0 + timedelta(minutes=m)).isoformat(), "pm10": 10 + m,
           "no2": 20.0} for m in range(0, 120, 10)]),
        ("smartpole/v1/poles/OLD-1/light",
         {"dateObserved": T0.isoformat(), "powerState": "on", "activePower": 40.0,
          "totalActiveEnergyImport": 100.0}),
        ("smartpole/v1/poles/OLD-1/ev/1",
         {"dateObserved": T0.isoformat(), "status": "Charging", "chargingPower": 11.0,
          "totalActiveEnergyImport": 5.0, "transactionId": "tx-1"}),
        ("smartpole/v1/poles/OLD-1/status",
         {"dateObserved": T0.isoformat(), "status": "online", "firmwareVersion": "1.0"}),
        ("smartpole/v1/poles/OLD-1/env", b"{not json"),
    ]
    for topic, body in messages:
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        received = T0 + timedelta(hours=3)
        decoded = decode_message(topic, payload, received)
        readings += [ReceivedReading(decoded.topic, r, received) for r in decoded.readings]
        rejections += [ReceivedRejection(topic, decoded.topic, j, received)
                       for j in decoded.rejections]
    result = writer.write_batch(readings, rejections)
    print("stored", result.stored, "quarantined", result.quarantined)
    with conn.transaction():
        conn.execute("UPDATE poles SET district = 'Altstadt', name = 'Markt 1',"
                     " latitude = 51.55, longitude = 7.31 WHERE pole_id = 'OLD-1'")
        conn.execute("INSERT INTO env_reporting (pole_id, interval_s, stamped_at_end)"
                     " VALUES ('OLD-1', 3600, true), ('OLD-2', 600, false)")
"""


def _old_tree(tmp_path: Path) -> Path:
    """The Python packages of OLD_COMMIT, from git (CI clones with history)."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", OLD_COMMIT,
             "storage", "models", "config"],
            capture_output=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    except subprocess.CalledProcessError as exc:
        pytest.fail(
            f"cannot read commit {OLD_COMMIT} from git ({exc.stderr.decode()[:200]}): "
            "this test needs the repository's history (not a shallow clone)"
        )
    tree = tmp_path / f"smartpole-{OLD_COMMIT}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(tree, filter="data")
        else:  # Python before 3.11.4 (Debian 12 has 3.11.2): our own git archive
            tar.extractall(tree)  # noqa: S202
    return tree


def test_a_database_of_commit_b14dd5f_upgrades_with_its_data(
    empty_database_url: str, tmp_path: Path
) -> None:
    tree = _old_tree(tmp_path)
    old_versions = sorted(p.name for p in (tree / "storage/migrations").glob("*.sql"))
    assert old_versions[-1] == "0017_air_quality_trust.sql"
    old = subprocess.run(
        [sys.executable, "-c", OLD_SIDE, empty_database_url, str(tree)],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert old.returncode == 0, old.stderr[-3000:]
    assert "stored 15 quarantined 1" in old.stdout

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        before = _counts(conn)
        assert before["env_readings"] == 12 and before["quarantine"] == 1
        pending = pending_migrations(conn)
        assert pending == [
            f"{m.version:04d}_{m.name}"
            for m in load_migrations()
            if m.version > 17 and not m.timescale_only
        ]

        report = migrate(conn, "off")
        assert report.applied == pending
        assert _counts(conn) == before  # every row survived

        # 0022 folded env_reporting into reporting_intervals and dropped it
        assert conn.execute("SELECT to_regclass('env_reporting')").fetchone() == (None,)
        intervals = conn.execute(
            "SELECT pole_id, family, interval_s, stamped_at_end FROM reporting_intervals"
            " ORDER BY pole_id"
        ).fetchall()
        assert intervals == [("OLD-1", "env", 3600, True), ("OLD-2", "env", 600, False)]

        # the first migrate filled the read models from what was stored
        hourly = conn.execute(
            "SELECT bucket, readings, pm10_sum FROM env_hourly WHERE pole_id = 'OLD-1'"
            " ORDER BY bucket"
        ).fetchall()
        assert [(b, n) for b, n, _ in hourly] == [(T0, 6), (T0 + timedelta(hours=1), 6)]
        assert sum(s for _, _, s in hourly) == sum(10 + m for m in range(0, 120, 10))
        latest = conn.execute("SELECT observed_at FROM env_latest WHERE pole_id = 'OLD-1'")
        assert latest.fetchone() == (T0 + timedelta(minutes=110),)
        assert conn.execute("SELECT count(*) FROM ev_latest").fetchone() == (1,)
        pole = conn.execute(
            "SELECT district, name, status, firmware_version, capabilities FROM poles"
        ).fetchone()
        assert pole == ("Altstadt", "Markt 1", "online", "1.0", ["env", "ev", "light"])
        # 0030 classified the old quarantine row
        assert conn.execute("SELECT reason_kind, payload_truncated FROM quarantine").fetchone() == (
            "malformed_json",
            False,
        )

        # resumable and idempotent: nothing left to do
        assert migrate(conn, "off").applied == []
        assert pending_migrations(conn) == []

        # and today's writer carries on where the old one stopped
        conn.autocommit = False
        late = EnvReading.model_validate({"dateObserved": T0 + timedelta(minutes=5), "pm10": 1})
        result = ReadingWriter(conn).write_batch(
            [ReceivedReading(PoleTopic("OLD-1", Family.ENV), late, T0 + timedelta(hours=4))], []
        )
        assert result.stored == 1
        row = conn.execute(
            "SELECT readings FROM env_hourly WHERE pole_id = 'OLD-1' AND bucket = %s", (T0,)
        ).fetchone()
        assert row == (7,)


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    tables = ("env_readings", "light_readings", "ev_readings", "status_events", "quarantine",
              "poles", "env_hourly")  # fmt: skip
    counts = {}
    for table in tables:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        counts[table] = int(row[0]) if row else 0
    return counts
