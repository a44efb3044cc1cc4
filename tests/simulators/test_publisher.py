"""The publisher against a real Mosquitto: flow control and pole sessions."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from brokerauth import commissioning
from config.endpoints import MqttEndpoint
from simulators.publisher import FleetPublisher, Pacing, Progress, ResendPolicy
from simulators.summary import RunSummary
from tests.simulators.conftest import fleet, simulate
from tests.support.proxy import cuttable_proxy
from tests.support.services import MosquittoServer, running_mosquitto, wait_until


class Recorder:
    """A subscriber with the read-only consumer role that keeps what arrives
    on the pole topics."""

    def __init__(self, broker: MosquittoServer) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="recorder",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        consumer = broker.consumer_endpoint
        self.client.username_pw_set(consumer.username, consumer.password)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe("smartpole/v1/poles/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def endpoint(broker: MosquittoServer) -> MqttEndpoint:
    """One shared connection for every pole: the test publisher's identity."""
    return broker.publisher_endpoint


def test_the_window_bounds_unacknowledged_messages_and_everything_arrives(
    mosquitto: MosquittoServer,
) -> None:
    recorder = Recorder(mosquitto)
    wait_until(recorder.client.is_connected, 10, "recorder connected")
    messages = simulate(fleet(3), hours=2)
    summary = RunSummary()
    with FleetPublisher(endpoint(mosquitto), client_id_prefix="t", window=8) as publisher:
        report = publisher.run(messages, summary)
        assert publisher.window.peak <= 8
    # Statuses (3 poles x online + offline, over their sessions) count too.
    assert report.sent == report.acknowledged
    wait_until(lambda: recorder.count() == len(messages), 30, "all messages at the subscriber")
    assert sorted((t, p) for t, p, _ in recorder.messages) == sorted(
        (m.topic, m.payload) for m in messages
    )
    recorder.close()


def test_the_brokers_receive_maximum_caps_the_window(tmp_path: Path) -> None:
    # Mosquitto announces max_inflight_messages as its Receive Maximum.
    with running_mosquitto(tmp_path / "broker", "max_inflight_messages 4\n") as broker:
        recorder = Recorder(broker)  # someone to take them (see the 0x10 tests below)
        wait_until(recorder.client.is_connected, 10, "recorder connected")
        messages = simulate(fleet(2), hours=1)
        with FleetPublisher(endpoint(broker), client_id_prefix="t", window=500) as publisher:
            publisher.run(messages, RunSummary())
            assert publisher.window.limit == 4
            assert publisher.window.peak <= 4
        recorder.close()


def test_pacing_never_sends_a_message_before_its_simulated_time(
    mosquitto: MosquittoServer,
) -> None:
    """An accelerated run as `simulate --speed` makes it: the simulated hour ends
    when the run ends, so no message may leave before the wall clock has reached
    its device time (ingest would reject it as from the future), nor before the
    pacing says."""
    speed = 1800.0  # one simulated hour in two seconds
    duration = timedelta(hours=1)
    wall_start = time.time()
    end = datetime.fromtimestamp(wall_start, UTC) + duration / speed
    pacing = Pacing(end - duration, wall_start, speed)
    messages = simulate(fleet(2), hours=1, end=end)
    sent: list[tuple[float, datetime]] = []
    recorder = Recorder(mosquitto)
    wait_until(recorder.client.is_connected, 10, "recorder connected")
    with FleetPublisher(endpoint(mosquitto), client_id_prefix="pace", window=50) as publisher:
        publisher.run(
            messages,
            RunSummary(),
            pacing=pacing,
            echo=lambda outgoing: sent.append((time.time(), outgoing.at)),
        )
    assert len(sent) == len(messages) > 100
    early = [(wall, at) for wall, at in sent if wall < at.timestamp()]
    assert early == [], f"{len(early)} messages left before their device time"
    assert all(wall >= pacing.wall_time_for(at) for wall, at in sent)
    wait_until(lambda: recorder.count() == len(messages), 30, "all messages at the subscriber")
    recorder.close()


def test_progress_prints_plain_lines_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream, quiet_every_s=0.0)
    progress.update(10, 3, datetime(2025, 6, 18, 12, tzinfo=UTC), force=True)
    progress.finish()
    line = stream.getvalue()
    assert line.endswith("\n") and "\r" not in line
    assert "sent 10" in line and "in flight 3" in line and "2025-06-18 12:00:00" in line


def test_a_network_drop_mid_run_loses_nothing(mosquitto: MosquittoServer) -> None:
    recorder = Recorder(mosquitto)
    wait_until(recorder.client.is_connected, 10, "recorder connected")
    messages = simulate(fleet(3), hours=3)
    sent = 0

    def cut_once_midway(outgoing: object) -> None:
        nonlocal sent
        sent += 1
        if sent == len(messages) // 2:
            proxy.cut()
            threading.Timer(1.5, proxy.restore).start()

    with (
        cuttable_proxy(mosquitto.port) as proxy,
        FleetPublisher(
            replace(endpoint(mosquitto), port=proxy.port), client_id_prefix="t", window=50
        ) as publisher,
    ):
        publisher.run(messages, RunSummary(), echo=cut_once_midway)
    expected = {(m.topic, m.payload) for m in messages}
    # QoS 1 is at least once: a resend after the cut may arrive twice.
    wait_until(
        lambda: {(t, p) for t, p, _ in list(recorder.messages)} >= expected,
        30,
        "every message at the subscriber after the drop",
    )
    recorder.close()


