"""The quarantine you can repair from: replay with today's rules (exactly once,
read models updated, twice changes nothing, dry run writes nothing), list,
show, purge, retention, and the command line's hostile input."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from models.topics import Family, PoleTopic
from models.wire import DecodeLimits, Rejection, RejectionKind, decode_message
from smartpole.cli import main
from storage import quarantine
from storage.quarantine import QuarantineFilter
from storage.writer import ReadingWriter, ReceivedReading, ReceivedRejection

NOW = datetime.now(UTC).replace(microsecond=0)
# The "old rule": no clock skew tolerated at all. Today's: the default 300 s.
OLD_RULES = DecodeLimits(max_future_skew=timedelta(0))
TODAY = DecodeLimits()
TOPIC = "smartpole/v1/poles/{}/env"


def ingest(conn: psycopg.Connection[Any], topic: str, payload: bytes, limits: DecodeLimits) -> None:
    """What ingest does with one message: decode it, hand both halves to the writer."""
    decoded = decode_message(topic, payload, NOW, limits)
    readings = [ReceivedReading(decoded.topic, r, NOW) for r in decoded.readings]  # type: ignore[arg-type]
    rejections = [ReceivedRejection(topic, decoded.topic, j, NOW) for j in decoded.rejections]
    ReadingWriter(conn).write_batch(readings, rejections)


def env(at: datetime, pm10: float) -> dict[str, Any]:
    return {"dateObserved": at.isoformat(), "pm10": pm10}


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    tables = ("quarantine", "env_readings", "env_hourly", "env_latest", "env_daily", "change_feed")
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
        for table in tables
    }


@pytest.fixture
def conn(database_url: str) -> Any:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def test_a_message_quarantined_under_an_old_rule_is_stored_once_after_the_rule_changes(
    conn: psycopg.Connection[Any],
) -> None:
    ahead = NOW + timedelta(seconds=60)  # refused with no skew allowed, fine with 300 s
    ingest(conn, TOPIC.format("A"), orjson.dumps(env(NOW - timedelta(minutes=5), 10)), OLD_RULES)
    ingest(conn, TOPIC.format("A"), orjson.dumps(env(ahead, 30)), OLD_RULES)
    # an array: item 1 is quarantined on its own, item 0 stored at once
    batch = [env(NOW - timedelta(minutes=1), 20), env(ahead + timedelta(seconds=1), 40)]
    ingest(conn, TOPIC.format("A"), orjson.dumps(batch), OLD_RULES)
    # still invalid today, with a reason worded by an older decoder
    still_bad = orjson.dumps(env(NOW, -5))
    ReadingWriter(conn).write_batch(
        [],
        [ReceivedRejection(TOPIC.format("A"), PoleTopic("A", Family.ENV),
                           Rejection("pm10: old wording", still_bad), NOW)],
    )  # fmt: skip
    assert conn.execute("SELECT count(*) FROM env_readings").fetchone() == (2,)
    kinds = conn.execute("SELECT reason_kind, item_index FROM quarantine ORDER BY id").fetchall()
    assert kinds == [("invalid_reading", None), ("invalid_reading", 1), ("invalid_reading", None)]
    hour = conn.execute("SELECT readings, pm10_sum FROM env_hourly WHERE pole_id = 'A'").fetchall()

    before = snapshot(conn)
    dry = quarantine.replay(conn, QuarantineFilter(), TODAY, dry_run=True)
    assert snapshot(conn) == before  # a dry run writes nothing
    assert (dry.examined, dry.resolved, dry.stored, dry.still_quarantined) == (3, 2, 2, 1)

    invalid = QuarantineFilter(kinds=(RejectionKind.INVALID_READING,))
    report = quarantine.replay(conn, invalid, TODAY)
    assert report.as_dict() == {**dry.as_dict(), "dry_run": False}
    assert report.reason_changed == 1 and report.duplicates == 0
    stored = conn.execute(
        "SELECT observed_at, pm10 FROM env_readings WHERE pole_id = 'A' ORDER BY observed_at"
    ).fetchall()
    assert [pm10 for _, pm10 in stored] == [10, 20, 30, 40]
    kept = conn.execute("SELECT reason_kind, reason, payload FROM quarantine").fetchall()
    assert len(kept) == 1 and bytes(kept[0][2]) == still_bad
    assert kept[0][1].startswith("pm10: ") and kept[0][1] != "pm10: old wording"
    # read models: the rollup holds all four, the latest reading is the newest by device time
    readings, pm10_sum = conn.execute(
        "SELECT sum(readings), sum(pm10_sum) FROM env_hourly WHERE pole_id = 'A'"
    ).fetchone()  # type: ignore[misc]
    assert (readings, pm10_sum) == (4, 100) and sum(r for r, _ in hour) == 2
    latest = conn.execute("SELECT observed_at, pm10 FROM env_latest WHERE pole_id = 'A'").fetchone()
    assert latest == (ahead + timedelta(seconds=1), 40)
    feed = conn.execute("SELECT count(*) FROM change_feed WHERE kind = 'env'").fetchone()
    assert feed is not None and feed[0] >= 3  # the replay's batch was announced

    after = snapshot(conn)
    again = quarantine.replay(conn, QuarantineFilter(), TODAY)
    assert snapshot(conn) == after  # replaying twice changes nothing
    assert (again.examined, again.resolved, again.stored, again.reason_changed) == (1, 0, 0, 0)


def test_a_replayed_reading_already_stored_counts_as_a_duplicate(
    conn: psycopg.Connection[Any],
) -> None:
    payload = orjson.dumps(env(NOW, 12))
    ReadingWriter(conn).write_batch(
        [],
        [ReceivedRejection(TOPIC.format("B"), PoleTopic("B", Family.ENV),
                           Rejection("storage refused: a constraint", payload, None,
                                     RejectionKind.STORAGE_REFUSED), NOW)],
    )  # fmt: skip
    ingest(conn, TOPIC.format("B"), payload, TODAY)  # the pole resent it, and it was stored
    refused = QuarantineFilter(kinds=(RejectionKind.STORAGE_REFUSED,))
    report = quarantine.replay(conn, refused, TODAY)
    assert (report.resolved, report.stored, report.duplicates) == (1, 0, 1)
    assert conn.execute("SELECT count(*) FROM env_readings").fetchone() == (1,)
    assert conn.execute("SELECT sum(readings) FROM env_hourly").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


def test_oversized_payloads_are_never_replayed_and_the_listing_says_so(
    conn: psycopg.Connection[Any], database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    huge = orjson.dumps([env(NOW - timedelta(seconds=i), 1) for i in range(8000)])
    ingest(conn, TOPIC.format("C"), huge, DecodeLimits(max_payload_bytes=2048))
    row = conn.execute(
        "SELECT reason_kind, payload_truncated, octet_length(payload) FROM quarantine"
    ).fetchone()
    assert row == ("too_large", True, 4096)
    # even with a limit that would take the whole payload, it is not there to take
    report = quarantine.replay(conn, QuarantineFilter(), DecodeLimits(max_payload_bytes=1 << 30))
    assert (report.examined, report.not_replayable, report.stored) == (0, 1, 0)
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)

    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
    assert main(["quarantine", "list"]) == 0
    out = capsys.readouterr().out
    assert "too_large" in out and "not replayable" in out
    assert main(["quarantine", "list", "--json"]) == 0
    listed = orjson.loads(capsys.readouterr().out.splitlines()[0])
    assert listed["replayable"] is False and listed["payload_bytes"] == 4096
    assert main(["quarantine", "show", str(listed["id"])]) == 0
    assert "not replayable" in capsys.readouterr().out


def test_a_retired_poles_readings_stay_quarantined_in_place(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "INSERT INTO poles (pole_id, decommissioned_at) VALUES ('D', %s)",
        (NOW - timedelta(days=1),),
    )
    ingest(conn, TOPIC.format("D"), orjson.dumps(env(NOW, 5)), TODAY)
    before = conn.execute("SELECT id, reason_kind, times_seen FROM quarantine").fetchall()
    assert [kind for _, kind, _ in before] == ["decommissioned"]
    report = quarantine.replay(conn, QuarantineFilter(), TODAY)
    assert (report.examined, report.still_quarantined, report.stored) == (1, 1, 0)
    assert conn.execute("SELECT id, reason_kind, times_seen FROM quarantine").fetchall() == before


def test_filters_list_show_and_purge(
    conn: psycopg.Connection[Any], database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    ingest(conn, TOPIC.format("E"), b"{not json", TODAY)
    ingest(conn, "smartpole/v1/poles/E/nonsense", b"{}", TODAY)
    ingest(conn, TOPIC.format("F"), b"\x1b]0;owned\x07" + b'{"pm10": 1}', TODAY)
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
    summary = {k.reason_kind: k.rows for k in quarantine.summarise(conn, QuarantineFilter())}
    assert summary == {"malformed_json": 2, "topic": 1}
    only_e = quarantine.list_entries(conn, QuarantineFilter(pole_id="E"))
    assert {e.reason_kind for e in only_e} == {"malformed_json"}
    assert quarantine.list_entries(conn, QuarantineFilter(since=NOW + timedelta(hours=1))) == []
    first, second = (e.id for e in quarantine.list_entries(conn, QuarantineFilter(), limit=2))
    page = quarantine.list_entries(conn, QuarantineFilter(), after_id=first)
    assert page[0].id == second

    # terminal escapes in a payload are shown escaped, never sent to the terminal
    hostile = quarantine.list_entries(conn, QuarantineFilter(pole_id="F"))[0]
    assert main(["quarantine", "show", str(hostile.id)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\\x1b]0;owned" in out

    assert main(["quarantine", "purge", "--reason", "topic", "--dry-run"]) == 0
    assert "1 quarantined messages would be deleted" in capsys.readouterr().out
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (3,)
    assert main(["quarantine", "purge"]) == 2  # no filter, no --all
    assert main(["quarantine", "purge", "--reason", "topic"]) == 0
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (2,)
    assert main(["quarantine", "replay", "--since", "24h", "--dry-run"]) == 0
    assert '"examined":2' in capsys.readouterr().out
    assert main(["quarantine", "purge", "--all"]) == 0
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


@pytest.mark.parametrize(
    "argv",
    [
        ["quarantine", "replay", "--since", "yesterday"],
        ["quarantine", "replay", "--since", "2026-13-01"],
        ["quarantine", "replay", "--since", "999999d"],
        ["quarantine", "replay", "--since", "0001-01-01T00:00Z"],
        ["quarantine", "replay", "--until", ""],
        ["quarantine", "replay", "--reason", "pm10: unknown field"],
        ["quarantine", "list", "--reason", "TOO_LARGE"],
        ["quarantine", "replay", "--id", "99999999999999999999999"],
        ["quarantine", "replay", "--id", "-1"],
        ["quarantine", "replay", "--id", "١٢"],  # Arabic-Indic digits: isdigit() says yes
        ["quarantine", "show", "9223372036854775808"],
        ["quarantine", "show", "0"],
        ["quarantine", "list", "--pole", "A\x1b[2J"],
        ["quarantine", "list", "--limit", "100001"],
        ["quarantine", "list", "--after-id", "1e9"],
    ],
)
def test_hostile_command_lines_are_refused_before_the_database(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_largest_id_is_simply_not_found(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMARTPOLE_DATABASE_URL", database_url)
    assert main(["quarantine", "show", str(2**63 - 1)]) == 1
    assert "no quarantined message" in capsys.readouterr().err
    assert main(["quarantine", "replay", "--id", str(2**63 - 1)]) == 0


def test_retention_by_age_and_by_count(conn: psycopg.Connection[Any]) -> None:
    for n in range(5):
        ingest(conn, TOPIC.format("G"), b"bad %d" % n, TODAY)
    conn.execute(
        "UPDATE quarantine SET received_at = now() - interval '40 days'"
        " WHERE id = (SELECT min(id) FROM quarantine)"
    )
    assert quarantine.prune(conn, timedelta(days=30), None) == 1
    assert quarantine.prune(conn, None, 3) == 1
    left = conn.execute("SELECT payload FROM quarantine ORDER BY id").fetchall()
    assert [bytes(p) for (p,) in left] == [b"bad 2", b"bad 3", b"bad 4"]
    assert quarantine.prune(conn, timedelta(days=30), 3) == 0


def test_two_replays_at_once_store_each_reading_once(
    conn: psycopg.Connection[Any], database_url: str
) -> None:
    ahead = NOW + timedelta(seconds=60)
    for n in range(40):
        payload = orjson.dumps(env(ahead + timedelta(seconds=n), n))
        ingest(conn, TOPIC.format("H"), payload, OLD_RULES)
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (40,)
    reports: list[quarantine.ReplayReport] = []

    def replay_once() -> None:
        with psycopg.connect(database_url) as own:
            reports.append(quarantine.replay(own, QuarantineFilter(), TODAY, chunk_rows=3))

    threads = [threading.Thread(target=replay_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(reports) == 2
    assert sum(r.resolved for r in reports) == 40  # every row handed to the writer once
    assert sum(r.stored for r in reports) == 40 and sum(r.duplicates for r in reports) == 0
    assert conn.execute("SELECT sum(readings) FROM env_hourly").fetchone() == (40,)
    assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
