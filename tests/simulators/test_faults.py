"""Each fault scenario produces what it promises, and says so in its tags."""

from __future__ import annotations

import math
from datetime import timedelta

import orjson
import pytest

from models.readings import EvConnectorReading, LightReading, PoleStatus
from models.sun import is_daylight
from models.topics import Family
from models.wire import decode_message
from simulators.faults import DEFAULT_RATES, Fault, FaultPlan, FaultSpecError
from simulators.generator import MAX_BACKLOG_PAYLOAD_BYTES, Action, Outgoing
from simulators.summary import RunSummary
from tests.simulators.conftest import END, fleet, one_pole, simulate


def forced(*faults: Fault, hours: float = 12) -> list[Outgoing]:
    plan = FaultPlan.parse(",".join(faults), forced=True)
    return simulate(one_pole(), hours=hours, plan=plan)


def tagged(messages: list[Outgoing], fault: Fault) -> list[Outgoing]:
    return [m for m in messages if fault in m.faults]


def assert_tags_match_ingest(messages: list[Outgoing]) -> None:
    """What each message says about itself is what ingest decides.
    Received a little after it was sent, as over a real broker."""
    for message in messages:
        if message.action is Action.DROP or message.impersonates is not None:
            continue  # a will is not decoded from bytes; an impostor's never reach ingest
        decoded = decode_message(message.topic, message.payload, message.at + timedelta(seconds=2))
        expected_valid = sum(item.valid for item in message.items)
        assert len(decoded.readings) == expected_valid, (message.faults, message.payload[:200])
        assert len(decoded.rejections) == len(message.items) - expected_valid


@pytest.mark.parametrize("fault", list(Fault))
def test_every_fault_happens_when_forced_and_its_tags_match_what_ingest_decides(
    fault: Fault,
) -> None:
    messages = forced(fault)
    assert tagged(messages, fault), f"{fault} never happened"
    assert_tags_match_ingest(messages)


def test_an_impostor_publishes_as_another_pole_of_the_fleet_and_expects_nothing_stored() -> None:
    poles = fleet(3)
    plan = FaultPlan.parse("impostor=0.05")
    messages = simulate(poles, hours=2, plan=plan)
    attempts = [m for m in messages if m.impersonates is not None]
    assert attempts
    ids = {p.pole_id for p in poles}
    for message in attempts:
        assert message.impersonates in ids - {message.pole_id}
        assert message.topic.startswith(f"smartpole/v1/poles/{message.impersonates}/")
        assert message.items == () and message.faults == (Fault.IMPOSTOR,)
    # Both attacks: a forged reading, and the victim's retained status set offline.
    assert {m.family is Family.STATUS for m in attempts} == {True, False}
    forged_will = next(m for m in attempts if m.family is Family.STATUS)
    assert forged_will.retain and orjson.loads(forged_will.payload) == {"status": "offline"}
    summary = RunSummary()
    for message in messages:
        summary.add(message)
    assert summary.impostor_attempts == len(attempts)
    # Without the fault, the same seed sends the same messages as before.
    plain = simulate(poles, hours=2)
    assert [m for m in messages if m.impersonates is None] == plain


def test_offline_fires_the_last_will_and_the_pole_comes_back_online() -> None:
    messages = forced(Fault.OFFLINE)
    drop = next(m for m in messages if m.action is Action.DROP)
    assert PoleStatus.model_validate_json(drop.payload).date_observed is None
    assert orjson.loads(drop.payload) == {"status": "offline"}
    assert drop.items[0].last_will and drop.retain
    back = next(m for m in messages if m.action is Action.CONNECT and m.at > drop.at)
    assert PoleStatus.model_validate_json(back.payload).status == "online"
    silent = [m for m in messages if drop.at < m.at < back.at]
    assert silent == [], "an offline pole publishes nothing"
    assert back.at - drop.at >= timedelta(minutes=5)


def test_an_outage_holds_readings_and_sends_them_later_as_arrays_with_original_times() -> None:
    messages = forced(Fault.OUTAGE)
    backlog = tagged(messages, Fault.OUTAGE)
    assert {m.family for m in backlog} == {Family.ENV, Family.LIGHT, Family.WIFI, Family.EV}
    sent_at = backlog[0].at
    for message in backlog:
        elements = orjson.loads(message.payload)
        assert isinstance(elements, list) and len(elements) == len(message.items)
        assert len(message.payload) <= MAX_BACKLOG_PAYLOAD_BYTES
        times = [e["dateObserved"] for e in elements]
        assert times == sorted(times) and all(t < sent_at.isoformat() for t in times)
    first_held = min(item.stored_key[3] for m in backlog for item in m.items if item.stored_key)
    live_during = [
        m for m in messages
        if m.action is Action.PUBLISH and first_held <= m.at < sent_at and m not in backlog
    ]  # fmt: skip
    assert live_during == [], "nothing goes out live during the outage"
    held = sum(len(m.items) for m in backlog)
    assert held >= len(backlog) * 10 // 2  # ten minutes or more of readings per family


