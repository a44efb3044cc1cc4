"""Simulators end to end: `smartpole simulate` as a subprocess, a real
Mosquitto, `smartpole ingest` and PostgreSQL. What the platform stored must
equal the simulator's own summary."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql

from simulators.faults import FaultPlan
from simulators.replay import ReplayReport, uba_messages
from tests.simulators.conftest import fleet, simulate
from tests.support.ingest_process import IngestProcess
from tests.support.services import MosquittoServer, wait_until

Conn = psycopg.Connection[tuple[Any, ...]]


def run_simulate(
    mosquitto: MosquittoServer, *args: str, poles: Iterable[str], tls: bool = False
) -> subprocess.CompletedProcess[str]:
    """`smartpole simulate` as a field technician runs it: each pole with the
    commissioning file issued for it, plain MQTT or TLS with the dev CA."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTPOLE_")}
    env["SMARTPOLE_SIMULATOR_CREDENTIALS"] = str(mosquitto.issue_poles(poles))
    if tls:
        env["SMARTPOLE_MQTT_URL"] = f"mqtts://127.0.0.1:{mosquitto.tls_port}"
        env["SMARTPOLE_MQTT_TLS_CA_FILE"] = str(mosquitto.ca_file)
    else:
        env["SMARTPOLE_MQTT_URL"] = f"mqtt://127.0.0.1:{mosquitto.port}"
    return subprocess.run(
        [sys.executable, "-m", "smartpole.cli", "simulate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def table_counts(db: Conn, tables: list[str]) -> dict[str, int]:
    counts = {}
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        row = db.execute(query).fetchone()
        assert row is not None
        counts[table] = int(row[0])
    return counts


def start_ingest(ingest: IngestProcess) -> None:
    ingest.start()
    wait_until(lambda: "subscribed to" in ingest.log_text(), 30, "ingest subscription")


def test_fleet_with_faults_stores_exactly_what_the_summary_says(
    ingest: IngestProcess, mosquitto: MosquittoServer, db: Conn, tmp_path: Path
) -> None:
    start_ingest(ingest)
    summary_file = tmp_path / "summary.json"
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    fault_spec = (
        "offline=6,outage=6,clock_skew=6,charger_faulted=6,stuck_sensor=4,"
        "day_burner=4,defective_lamp=4,out_of_range=0.03,malformed=0.03,duplicate=0.03"
    )
    result = run_simulate(
        mosquitto,
        "fleet", "--poles", "4", "--duration", "3h", "--backfill", "--seed", "7",
        "--end", end.isoformat(), "--faults", fault_spec,
        "--summary-json", str(summary_file), "--quiet",
        poles=[p.pole_id for p in fleet(4)], tls=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(summary_file.read_bytes())
    expected: dict[str, int] = summary["expected_tables"]
    # The run must exercise what it claims to check.
    faults = summary["faults"]
    for fault in ("offline", "outage", "out_of_range", "malformed", "duplicate", "clock_skew"):
        assert faults.get(fault, {}).get("messages", 0) > 0, fault
    assert summary["last_wills"] > 0
    assert expected["quarantine"] > 0

    tables = list(expected)
    wait_until(
        lambda: table_counts(db, tables) == expected,
        60,
        f"stored counts {expected}",
        interval=0.5,
    )
    row = db.execute("SELECT coalesce(sum(times_seen), 0) FROM quarantine").fetchone()
    assert row is not None
    assert row[0] == summary["quarantine"]["times_seen"]
    # Every quarantined payload is one the simulator meant to be invalid:
    # nothing a pole sends in normal operation is rejected.
    reasons = [r[0] for r in db.execute("SELECT reason FROM quarantine").fetchall()]
    assert all(
        any(word in reason for word in ("malformed JSON", "less than", "greater than",
                                        "ahead of the platform clock", "Input should be a valid"))
        for reason in reasons
    ), reasons  # fmt: skip
    # Row by row: the same seeded run, regenerated here, names every reject.
    expected_rows: Counter[tuple[str, bytes, int | None]] = Counter()
    for message in simulate(
        fleet(4, seed=7), hours=3, end=end, seed=7, plan=FaultPlan.parse(fault_spec)
    ):
        for item in message.items:
            if item.quarantine_key is not None:
                expected_rows[item.quarantine_key] += 1
    stored_rows = {
        (topic, bytes(digest), index): times_seen
        for topic, digest, index, times_seen in db.execute(
            "SELECT topic, payload_sha256, item_index, times_seen FROM quarantine"
        )
    }
    assert stored_rows == dict(expected_rows)
    wills = db.execute(
        "SELECT count(*) FROM status_events WHERE status = 'offline' AND observed_at = received_at"
    ).fetchone()
    assert wills is not None and wills[0] == summary["last_wills"]


def test_replayed_uba_slice_is_stored_hour_by_hour_across_both_dst_changes(
    ingest: IngestProcess, mosquitto: MosquittoServer, db: Conn, uba_dir: Path
) -> None:
    start_ingest(ingest)
    source = uba_dir / "luftqualitaet_muenster_2022-01-01_2024-01-01_station1140.csv"
    station = [next(uba_messages(source, ReplayReport())).pole_id]
    result = run_simulate(
        mosquitto, "replay", str(source), "--summary-json", "-", "--quiet",
        "--from", "2022-03-26T00:30:00+01:00", "--until", "2022-03-28T00:30:00+02:00",
        poles=station,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result_autumn = run_simulate(
        mosquitto, "replay", str(source), "--summary-json", "-", "--quiet",
        "--from", "2022-10-30T00:30:00+02:00", "--until", "2022-10-31T00:30:00+01:00",
        poles=station,
    )  # fmt: skip
    assert result_autumn.returncode == 0, result_autumn.stderr

    # Hour-ending labels: a day is the hours ending after 00:00 up to 24:00, so
    # the slices start and end half an hour past midnight.
    # 2022-03-26 (24 h) + 2022-03-27 (23 h) + 2022-10-30 (25 h), none missing in the file.
    wait_until(lambda: table_counts(db, ["env_readings"])["env_readings"] == 72, 60, "72 hours")
    days: dict[str, int] = dict(
        db.execute(
            "SELECT ((observed_at - interval '1 hour') AT TIME ZONE 'Europe/Berlin')::date::text,"
            " count(*) FROM env_readings GROUP BY 1"
        ).fetchall()
    )
    assert days == {"2022-03-26": 24, "2022-03-27": 23, "2022-10-30": 25}
    autumn = db.execute(
        "SELECT observed_at AT TIME ZONE 'UTC', no2 FROM env_readings"
        " WHERE observed_at BETWEEN '2022-10-30 00:00Z' AND '2022-10-30 03:00Z'"
        " ORDER BY observed_at"
    ).fetchall()
    # The two hours labelled 03:00 (CEST, then CET) end at 01:00 and 02:00 UTC.
    assert [(str(t), v) for t, v in autumn] == [
        ("2022-10-30 00:00:00", 16.0),
        ("2022-10-30 01:00:00", 17.0),
        ("2022-10-30 02:00:00", 23.0),
        ("2022-10-30 03:00:00", 25.0),
    ]
    summary = orjson.loads(result_autumn.stdout[result_autumn.stdout.index("{") :])
    assert summary["expected_tables"]["env_readings"] == 25


def test_an_accelerated_run_ends_now_and_no_timestamp_lands_in_the_future(
    ingest: IngestProcess, mosquitto: MosquittoServer, db: Conn, tmp_path: Path
) -> None:
    start_ingest(ingest)
    summary_file = tmp_path / "summary.json"
    # Two simulated hours in about two seconds, with clocks running ahead
    # (some by less than ingest's tolerance, some far beyond it).
    result = run_simulate(
        mosquitto,
        "fleet", "--poles", "3", "--duration", "2h", "--speed", "3600", "--seed", "5",
        "--faults", "clock_skew=40", "--summary-json", str(summary_file),
        poles=[p.pole_id for p in fleet(3)],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "msg/s" in result.stderr  # the progress line, printed plainly off a terminal
    summary = orjson.loads(summary_file.read_bytes())
    expected: dict[str, int] = summary["expected_tables"]
    assert summary["faults"]["clock_skew"]["valid"] > 0
    tables = list(expected)
    wait_until(lambda: table_counts(db, tables) == expected, 60, f"{expected}", interval=0.5)
    reasons = {r[0].split(":", 1)[0] for r in db.execute("SELECT reason FROM quarantine")}
    assert reasons <= {"dateObserved"}


def test_an_impostor_pole_is_refused_by_the_broker_and_nothing_of_it_is_stored(
    ingest: IngestProcess, mosquitto: MosquittoServer, db: Conn, tmp_path: Path
) -> None:
    start_ingest(ingest)
    summary_file = tmp_path / "summary.json"
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    result = run_simulate(
        mosquitto,
        "fleet", "--poles", "3", "--duration", "1h", "--backfill", "--seed", "3",
        "--end", end.isoformat(), "--faults", "impostor=0.1",
        "--summary-json", str(summary_file), "--quiet",
        poles=[p.pole_id for p in fleet(3)], tls=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(summary_file.read_bytes())
    impostor = summary["impostor"]
    assert impostor["attempts"] > 10
    assert impostor["refused_by_broker"] == impostor["attempts"]
    assert impostor["accepted_by_broker"] == 0
    assert "the broker refused" in result.stdout
    expected: dict[str, int] = summary["expected_tables"]
    wait_until(
        lambda: table_counts(db, list(expected)) == expected, 60, f"{expected}", interval=0.5
    )
    # No forged status took hold, and the refused messages did not cost the
    # impostor its own connection (its will never fired): each pole's last
    # status is the goodbye it said itself at the end of the run.
    statuses = db.execute("SELECT DISTINCT status FROM poles").fetchall()
    assert statuses == [("offline",)]
    wills = db.execute(
        "SELECT count(*) FROM status_events WHERE status = 'offline' AND observed_at = received_at"
    ).fetchone()
    assert wills == (0,)
