"""The generator in normal operation: valid, realistic, reproducible."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import orjson

from models.readings import EvConnectorReading, LightReading, PoleStatus
from models.sun import is_daylight
from models.topics import Family, PoleTopic
from models.wire import decode_message
from simulators.city import City
from simulators.generator import Action, Outgoing
from tests.simulators.conftest import BERLIN, CITY, END, fleet, one_pole, simulate


def readings_of(messages: list[Outgoing], family: Family) -> list[tuple[Outgoing, dict[str, Any]]]:
    return [
        (m, orjson.loads(m.payload))
        for m in messages
        if m.family is family and m.action is Action.PUBLISH
    ]


def test_every_message_of_normal_operation_validates_against_the_shared_models() -> None:
    messages = simulate(fleet(8), hours=16)
    assert len(messages) > 8 * 16 * 60
    for message in messages:
        assert message.faults == ()
        assert message.action is not Action.DROP
        # Ingest can receive it no earlier than the simulated moment it was sent.
        decoded = decode_message(message.topic, message.payload, received_at=message.at)
        assert decoded.rejections == [], (message.topic, message.payload)
        assert len(decoded.readings) == len(message.items) == 1
        item = message.items[0]
        assert item.valid and item.stored_key is not None
        assert decoded.topic is not None
        reading = decoded.readings[0]
        assert item.stored_key == (
            decoded.topic.pole_id, decoded.topic.family, decoded.topic.connector_id,
            reading.date_observed,
        )  # fmt: skip


def test_a_seeded_run_is_reproducible_and_another_seed_is_not_the_same() -> None:
    def fingerprint(seed: int) -> list[tuple[object, ...]]:
        plan_messages = simulate(fleet(5, seed=seed), hours=3, seed=seed)
        return [(m.at, m.action, m.topic, m.payload, m.retain) for m in plan_messages]

    assert fingerprint(42) == fingerprint(42)
    assert fingerprint(42) != fingerprint(43)


def test_each_pole_publishes_its_installed_capabilities_and_status() -> None:
    poles = fleet(20)
    messages = simulate(poles, hours=1)
    published: dict[str, set[Family]] = defaultdict(set)
    for message in messages:
        published[message.pole_id].add(PoleTopic.parse(message.topic).family)
    for pole in poles:
        assert published[pole.pole_id] == {*pole.families, Family.STATUS}
    # Not every pole has everything.
    assert any(not p.ev_connectors for p in poles) and any(p.ev_connectors for p in poles)
    assert any(not p.has_wifi for p in poles) and any(p.has_wifi for p in poles)
    districts = {p.district for p in poles}
    assert len(districts) > 10 and "Habinghorst" in districts


def test_status_is_retained_online_at_start_and_offline_at_the_end() -> None:
    messages = simulate(one_pole(), hours=1)
    status = [m for m in messages if m.family is Family.STATUS]
    assert [m.action for m in status] == [Action.CONNECT, Action.DISCONNECT]
    assert all(m.retain for m in status)
    first, last = (PoleStatus.model_validate_json(m.payload) for m in status)
    assert (first.status, last.status) == ("online", "offline")
    assert first.firmware_version and first.date_observed == END - timedelta(hours=1)
    assert last.date_observed == END


def test_no_timestamp_passes_the_end_of_the_window() -> None:
    messages = simulate(fleet(6), hours=12)
    for message in messages:
        assert message.at <= END
        for item in message.items:
            assert item.stored_key is not None and item.stored_key[3] <= END


def test_lamps_switch_at_sunset_and_sunrise_dim_at_night_and_meter_their_power() -> None:
    pole = one_pole()[0]
    light = readings_of(simulate([pole], hours=48), Family.LIGHT)
    previous_meter: float | None = None
    previous_power = 0.0
    for message, payload in light:
        reading = LightReading.model_validate(payload)
        at = message.at
        local_hour = at.astimezone(BERLIN).hour
        if is_daylight(at, pole.latitude, pole.longitude):
            assert reading.power_state == "off" and reading.active_power == 0
        elif local_hour >= 23 or local_hour < 5:
            assert reading.power_state == "low" and reading.illuminance_level == 0.5
            assert reading.active_power is not None
            assert abs(reading.active_power - pole.lamp_watts / 2) < pole.lamp_watts * 0.05
        else:
            assert reading.power_state == "on"
        meter = reading.total_active_energy_import
        assert meter is not None
        if previous_meter is not None:
            # One minute at the power just read, in kWh.
            assert meter - previous_meter >= 0
            assert abs(meter - previous_meter - (reading.active_power or 0) / 60_000) < 2e-4
        previous_meter, previous_power = meter, reading.active_power or 0.0
    assert previous_power >= 0
    states = {LightReading.model_validate(p).power_state for _, p in light}
    assert states == {"on", "off", "low"}


def test_chargers_walk_through_ocpp_statuses_and_meter_power_times_time() -> None:
    poles = [p for p in fleet(40) if p.ev_connectors][:6]
    messages = simulate(poles, hours=48)
    order = ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing"]
    by_connector: dict[str, list[EvConnectorReading]] = defaultdict(list)
    for message, payload in readings_of(messages, Family.EV):
        by_connector[message.topic].append(EvConnectorReading.model_validate(payload))
    seen_statuses: set[str] = set()
    sessions = 0
    for readings in by_connector.values():
        for before, after in itertools.pairwise(readings):
            seen_statuses.add(after.status.value)
            step_before, step_after = order.index(before.status), order.index(after.status)
            # Forward through the cycle (a short status may fall between two
            # readings), never backwards within a session.
            assert (
                step_after >= step_before
                or step_after == 0
                or (
                    step_before >= 2 and step_after <= 1  # a session ended, the next began
                )
            ), (before.status, after.status)
            delta = (after.total_active_energy_import or 0) - (
                before.total_active_energy_import or 0
            )
            assert delta >= 0
            if before.status == after.status == "Charging":
                assert before.transaction_id == after.transaction_id
                hours = (after.date_observed - before.date_observed).total_seconds() / 3600
                assert abs(delta - (after.charging_power or 0) * hours) < 1e-3
                assert (after.charging_power or 0) <= 22
            if after.status == "Available":
                assert after.transaction_id is None and after.charging_power == 0
            if before.status == "Available" and after.status != "Available":
                sessions += 1
    assert {"Available", "Preparing", "Charging", "SuspendedEV"} <= seen_statuses
    assert sessions >= 5


def _mean_at(values: list[tuple[datetime, float]], hours: set[int]) -> float:
    return statistics.mean(v for at, v in values if at.astimezone(BERLIN).hour in hours)


def test_env_and_wifi_follow_traffic_activity_and_the_daily_cycle() -> None:
    messages = simulate([p for p in fleet(12) if p.has_env][:5], hours=48)
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for message, payload in readings_of(messages, Family.ENV):
        for name in ("no2", "LAeq", "temperature", "pm10"):
            series[name].append((message.at, payload[name]))
    rush, night = {7, 8, 17}, {2, 3, 4}
    assert _mean_at(series["no2"], rush) > 1.5 * _mean_at(series["no2"], night)
    assert _mean_at(series["LAeq"], rush) > _mean_at(series["LAeq"], night) + 8
    assert _mean_at(series["temperature"], {15, 16}) > _mean_at(series["temperature"], {4, 5})
    wifi_messages = simulate([p for p in fleet(20) if p.has_wifi][:5], hours=48)
    clients = [
        (m.at, float(p["connectedClients"])) for m, p in readings_of(wifi_messages, Family.WIFI)
    ]
    assert _mean_at(clients, {12, 13, 18}) > 3 * _mean_at(clients, {2, 3, 4})


def test_weather_is_shared_by_the_city_but_each_pole_has_its_own_noise() -> None:
    poles = [p for p in fleet(10) if p.has_env][:2]
    messages = simulate(poles, hours=2)
    pressure: dict[str, list[float]] = defaultdict(list)
    for message, payload in readings_of(messages, Family.ENV):
        pressure[message.pole_id].append(payload["atmosphericPressure"])
    first, second = pressure.values()
    assert first != second
    assert max(abs(a - b) for a, b in zip(first, second, strict=False)) < 2.0


def test_a_city_elsewhere_gets_compass_districts() -> None:
    city = City.named("Bochum", 51.48, 7.22)
    assert [d.name for d in city.districts][:3] == ["Centre", "North", "North-East"]
    assert city.pole_id_prefix() == "B"
    assert CITY.pole_id_prefix() == "CR"