def test_a_long_outage_is_split_into_payloads_ingest_accepts() -> None:
    plan = FaultPlan({Fault.OUTAGE: 1000.0})  # an outage starts at once and lasts hours
    messages = simulate(one_pole(), hours=6, plan=plan, interval_s=5)
    biggest = max(len(m.payload) for m in tagged(messages, Fault.OUTAGE))
    assert MAX_BACKLOG_PAYLOAD_BYTES / 2 < biggest <= MAX_BACKLOG_PAYLOAD_BYTES
    assert_tags_match_ingest(messages)


def test_a_stuck_sensor_repeats_the_same_values() -> None:
    stuck = tagged(forced(Fault.STUCK_SENSOR), Fault.STUCK_SENSOR)
    assert len(stuck) > 5 and {m.family for m in stuck} == {Family.ENV}
    values = [
        {k: v for k, v in orjson.loads(m.payload).items() if k != "dateObserved"} for m in stuck
    ]
    assert all(v == values[0] for v in values)
    assert len({orjson.loads(m.payload)["dateObserved"] for m in stuck}) == len(stuck)


def test_clock_skew_outcomes_are_predictable() -> None:
    seen_accepted = seen_rejected = False
    for seed in range(8):
        plan = FaultPlan.parse("clock_skew", forced=True)
        messages = simulate(one_pole(), hours=6, plan=plan, seed=seed)
        for message in tagged(messages, Fault.CLOCK_SKEW):
            (item,) = message.items
            stamp = orjson.loads(message.payload)["dateObserved"]
            # However late it arrives (here: an hour after the run), the verdict holds.
            late = decode_message(message.topic, message.payload, END + timedelta(hours=1))
            assert bool(late.readings) == item.valid, stamp
            seen_accepted |= item.valid
            seen_rejected |= not item.valid
    assert seen_accepted and seen_rejected


def test_a_faulted_charger_reports_an_ocpp_error_code_then_recovers() -> None:
    messages = forced(Fault.CHARGER_FAULTED)
    faulted = tagged(messages, Fault.CHARGER_FAULTED)
    readings = [EvConnectorReading.model_validate_json(m.payload) for m in faulted]
    assert all(r.status == "Faulted" and r.error_code != "NoError" for r in readings)
    assert all(r.charging_power == 0 and r.transaction_id is None for r in readings)
    after = [
        EvConnectorReading.model_validate_json(m.payload)
        for m in messages
        if m.family is Family.EV and m.at > faulted[-1].at
    ]
    assert after and after[0].status == "Available"


def test_a_day_burner_is_on_in_daylight_and_a_defective_lamp_draws_nothing() -> None:
    pole = one_pole()[0]
    burning = tagged(forced(Fault.DAY_BURNER, hours=24), Fault.DAY_BURNER)
    daylight = [m for m in burning if is_daylight(m.at, pole.latitude, pole.longitude)]
    assert daylight
    assert all(LightReading.model_validate_json(m.payload).power_state != "off" for m in daylight)
    broken = tagged(forced(Fault.DEFECTIVE_LAMP, hours=24), Fault.DEFECTIVE_LAMP)
    lamps = [LightReading.model_validate_json(m.payload) for m in broken]
    assert lamps and all(r.lamp_status == "defectiveLamp" for r in lamps)
    assert all((r.active_power or 0) < 2 for r in lamps)


def test_out_of_range_malformed_and_duplicates() -> None:
    messages = forced(Fault.OUT_OF_RANGE, Fault.MALFORMED, Fault.DUPLICATE)
    for message in tagged(messages, Fault.OUT_OF_RANGE):
        assert message.deliberately_invalid
        decoded = decode_message(message.topic, message.payload, message.at)
        assert "than" in decoded.rejections[0].reason  # "less/greater than ..."
    for message in tagged(messages, Fault.MALFORMED):
        assert message.deliberately_invalid
        reason = decode_message(message.topic, message.payload, message.at).rejections[0].reason
        assert "malformed JSON" in reason or "Input should be a valid" in reason
    for copy in tagged(messages, Fault.DUPLICATE):
        original = messages[messages.index(copy) - 1]
        assert (original.topic, original.payload) == (copy.topic, copy.payload)


def test_faults_combine() -> None:
    messages = forced(*Fault, hours=24)
    for fault in Fault:
        assert tagged(messages, fault), fault
    assert_tags_match_ingest(messages)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("earthquake", "unknown fault"),
        ("offline=abc", "must be a number"),
        ("offline=-1", "must be 0-"),
        ("malformed=0.9", "must be 0-0.5"),
        ("duplicate=nan", "must be 0-"),
        ("outage=inf", "must be 0-"),
        ("offline=" + "9" * 400, "must be 0-"),
    ],
)
def test_a_bad_fault_spec_is_refused_with_the_reason(spec: str, problem: str) -> None:
    with pytest.raises(FaultSpecError, match=problem):
        FaultPlan.parse(spec)


def test_a_fault_without_a_rate_gets_the_default() -> None:
    plan = FaultPlan.parse(" offline , malformed=0.1,, none")
    assert plan.rates == {Fault.OFFLINE: DEFAULT_RATES[Fault.OFFLINE], Fault.MALFORMED: 0.1}
    assert plan.forced == frozenset()
    assert not math.isnan(plan.rate(Fault.OUTAGE))
