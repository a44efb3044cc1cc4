"""Sending what the generator produced, the way poles do: MQTT v5, QoS 1.

Each pole holds a session of its own that carries its last-will and its
retained status, so an "offline" fault really makes the broker publish the
will, exactly as when a pole loses power. Where the readings go depends on
the identities at hand:

- with per-pole identities (commissioning files, as a broker with the
  shipped roles requires), each pole connects as itself and sends its
  readings over its own session, so the broker checks every message against
  that pole's rights, exactly as for a real pole;
- without them, readings travel over one shared connection with the
  endpoint's identity, which must be allowed to publish for every pole (a
  test harness or an open development broker).

Either way one window bounds the unacknowledged messages (MQTT allows at
most 65,535 per connection; the broker may announce less as its Receive
Maximum, and then that is the limit), and every session is driven from one
thread that waits on all their sockets at once: a fleet of thousands needs
no thread per pole. The broker's verdict on each message is kept: a refused
reading fails the run, a refused impostor message is the expected outcome.

"Accepted" is not "stored": MQTT counts PUBACK 0x10 ("no matching
subscribers") as a success, but the broker has discarded the message. It
happens whenever no ingest worker is subscribed, e.g. after a broker restart
(Mosquitto restores the ingest sessions, not their shared subscriptions,
until each worker re-subscribes). The pole contract (README: Delivery
guarantees) treats 0x10 as "not stored": the reading stays in the pole's
store-and-forward buffer (here: its window slot) and is resent with a
doubling backoff, a bounded number of times (`ResendPolicy`, from the
simulator settings), since a broker may answer 0x10 to everything
(Mosquitto 2.0.19, upstream #3128) and an unbounded resend would loop
forever. What is still unanswered after the last attempt is counted as
undelivered in the summary, never as delivered.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from brokerauth import client as mqtt_setup
from brokerauth.commissioning import PoleIdentity
from config.endpoints import MqttEndpoint
from models.topics import Family, PoleTopic
from simulators.generator import Action, Outgoing, last_will_payload
from simulators.summary import Counted, RunSummary

log = logging.getLogger(__name__)

MQTT_MAX_IN_FLIGHT = 65535
# paho's answers to a QoS 1 publish that it keeps and sends (again) once
# connected: sent, not connected, or the connection broke while writing it.
QUEUED = (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_CONN_LOST)
DEFAULT_WINDOW = 1000
# MQTT v5 DISCONNECT reason 0x04: the broker publishes the will, as if the
# connection had been lost, but without waiting for the keep-alive to expire.
DISCONNECT_WITH_WILL = 4
CONNECT_TIMEOUT_S = 10.0
KEEPALIVE_S = 60
# PUBACK reason 0x10: accepted by the broker and delivered to nobody (discarded).
NO_MATCHING_SUBSCRIBERS = 0x10


class PublishError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Pacing:
    """Maps simulated time onto wall time: `speed` simulated seconds per second."""

    sim_start: datetime
    wall_start: float
    speed: float

    def wall_time_for(self, at: datetime) -> float:
        return self.wall_start + (at - self.sim_start).total_seconds() / self.speed


@dataclass(frozen=True, slots=True)
class ResendPolicy:
    """How a pole resends a reading the broker took but delivered to nobody
    (PUBACK 0x10): `attempts` sends in all, waiting `first_backoff_s`,
    doubling up to `max_backoff_s`, between them. `attempts=1` never resends
    (the reading is undelivered at the first 0x10)."""

    attempts: int = 10
    first_backoff_s: float = 0.5
    max_backoff_s: float = 15.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("resend attempts must be >= 1 and backoffs >= 0")

    def backoff_s(self, sent: int) -> float:
        """The wait before send number `sent + 1`."""
        return min(self.first_backoff_s * 2.0 ** min(sent - 1, 60), self.max_backoff_s)

    def budget_s(self) -> float:
        """The longest a reading is resent for before it counts as undelivered."""
        return sum(self.backoff_s(n) for n in range(1, self.attempts))


@dataclass(slots=True)
class _InFlight:
    """A reading (or impostor attempt) the broker has not given its verdict on."""

    outgoing: Outgoing
    counted: Counted
    sender: str | None  # pole id of its own session; None: the shared connection
    sends: int = 0


class Progress:
    """One line on stderr, redrawn in place on a terminal; elsewhere (CI,
    logs) a plain line every `quiet_every_s` seconds."""

    def __init__(self, stream: TextIO | None = None, quiet_every_s: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.every_s = 0.25 if self.interactive else quiet_every_s
        self.started = time.monotonic()
        self._last_draw = self.started
        self.enabled = True

    def update(self, sent: int, in_flight: int, at: datetime | None, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last_draw < self.every_s):
            return
        self._last_draw = now
        rate = sent / max(now - self.started, 1e-6)
        when = at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"
        line = f"sim {when} | sent {sent} | {rate:,.0f} msg/s | in flight {in_flight}"
        if self.interactive:
            self.stream.write(f"\r{line}\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def _new_client(endpoint: MqttEndpoint, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    mqtt_setup.configure(client, endpoint)
    return client


class _Window:
    """Counts unacknowledged publishes; blocks the sender at the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.peak = 0  # the most ever unacknowledged at once
        self.acked = 0
        self._changed = threading.Condition()

    def acquire(self) -> None:
        with self._changed:
            while self.in_flight >= self.limit:
                self._changed.wait(1.0)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def release(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self.acked += 1
            self._changed.notify_all()

    def drained(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self.in_flight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 1.0))
            return True


