"""Replay: the real UBA files (DST quirks included), JSON lines, hostile files."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from models.readings import EnvReading
from models.wire import DecodeLimits
from simulators.faults import Fault, FaultPlan
from simulators.replay import (
    ReplayError,
    ReplayReport,
    detect_format,
    jsonl_messages,
    record_line,
    uba_hour_end,
    uba_messages,
)
from simulators.summary import RunSummary
from tests.simulators.conftest import BERLIN, END, fleet, simulate

UBA_2022 = "luftqualitaet_muenster_2022-01-01_2024-01-01_station1140.csv"
UBA_2020 = "luftqualitaet_muenster_2020-01-01_2022-01-01_station1140.csv"
HEADER = (
    '"Station code";Date;"Particulate matter (PM₁₀) Daily average (hourly floating) in µg/m³";'
    '"Ozone (O₃) One hour average in µg/m³";"Nitrogen dioxide (NO₂) One hour average in µg/m³";'
    '"Particulate matter (PM₂,₅) Daily average (hourly floating) in µg/m³";"Air quality index"\n'
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_hour_ending_local_labels_become_utc_hour_ends_across_dst() -> None:
    # Winter: label 01:00 is the hour 00:00-01:00 CET, ending 00:00 UTC.
    assert uba_hour_end("2022-01-10", 1, False) == utc("2022-01-10T00:00")
    assert uba_hour_end("2022-01-10", 24, False) == utc("2022-01-10T23:00")
    # Spring: 02:00 CET then 04:00 CEST, one hour apart.
    assert uba_hour_end("2022-03-27", 2, False) == utc("2022-03-27T01:00")
    assert uba_hour_end("2022-03-27", 4, False) == utc("2022-03-27T02:00")
    # Autumn: 03:00 twice, CEST first, then CET.
    assert uba_hour_end("2022-10-30", 2, False) == utc("2022-10-30T00:00")
    assert uba_hour_end("2022-10-30", 3, False) == utc("2022-10-30T01:00")
    assert uba_hour_end("2022-10-30", 3, True) == utc("2022-10-30T02:00")
    assert uba_hour_end("2022-10-30", 4, False) == utc("2022-10-30T03:00")


def test_the_real_files_replay_without_gaps_or_collisions(uba_dir: Path) -> None:
    report = ReplayReport()
    messages = [
        *uba_messages(uba_dir / UBA_2022, report),
        *uba_messages(uba_dir / UBA_2020, report),
    ]
    assert report.skipped == 0 and report.problems == []
    assert 60 <= report.empty_rows <= 200  # the README: about 70-80 missing rows per file
    summary = RunSummary(key_memory=None)
    for message in messages:
        summary.add(message)
        EnvReading.model_validate_json(message.payload)
    # 2022-01-01 01:00 is in both files: one reading stored, one duplicate.
    assert summary.duplicates["env"] == 1
    times = sorted(m.at for m in messages)
    steps = Counter(b - a for a, b in itertools.pairwise(times))
    assert steps[timedelta(0)] == 1  # the overlap between the files
    assert all(step <= timedelta(hours=1) or step in _known_gaps(times) for step in steps)
    assert {m.pole_id for m in messages} == {"UBA-DENW095"}


def _known_gaps(times: list[datetime]) -> set[timedelta]:
    # Runs of missing rows (all values "-") leave gaps longer than an hour.
    return {b - a for a, b in itertools.pairwise(times) if b - a > timedelta(hours=1)}


def test_an_autumn_day_has_25_hours_and_a_spring_day_23(uba_dir: Path) -> None:
    report = ReplayReport()
    per_day = Counter(
        (m.at - timedelta(hours=1)).astimezone(BERLIN).date().isoformat()
        for m in uba_messages(uba_dir / UBA_2022, report)
    )
    assert per_day["2022-03-27"] == 23
    assert per_day["2022-10-30"] == 25
    assert per_day["2023-03-26"] == 23


def test_hostile_uba_rows_are_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "uba.csv"
    path.write_text(
        "\ufeff"
        + HEADER
        + 'DENW095;"\'2022-01-01 01:00\'";13;46;8;-;"very good"\n'
        + "DENW095;\"'2022-01-01 25:00'\";13;46;8;-;good\n"  # no such hour
        + "DENW095;\"'2022-13-01 02:00'\";13;46;8;-;good\n"  # no such month
        + "DENW095;\"'2022-01-01 03:00'\";13;abc;8;-;good\n"  # not a number
        + "DENW095;\"'2022-01-01 04:00'\";13;nan;8;-;good\n"  # NaN
        + "DENW095;\"'2022-01-01 05:00'\";99999;4;8;-;good\n"  # beyond the physical range
        + "DENW095;\"'2022-01-01 06:00'\";-;-;-;-;good\n"  # all missing
        + "DENW095;\"'2022-01-01 07:00'\"\n"  # truncated row
        + "bad station!;\"'2022-01-01 08:00'\";13;46;8;-;good\n"
        + '\n"Source: German Environment Agency"\n',
        encoding="utf-8",
    )
    report = ReplayReport()
    messages = list(uba_messages(path, report))
    assert len(messages) == 1
    assert report.empty_rows == 2  # 06:00, and the truncated 07:00 (missing cells are "-")
    assert report.skipped == 6, report.problems
    assert all(p.startswith("line ") for p in report.problems)


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\x01\x02binary", b"station;date\n", b'"Wrong";Date;PM10\nx;y;z\n'],
)
def test_a_file_that_is_not_uba_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    with pytest.raises(ReplayError):
        list(uba_messages(path, ReplayReport()))


def test_format_detection(tmp_path: Path, uba_dir: Path) -> None:
    assert detect_format(uba_dir / UBA_2022) == "uba"
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"topic": "x", "payload": {}}\n')
    assert detect_format(jsonl) == "jsonl"
    odd = tmp_path / "odd"
    odd.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ReplayError):
        detect_format(odd)


def test_hostile_json_lines_are_skipped_and_bad_payloads_predicted_as_quarantined(
    tmp_path: Path,
) -> None:
    good = {"dateObserved": "2025-06-18T10:00:00Z", "pm10": 12.5}
    lines = [
        orjson.dumps({"topic": "smartpole/v1/poles/P-1/env", "payload": good}),
        b"not json at all",
        b"[1, 2, 3]",
        orjson.dumps({"payload": good}),
        orjson.dumps({"topic": "smartpole/v1/poles/#", "payload": good}),
        orjson.dumps({"topic": "smartpole/v1/poles/P-1/env", "raw": "x", "payload": good}),
        orjson.dumps({"topic": "smartpole/v1/poles/P-1/env", "raw": 5}),
        orjson.dumps({"topic": "smartpole/v1/poles/P-1/env", "payload": good, "retain": "yes"}),
        b"",
        orjson.dumps({"topic": "smartpole/v1/poles/P-1/env", "raw": '{"pm10": NaN'}),
        orjson.dumps({"topic": "smartpole/v1/poles/P-1/env", "payload": [good, {"pm10": -1}]}),
        orjson.dumps({"topic": "not/our/namespace", "payload": good}),
        b'{"topic": "a", "payload": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ]
    path = tmp_path / "recorded.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = ReplayReport()
    received = datetime(2025, 6, 18, 12, tzinfo=UTC)
    messages = list(jsonl_messages(path, report, received, DecodeLimits()))
    assert report.skipped == 8, report.problems
    summary = RunSummary()
    for message in messages:
        summary.add(message)
    assert summary.readings_stored["env"] == 1  # the same good reading three times
    assert summary.duplicates["env"] == 1
    # NaN text, the bad array element, the foreign topic.
    assert summary.quarantine_rows == 3


def test_a_recorded_fleet_run_replays_to_the_same_expectations(tmp_path: Path) -> None:
    plan = FaultPlan.parse("offline=6,outage=6,malformed=0.05,out_of_range=0.05,duplicate=0.05")
    messages = simulate(fleet(3), hours=4, plan=plan)
    recorded = tmp_path / "run.jsonl"
    generated = RunSummary()
    with recorded.open("wb") as out:
        for message in messages:
            generated.add(message)
            line = record_line(message)
            if line is not None:
                out.write(line)
    assert any(Fault.MALFORMED in m.faults for m in messages)
    replayed = RunSummary()
    for message in jsonl_messages(
        recorded, ReplayReport(), END + timedelta(minutes=1), DecodeLimits()
    ):
        replayed.add(message)
    # A replay cannot fire last-wills: everything else is predicted identically.
    tables = generated.expected_tables()
    tables["status_events"] -= generated.last_wills
    assert replayed.expected_tables() == tables
    assert replayed.quarantine_times_seen == generated.quarantine_times_seen
