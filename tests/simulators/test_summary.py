"""The summary counts in the platform's units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from models.topics import Family
from simulators.faults import Fault, FaultPlan
from simulators.generator import Action, ExpectedItem, Outgoing, quarantine_key
from simulators.summary import RunSummary
from tests.simulators.conftest import fleet, simulate

AT = datetime(2025, 6, 18, 10, tzinfo=UTC)
TOPIC = "smartpole/v1/poles/P-1/env"


def env_message(minutes: list[int], faults: tuple[Fault, ...] = ()) -> Outgoing:
    items = tuple(
        ExpectedItem(Family.ENV, True, ("P-1", Family.ENV, None, AT + timedelta(minutes=m)))
        for m in minutes
    )
    return Outgoing(AT, "P-1", Action.PUBLISH, TOPIC, b"[]", False, Family.ENV, faults, items)


def invalid_message(payload: bytes, index: int | None = None) -> Outgoing:
    item = ExpectedItem(Family.ENV, False, quarantine_key=quarantine_key(TOPIC, payload, index))
    faults = (Fault.MALFORMED,)
    return Outgoing(AT, "P-1", Action.PUBLISH, TOPIC, payload, False, Family.ENV, faults, (item,))


def test_an_array_counts_its_readings_and_a_resend_is_one_stored_reading() -> None:
    summary = RunSummary()
    summary.add(env_message([0, 1, 2, 3, 4]))
    summary.add(env_message([4], (Fault.DUPLICATE,)))
    assert summary.readings_sent["env"] == 6
    assert summary.readings_stored["env"] == 5
    assert summary.duplicates["env"] == 1
    assert summary.expected_tables()["env_readings"] == 5
    assert summary.by_fault["duplicate"]["messages"] == 1


def test_identical_rejects_are_one_quarantine_row_seen_twice() -> None:
    summary = RunSummary()
    summary.add(invalid_message(b"{broken"))
    summary.add(invalid_message(b"{broken"))
    summary.add(invalid_message(b"{broken", index=0))  # same bytes, another position
    assert summary.quarantine_rows == 2
    assert summary.quarantine_times_seen == 3
    assert summary.messages_invalid == 3
    assert summary.expected_tables()["quarantine"] == 2


def test_every_last_will_is_a_status_event_of_its_own() -> None:
    summary = RunSummary()
    will = ExpectedItem(Family.STATUS, True, last_will=True, faults=(Fault.OFFLINE,))
    topic = "smartpole/v1/poles/P-1/status"
    drop = Outgoing(AT, "P-1", Action.DROP, topic, b"{}", True, Family.STATUS, (), (will,))
    summary.add(drop)
    summary.add(drop)
    assert summary.last_wills == 2
    assert summary.expected_tables()["status_events"] == 2


def test_the_summary_of_a_faulty_run_adds_up_and_renders() -> None:
    plan = FaultPlan.parse("offline=6,outage=6,malformed=0.05,duplicate=0.05,out_of_range=0.05")
    summary = RunSummary()
    for message in simulate(fleet(4), hours=6, plan=plan):
        summary.add(message)
    data = summary.as_dict()
    readings = data["readings"]
    for family in readings.values():
        assert family["sent_valid"] == family["stored"] + family["duplicates"]
    assert data["quarantine"]["times_seen"] == sum(
        f["deliberately_invalid"] for f in readings.values()
    )
    assert (
        data["messages"]["sent"]
        == data["messages"]["valid"] + data["messages"]["deliberately_invalid"]
    )
    text = summary.render()
    assert "expect in the platform: env_readings=" in text and "malformed" in text
    assert orjson.loads(orjson.dumps(data)) == data