class _PoleSession:
    """A pole's own session: its last-will, its retained status and, with a
    pole identity, its readings."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        will_topic: str,
        will: bytes,
        *,
        on_ack: Callable[[int, ReasonCode], None] | None = None,
        on_receive_maximum: Callable[[int], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.client = _new_client(endpoint, client_id)
        self.client.will_set(will_topic, will, qos=1, retain=True)
        # The publisher's window is the flow control (see FleetPublisher).
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(0)
        self.connected = threading.Event()
        self.refused: str | None = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.on_ack = on_ack
        self.on_receive_maximum = on_receive_maximum
        # Message ids of readings in the window the broker has not answered yet.
        self.windowed: set[int] = set()
        self.lock = threading.Lock()
        self.active = False

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Properties | None) -> None:  # fmt: skip
        if reason.is_failure:
            self.refused = str(reason)
            return
        self.refused = None
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties else None
        if receive_maximum and self.on_receive_maximum is not None:
            self.on_receive_maximum(receive_maximum)
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Properties | None) -> None:  # fmt: skip
        self.connected.clear()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Properties | None) -> None:  # fmt: skip
        if mid in self.windowed:
            self.windowed.discard(mid)
            if self.on_ack is not None:
                self.on_ack(mid, reason)

    def connect(self, first: bool) -> None:
        with self.lock:
            self.refused = None
            if first:
                self.client.connect(self.endpoint.host, self.endpoint.port, keepalive=KEEPALIVE_S)
            else:
                self.client.reconnect()
            self.active = True
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not self.connected.is_set():
            if self.refused is not None:
                with self.lock:
                    self.active = False
                    self.client.disconnect()
                raise PublishError(
                    f"the broker refused the session {self.client_id!r} "
                    f"(as {self.endpoint.username!r}): {self.refused}"
                )
            if time.monotonic() > deadline:
                raise PublishError(f"broker did not accept the session {self.client_id!r}")
            self.pump(0.01)

    def publish_windowed(self, topic: str, payload: bytes, retain: bool) -> tuple[int, int]:
        """A reading (or an impostor attempt) counted in the window; returns
        paho's rc and the message id."""
        with self.lock:
            info = self.client.publish(topic, payload, qos=1, retain=retain)
            if info.rc in QUEUED:
                self.windowed.add(info.mid)
            return info.rc, info.mid

    def drop_with_will(self) -> None:
        with self.lock:
            self._flush_pending()
            will = ReasonCode(PacketTypes.DISCONNECT, identifier=DISCONNECT_WITH_WILL)
            self.client.disconnect(reasoncode=will)
            self.client.loop(0)
            self.active = False

    def close(self) -> None:
        with self.lock:
            self._flush_pending()
            if self.active:
                self.client.disconnect()
                self.client.loop(0)
                self.active = False

    def _flush_pending(self) -> None:
        """Wait for the broker's acks of what this session sent (statuses and
        readings), so vanishing or closing loses nothing the summary counts."""
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while self.windowed:
            if time.monotonic() > deadline:
                raise PublishError(f"broker did not acknowledge the messages of {self.client_id!r}")
            self._service(0.05)

    def socket(self) -> socket.socket | None:
        sock = self.client.socket()
        return sock if isinstance(sock, socket.socket) else None

    def pump(self, timeout_s: float = 0.0) -> None:
        with self.lock:
            if self.active:
                self._service(timeout_s)

    def _service(self, timeout_s: float) -> None:
        """One round of network work (caller holds the lock); after a lost
        connection, reconnect like a pole does, with the same will. Messages
        not yet acknowledged go out again on reconnecting."""
        if self.client.socket() is not None:
            self.client.loop(timeout_s)
            return
        try:
            self.client.reconnect()
        except OSError:
            log.debug("pole session %s: broker still unreachable", self.client_id)
            time.sleep(timeout_s)