def test_with_pole_identities_each_pole_sends_over_its_own_session_and_survives_a_drop(
    mosquitto: MosquittoServer,
) -> None:
    recorder = Recorder(mosquitto)
    wait_until(recorder.client.is_connected, 10, "recorder connected")
    poles = fleet(3)
    identities = commissioning.load(mosquitto.issue_poles(p.pole_id for p in poles))
    messages = simulate(poles, hours=3)
    sent = 0

    def cut_once_midway(outgoing: object) -> None:
        nonlocal sent
        sent += 1
        if sent == len(messages) // 2:
            proxy.cut()
            threading.Timer(1.5, proxy.restore).start()

    with (
        cuttable_proxy(mosquitto.port) as proxy,
        FleetPublisher(
            MqttEndpoint("127.0.0.1", proxy.port, None, None, tls=False),
            client_id_prefix="t",
            window=50,
            identities=identities,
        ) as publisher,
    ):
        assert publisher.bulk is None  # no shared connection
        publisher.run(messages, RunSummary(), echo=cut_once_midway)
        assert set(publisher.keeper.sessions) == set(identities)
        for pole_id, session in publisher.keeper.sessions.items():  # each connected as itself
            assert session.endpoint.username == session.client_id == pole_id
        assert publisher.window.peak <= 50
    expected = {(m.topic, m.payload) for m in messages}
    wait_until(
        lambda: {(t, p) for t, p, _ in list(recorder.messages)} >= expected,
        30,
        "every message of every pole at the subscriber after the drop",
    )
    recorder.close()


FAST_RESENDS = ResendPolicy(attempts=4, first_backoff_s=0.05, max_backoff_s=0.2)


def test_readings_nobody_takes_are_resent_to_the_limit_and_reported_undelivered(
    mosquitto: MosquittoServer,
) -> None:
    """No subscriber at all: Mosquitto answers every reading with PUBACK 0x10
    ("no matching subscribers") and discards it. MQTT calls that a success;
    the pole contract does not: each reading is sent `attempts` times, then
    counted as undelivered and taken out of what the platform should hold."""
    poles = fleet(2)
    identities = commissioning.load(mosquitto.issue_poles(p.pole_id for p in poles))
    messages = simulate(poles, hours=1)
    readings = [m for m in messages if m.action != "drop"]  # statuses too
    summary = RunSummary()
    with FleetPublisher(
        endpoint(mosquitto), client_id_prefix="t", window=20, identities=identities,
        resend=FAST_RESENDS,
    ) as publisher:  # fmt: skip
        publisher.run(messages, summary)
    assert summary.no_subscribers_answers == len(readings) * FAST_RESENDS.attempts
    assert summary.resends == len(readings) * (FAST_RESENDS.attempts - 1)
    assert summary.undelivered_messages == len(readings)
    assert sum(summary.undelivered.values()) == sum(len(m.items) for m in readings)
    tables = summary.expected_tables()
    assert all(n == 0 for n in tables.values()), tables
    rendered = summary.render()
    assert "UNDELIVERED" in rendered and "no matching subscribers" in rendered
    assert summary.as_dict()["delivery"]["undelivered_messages"] == len(readings)


def test_a_reading_answered_0x10_is_stored_once_a_subscriber_is_back(
    mosquitto: MosquittoServer,
) -> None:
    """The window in which nobody is subscribed (a broker restart before
    ingest re-subscribes): what the broker discarded meanwhile is resent and
    arrives once someone subscribes; nothing counts as undelivered."""
    messages = simulate(fleet(1), hours=1)
    readings = {(m.topic, m.payload) for m in messages if m.action != "drop"}
    summary = RunSummary()
    recorder: list[Recorder] = []
    threading.Timer(0.5, lambda: recorder.append(Recorder(mosquitto))).start()
    with FleetPublisher(
        endpoint(mosquitto), client_id_prefix="t", window=1000,
        resend=ResendPolicy(attempts=20, first_backoff_s=0.1, max_backoff_s=0.5),
    ) as publisher:  # fmt: skip
        publisher.run(messages, summary)
    assert summary.no_subscribers_answers > 0 and summary.resends > 0
    assert summary.undelivered_messages == 0
    wait_until(
        lambda: {(t, p) for t, p, _ in list(recorder[0].messages)} >= readings,
        30,
        "every reading at the late subscriber",
    )
    recorder[0].close()


def test_the_resend_policy_is_bounded_and_refuses_nonsense() -> None:
    policy = ResendPolicy(attempts=10, first_backoff_s=0.5, max_backoff_s=15)
    assert [policy.backoff_s(n) for n in (1, 2, 3, 6, 9)] == [0.5, 1.0, 2.0, 15, 15]
    assert policy.budget_s() == 0.5 + 1 + 2 + 4 + 8 + 15 * 4
    assert ResendPolicy(attempts=1).budget_s() == 0  # never resends
    assert ResendPolicy(attempts=100).budget_s() < float("inf")
    for bad in ({"attempts": 0}, {"first_backoff_s": -1}, {"max_backoff_s": -1}):
        with pytest.raises(ValueError, match="resend"):
            ResendPolicy(**bad)  # type: ignore[arg-type]