class _SessionKeeper(threading.Thread):
    """Drives every pole session from one thread: waits on all their sockets
    at once and services a session as soon as the broker sent it something
    (acks), plus a sweep every half second for keep-alives and reconnects."""

    SWEEP_S = 0.5
    WAIT_S = 0.05

    def __init__(self) -> None:
        super().__init__(name="pole-sessions", daemon=True)
        self.sessions: dict[str, _PoleSession] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        watched: dict[str, socket.socket] = {}
        next_sweep = time.monotonic()
        try:
            while not self.stopping.is_set():
                sessions = list(self.sessions.items())
                current = {pid: sock for pid, s in sessions if (sock := s.socket()) is not None}
                if current != watched:
                    # Rare (connects, drops): start over rather than track closed sockets.
                    selector.close()
                    selector = selectors.DefaultSelector()
                    for pole_id, sock in list(current.items()):
                        try:
                            selector.register(sock, selectors.EVENT_READ, self.sessions[pole_id])
                        except (OSError, ValueError, KeyError):
                            # Closed meanwhile by the sending thread: the sweep reconnects it.
                            del current[pole_id]
                    watched = current
                if watched:
                    for key, _ in selector.select(self.WAIT_S):
                        key.data.pump()
                else:
                    self.stopping.wait(self.WAIT_S)
                now = time.monotonic()
                sweep = now >= next_sweep
                if sweep:
                    next_sweep = now + self.SWEEP_S
                for _, session in sessions:
                    sock = session.socket()
                    # TLS may hold decrypted bytes the socket no longer signals.
                    tls_pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
                    if sweep or tls_pending or session.client.want_write():
                        session.pump()
        finally:
            selector.close()


@dataclass(slots=True)
class PublishReport:
    sent: int
    acknowledged: int
    seconds: float


@dataclass(slots=True)
class BrokerVerdicts:
    """What the broker answered (PUBACK reason codes), counted across sessions."""

    refused: Counter[str]  # readings the broker did not take, by reason
    impostor_refused: int = 0
    impostor_accepted: int = 0
    no_subscribers: int = 0  # 0x10 answers: taken and discarded
    resends: int = 0


class FleetPublisher:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        *,
        client_id_prefix: str,
        window: int = DEFAULT_WINDOW,
        progress: Progress | None = None,
        identities: Mapping[str, PoleIdentity] | None = None,
        resend: ResendPolicy | None = None,
    ) -> None:
        """`identities`: each pole connects as itself and sends its readings
        over its own session; None: one shared connection with the
        endpoint's identity. `resend`: what to do about PUBACK 0x10."""
        if not 1 <= window <= MQTT_MAX_IN_FLIGHT:
            raise ValueError(f"window must be 1-{MQTT_MAX_IN_FLIGHT}")
        self.endpoint = endpoint
        self.client_id_prefix = client_id_prefix
        self.requested_window = window
        self.progress = progress
        self.identities = identities
        self.resend = resend or ResendPolicy()
        self.window = _Window(window)
        self.verdicts = BrokerVerdicts(Counter())
        # Guards the verdicts and the bookkeeping below. Never held while
        # calling paho: paho calls on_publish holding its own message lock.
        self._verdict_lock = threading.Condition()
        # Sent and not yet answered, by (session's pole id or None, message id).
        self._unanswered: dict[tuple[str | None, int], _InFlight] = {}
        # Answers that arrived before their send was registered (paho's
        # network thread can be faster than the thread that published).
        self._early: dict[tuple[str | None, int], ReasonCode] = {}
        # Resends due, as (due time, sequence, message).
        self._due: list[tuple[float, int, _InFlight]] = []
        self._sequence = itertools.count()
        self._given_up: list[_InFlight] = []
        self._stopping = threading.Event()
        self._resender = threading.Thread(target=self._resend_loop, name="resends", daemon=True)
        self.bulk: mqtt.Client | None = None
        if identities is None:
            self.bulk = _new_client(endpoint, f"{client_id_prefix}-readings")
            self.bulk.on_connect = self._on_bulk_connect
            self.bulk.on_publish = self._on_publish
            # Flow control is this class's window, not paho's: paho's own limit
            # rescans every outstanding message on each PUBACK (quadratic in the
            # window), so it is switched off and never needed.
            self.bulk.max_queued_messages_set(0)
            self.bulk.max_inflight_messages_set(0)
        self._bulk_ready = threading.Event()
        self._bulk_refused: str | None = None
        self.keeper = _SessionKeeper()
        self.will_payload = last_will_payload()

    def _on_bulk_connect(self, client: mqtt.Client, userdata: Any, flags: Any,
                         reason: ReasonCode, properties: Properties | None) -> None:  # fmt: skip
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            self._bulk_refused = str(reason)
            return
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties else None
        if receive_maximum:
            self._limit_window(receive_maximum)
        self._bulk_ready.set()

    def _limit_window(self, receive_maximum: int) -> None:
        if receive_maximum < self.window.limit:
            log.info("broker allows %d messages in flight; throttling to that", receive_maximum)
            self.window.limit = receive_maximum

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Properties | None) -> None:  # fmt: skip
        self._answered(None, mid, reason)

    def _answered(self, sender: str | None, mid: int, reason: ReasonCode) -> None:
        with self._verdict_lock:
            message = self._unanswered.pop((sender, mid), None)
            if message is None:
                self._early[(sender, mid)] = reason
                return
            self._verdict(message, reason)

    def _verdict(self, message: _InFlight, reason: ReasonCode) -> None:
        """The broker's answer to one send (caller holds the verdict lock)."""
        if message.outgoing.impersonates is not None:
            if reason.is_failure:
                self.verdicts.impostor_refused += 1
            else:
                self.verdicts.impostor_accepted += 1
                log.error("the broker ACCEPTED a message published as another pole")
        elif reason.value == NO_MATCHING_SUBSCRIBERS:
            # Taken and discarded: not stored. The reading keeps its window
            # slot (the pole's buffer) until it is stored or given up.
            self.verdicts.no_subscribers += 1
            if message.sends < self.resend.attempts:
                due = time.monotonic() + self.resend.backoff_s(message.sends)
                heapq.heappush(self._due, (due, next(self._sequence), message))
                self._verdict_lock.notify_all()
                return
            self._given_up.append(message)
        elif reason.is_failure:
            self.verdicts.refused[str(reason)] += 1
        self.window.release()
        self._verdict_lock.notify_all()

    def _send_tracked(self, message: _InFlight) -> None:
        """Send (or resend) a windowed message and wait for its answer."""
        outgoing = message.outgoing
        message.sends += 1
        if message.sender is None:
            assert self.bulk is not None
            info = self.bulk.publish(
                outgoing.topic, outgoing.payload, qos=1, retain=outgoing.retain
            )
            rc, mid = int(info.rc), info.mid
        else:
            session = self.keeper.sessions[message.sender]
            rc, mid = session.publish_windowed(outgoing.topic, outgoing.payload, outgoing.retain)
        if rc not in QUEUED:
            raise PublishError(f"publish failed: {mqtt.error_string(rc)}")
        key = (message.sender, mid)
        with self._verdict_lock:
            early = self._early.pop(key, None)
            if early is None:
                self._unanswered[key] = message
            else:
                self._verdict(message, early)

    def _resend_loop(self) -> None:
        while not self._stopping.is_set():
            with self._verdict_lock:
                now = time.monotonic()
                if not self._due or self._due[0][0] > now:
                    wait = self._due[0][0] - now if self._due else 0.5
                    self._verdict_lock.wait(min(wait, 0.5))
                    continue
                _, _, message = heapq.heappop(self._due)
                self.verdicts.resends += 1
            try:
                self._send_tracked(message)
            except (PublishError, KeyError) as exc:  # KeyError: its session is gone
                log.error("could not resend a reading (%s): it counts as undelivered", exc)
                with self._verdict_lock:
                    self._given_up.append(message)
                    self.window.release()

    def _settle(self, pole_id: str) -> None:
        """Wait until every reading `pole_id` sent over its own session has
        its final verdict (stored, refused or given up), before the session
        goes away and could no longer resend."""
        deadline = time.monotonic() + self.resend.budget_s() + CONNECT_TIMEOUT_S
        with self._verdict_lock:
            while any(m.sender == pole_id for m in self._unanswered.values()) or any(
                m.sender == pole_id for _, _, m in self._due
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PublishError(f"the broker did not answer the readings of {pole_id}")
                self._verdict_lock.wait(min(left, 0.5))

    def _record_given_up(self, summary: RunSummary) -> None:
        with self._verdict_lock:
            given_up, self._given_up = self._given_up, []
        for message in given_up:
            summary.add_undelivered(message.outgoing, message.counted)

    def __enter__(self) -> FleetPublisher:
        if self.bulk is not None:
            self.bulk.connect_async(self.endpoint.host, self.endpoint.port, keepalive=KEEPALIVE_S)
            self.bulk.loop_start()
            if not self._bulk_ready.wait(CONNECT_TIMEOUT_S):
                self.bulk.loop_stop()
                why = f": {self._bulk_refused}" if self._bulk_refused else ""
                raise PublishError(f"could not connect to {self.endpoint.redacted()}{why}")
        self.keeper.start()
        self._resender.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._resender.join()
        self.keeper.stopping.set()
        self.keeper.join()
        for session in self.keeper.sessions.values():
            try:
                session.close()
            except PublishError:
                log.warning("a pole session did not close cleanly")
        if self.bulk is not None:
            self.bulk.disconnect()
            self.bulk.loop_stop()

    def run(
        self,
        events: Iterable[Outgoing],
        summary: RunSummary,
        *,
        pacing: Pacing | None = None,
        echo: Callable[[Outgoing], None] | None = None,
        drain_timeout_s: float = 120.0,
    ) -> PublishReport:
        """Send every event. Readings the broker discarded are resent (see the
        module's docstring); the summary counts what was never taken as
        undelivered. `drain_timeout_s` is how long to wait at the end for the
        broker's answers, on top of the resend budget."""
        started = time.monotonic()
        sent = 0
        at: datetime | None = None
        try:
            for outgoing in events:
                at = outgoing.at
                if pacing is not None:
                    delay = pacing.wall_time_for(outgoing.at) - time.time()
                    while delay > 0:
                        if self.progress:
                            self.progress.update(sent, self.window.in_flight, at)
                        time.sleep(min(delay, 0.2))
                        delay = pacing.wall_time_for(outgoing.at) - time.time()
                counted = summary.add(outgoing)
                self._send(outgoing, counted)
                sent += 1
                self._record_given_up(summary)
                if echo is not None:
                    echo(outgoing)
                if self.progress:
                    self.progress.update(sent, self.window.in_flight, at)
            drained = self.window.drained(drain_timeout_s + self.resend.budget_s())
        finally:
            self._record_given_up(summary)
            with self._verdict_lock:
                summary.impostor_refused = self.verdicts.impostor_refused
                summary.impostor_accepted = self.verdicts.impostor_accepted
                summary.no_subscribers_answers = self.verdicts.no_subscribers
                summary.resends = self.verdicts.resends
                refused = dict(self.verdicts.refused)
        if self.progress:
            self.progress.update(sent, self.window.in_flight, at, force=True)
            self.progress.finish()
        if not drained:
            raise PublishError(f"{self.window.in_flight} messages still unacknowledged")
        if refused:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(refused.items()))
            raise PublishError(f"the broker refused readings: {reasons}")
        return PublishReport(sent, self.window.acked, time.monotonic() - started)

    def _send(self, outgoing: Outgoing, counted: Counted) -> None:
        """Readings and statuses alike go through the window: each is kept
        until the broker took it for someone (or it is given up)."""
        if outgoing.action is Action.PUBLISH:
            sender = None
            if self.bulk is None:
                if outgoing.pole_id not in self.keeper.sessions:
                    self._open_session(
                        outgoing.pole_id, str(PoleTopic(outgoing.pole_id, Family.STATUS))
                    )
                sender = outgoing.pole_id
            self._send_windowed(_InFlight(outgoing, counted, sender))
            return
        session = self.keeper.sessions.get(outgoing.pole_id)
        if outgoing.action is Action.CONNECT:
            if session is None:
                session = self._open_session(outgoing.pole_id, outgoing.topic)
            else:
                session.connect(first=False)
            # The retained status over the pole's own session.
            self._send_windowed(_InFlight(outgoing, counted, outgoing.pole_id))
        elif session is None:
            raise PublishError(f"pole {outgoing.pole_id} has no session to {outgoing.action}")
        elif outgoing.action is Action.DROP:
            self._settle(outgoing.pole_id)
            session.drop_with_will()
        else:  # DISCONNECT: a goodbye the pole says itself, then a clean close
            self._settle(outgoing.pole_id)
            self._send_windowed(_InFlight(outgoing, counted, outgoing.pole_id))
            self._settle(outgoing.pole_id)
            session.close()

    def _send_windowed(self, message: _InFlight) -> None:
        self.window.acquire()
        self._send_tracked(message)

    def _open_session(self, pole_id: str, will_topic: str) -> _PoleSession:
        endpoint, client_id = self.endpoint, f"{self.client_id_prefix}-{pole_id}"
        if self.identities is not None:
            identity = self.identities.get(pole_id)
            if identity is None:
                raise PublishError(f"no credentials for pole {pole_id} (issue them first)")
            endpoint = endpoint.with_credentials(identity.username, identity.password)
            client_id = identity.client_id
        session = _PoleSession(
            endpoint,
            client_id,
            will_topic,
            self.will_payload,
            on_ack=lambda mid, reason: self._answered(pole_id, mid, reason),
            on_receive_maximum=self._limit_window,
        )
        session.connect(first=True)
        self.keeper.sessions[pole_id] = session
        return session
