"""The pure, seeded part of the simulators: what poles publish, and when.

Nothing here touches the network or the wall clock. Given the same fleet,
window, fault plan and seed it yields the same messages, byte for byte, so
tests check validity and reproducibility without a broker, and the
publisher only has to send. Valid payloads are built only through the
shared wire models (`EnvReading(...).wire()`); bytes that ingest rejects are
crafted only by fault scenarios and are tagged as deliberately invalid,
together with what the platform will make of each reading (stored under
which natural key, or quarantined under which merge key).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson

from models.catalogue.families import FAMILIES, METRIC_FAMILIES
from models.readings import MODEL_FOR_FAMILY, PoleStatus
from models.topics import Family, PoleTopic
from models.vocabulary import PoleConnection
from simulators.city import PoleSpec
from simulators.faults import EPISODE_DURATION, EPISODE_FAULTS, Fault, FaultPlan
from simulators.physics import AccessPoint, CityWeather, EnvSensor, EvConnector, Lamp

# Store-and-forward backlogs go out as arrays no larger than this, far below
# ingest's payload limit (256 KiB by default).
MAX_BACKLOG_PAYLOAD_BYTES = 64 * 1024
# Clock skew that ingest always accepts: the simulated time never runs ahead
# of the real clock, so up to this much ahead stays inside the 300 s default.
MAX_ACCEPTED_SKEW_AHEAD_S = 240
# Forced faults (one pole, one scenario) start this far into the run.
FORCED_FAULT_AT = 0.25

StoredKey = tuple[str, Family, int | None, datetime]
QuarantineKey = tuple[str, bytes, int | None]


class Action(StrEnum):
    PUBLISH = "publish"  # a reading, over the shared connection
    CONNECT = "connect"  # the pole's session connects (with its last-will), publishes status
    DROP = "drop"  # the pole vanishes: the broker publishes its last-will
    DISCONNECT = "disconnect"  # the pole says offline (retained) and disconnects cleanly


@dataclass(frozen=True, slots=True)
class ExpectedItem:
    """What the platform will make of one reading in a message."""

    family: Family
    valid: bool
    stored_key: StoredKey | None = None  # natural key of the row it becomes
    quarantine_key: QuarantineKey | None = None  # how ingest merges identical rejects
    last_will: bool = False  # a last-will: a status event timed by its arrival
    faults: tuple[Fault, ...] = ()  # the faults that shaped this reading


@dataclass(frozen=True, slots=True)
class Outgoing:
    at: datetime  # simulated time at which the pole sends it
    pole_id: str
    action: Action
    topic: str
    payload: bytes
    retain: bool
    family: Family
    faults: tuple[Fault, ...]
    items: tuple[ExpectedItem, ...]

    @property
    def deliberately_invalid(self) -> bool:
        return any(not item.valid for item in self.items)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    interval: timedelta

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window times need a time zone")
        if self.end <= self.start:
            raise ValueError("window must end after it starts")
        if self.interval < timedelta(seconds=1):
            raise ValueError("interval must be at least 1 s")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def quarantine_key(topic: str, raw: bytes, item_index: int | None) -> QuarantineKey:
    return (topic, hashlib.sha256(raw).digest(), item_index)


@dataclass(slots=True)
class _Episode:
    fault: Fault
    until: datetime
    skew: timedelta = timedelta(0)
    connector_id: int | None = None
    frozen_env: dict[str, float] | None = None


@dataclass(slots=True)
class _Pending:
    """A reading measured but not yet sent (validity decided at measurement)."""

    topic: str
    family: Family
    wire: dict[str, Any]
    item: ExpectedItem
    faults: tuple[Fault, ...]


@dataclass
class PoleSimulator:
    pole: PoleSpec
    window: Window
    plan: FaultPlan
    seed: int
    weather: CityWeather
    timezone: ZoneInfo
    episodes: dict[Fault, _Episode] = field(default_factory=dict)
    forced_done: set[Fault] = field(default_factory=set)
    backlog: list[_Pending] = field(default_factory=list)

    def __post_init__(self) -> None:
        pole, seed = self.pole, self.seed
        self.active_faults = frozenset(self.plan.active())
        self.fault_rng = random.Random(f"{seed}:{pole.pole_id}:faults")
        site_rng = random.Random(f"{seed}:{pole.pole_id}:site")
        self.env = EnvSensor(
            random.Random(f"{seed}:{pole.pole_id}:env"),
            self.weather,
            pole.latitude,
            pole.longitude,
            traffic_exposure=site_rng.uniform(0.5, 1.5),
        )
        self.lamp = Lamp(
            random.Random(f"{seed}:{pole.pole_id}:light"),
            pole.latitude,
            pole.longitude,
            pole.lamp_watts,
            meter_kwh=round(site_rng.uniform(200, 5000), 3),
        )
        self.access_point = AccessPoint(
            random.Random(f"{seed}:{pole.pole_id}:wifi"), capacity=site_rng.randint(5, 40)
        )
        self.connectors = [
            EvConnector(
                random.Random(f"{seed}:{pole.pole_id}:ev{number}"),
                pole.pole_id,
                number,
                pole.ev_power_kw,
                self._local,
                meter_kwh=round(site_rng.uniform(100, 20000), 3),
                clock=self.window.start,
            )
            for number in range(1, pole.ev_connectors + 1)
        ]
        self.status_topic = str(PoleTopic(pole.pole_id, Family.STATUS))

    def _local(self, at: datetime) -> datetime:
        return at.astimezone(self.timezone)

    # --- the timeline -------------------------------------------------------

    def events(self) -> Iterator[Outgoing]:
        window = self.window
        yield self._status(Action.CONNECT, window.start, "online", ())
        offline = False
        previous = window.start
        tick = window.start + timedelta(seconds=self.pole.phase_s)
        while tick <= window.end:
            self._update_episodes(tick)
            now_offline = Fault.OFFLINE in self.episodes
            if now_offline and not offline:
                yield self._last_will(tick)
            elif offline and not now_offline:
                yield self._status(Action.CONNECT, tick, "online", (Fault.OFFLINE,))
            offline = now_offline
            if not offline and Fault.OUTAGE not in self.episodes:
                # The network is back (and the pole connected): the backlog first.
                yield from self._flush_backlog(tick)
            pending = self._measure(tick, (tick - previous).total_seconds())
            previous = tick
            if not offline:
                for reading in pending:
                    if Fault.OUTAGE in self.episodes:
                        self.backlog.append(reading)
                    else:
                        yield from self._send_live(tick, reading)
            tick += window.interval
        # The run ends: a pole still online sends what it holds and says
        # goodbye; an offline one already has, by its will, and its backlog
        # never reaches the platform.
        if not offline:
            yield from self._flush_backlog(window.end)
            yield self._status(Action.DISCONNECT, window.end, "offline", ())

    def _update_episodes(self, tick: datetime) -> None:
        for fault, episode in list(self.episodes.items()):
            if tick >= episode.until:
                del self.episodes[fault]
        per_tick = self.window.interval / timedelta(days=1)
        forced_from = self.window.start + self.window.duration * FORCED_FAULT_AT
        for fault in EPISODE_FAULTS:
            if fault in self.episodes or not self._applies(fault):
                continue
            forced = fault in self.plan.forced and fault not in self.forced_done
            draw = self.fault_rng.random()
            if (forced and tick >= forced_from) or draw < self.plan.rate(fault) * per_tick:
                self.forced_done.add(fault)
                self.episodes[fault] = self._start_episode(fault, tick, forced)

    def _applies(self, fault: Fault) -> bool:
        if fault is Fault.STUCK_SENSOR:
            return self.pole.has_env
        if fault is Fault.CHARGER_FAULTED:
            return bool(self.connectors)
        return True

    def _start_episode(self, fault: Fault, tick: datetime, forced: bool) -> _Episode:
        rng = self.fault_rng
        shortest, longest = EPISODE_DURATION[fault]
        length = timedelta(seconds=rng.uniform(shortest.total_seconds(), longest.total_seconds()))
        if forced:  # a technician reproducing it wants to see it end, too
            length = min(length, self.window.duration / 2)
        episode = _Episode(fault, tick + length)
        if fault is Fault.CLOCK_SKEW:
            episode.skew = self._draw_skew()
        elif fault is Fault.CHARGER_FAULTED:
            connector = rng.choice(self.connectors)
            episode.connector_id = connector.connector_id
            connector.fault(tick, episode.until)
        return episode

    def _draw_skew(self) -> timedelta:
        """Behind (accepted), slightly ahead (accepted), or far ahead (rejected).

        Far ahead is one day more than the window is long: whatever moment of
        the run a reading is from, it lands more than a day past the run's end,
        so ingest's future check refuses it unless it reaches ingest more than
        a day after the run (a broker holding messages that long)."""
        draw = self.fault_rng.random()
        if draw < 0.4:
            return -timedelta(seconds=round(self.fault_rng.uniform(60, 1800)))
        if draw < 0.7:
            return timedelta(seconds=round(self.fault_rng.uniform(10, MAX_ACCEPTED_SKEW_AHEAD_S)))
        return self.window.duration + timedelta(days=1)

    # --- measuring ----------------------------------------------------------

    def _measure(self, tick: datetime, elapsed_s: float) -> list[_Pending]:
        local = self._local(tick)
        pending: list[_Pending] = []
        lamp = self.lamp.operate(
            tick,
            local,
            elapsed_s,
            day_burner=Fault.DAY_BURNER in self.episodes,
            defective=Fault.DEFECTIVE_LAMP in self.episodes,
        )
        lamp_faults = tuple(
            f for f in (Fault.DAY_BURNER, Fault.DEFECTIVE_LAMP) if f in self.episodes
        )
        pending.append(self._reading(Family.LIGHT, None, tick, lamp, lamp_faults))
        if self.pole.has_env:
            stuck = self.episodes.get(Fault.STUCK_SENSOR)
            values = self.env.measure(tick, local)
            env_faults: tuple[Fault, ...] = ()
            if stuck is not None:
                # A stuck sensor repeats what it read when it got stuck.
                stuck.frozen_env = stuck.frozen_env or values
                values, env_faults = stuck.frozen_env, (Fault.STUCK_SENSOR,)
            pending.append(self._reading(Family.ENV, None, tick, values, env_faults))
        if self.pole.has_wifi:
            clients = self.access_point.sample(local, elapsed_s)
            pending.append(self._reading(Family.WIFI, None, tick, clients, ()))
        faulted = self.episodes.get(Fault.CHARGER_FAULTED)
        for connector in self.connectors:
            connector.advance(tick)
            ev_faults = (
                (Fault.CHARGER_FAULTED,)
                if faulted is not None and faulted.connector_id == connector.connector_id
                else ()
            )
            sample = connector.sample()
            pending.append(
                self._reading(Family.EV, connector.connector_id, tick, sample, ev_faults)
            )
        return pending

    def _reading(
        self,
        family: Family,
        connector_id: int | None,
        tick: datetime,
        fields: dict[str, Any],
        faults: tuple[Fault, ...],
    ) -> _Pending:
        topic = str(PoleTopic(self.pole.pole_id, family, connector_id))
        skew = self.episodes.get(Fault.CLOCK_SKEW)
        skew_by = skew.skew if skew is not None else timedelta(0)
        device_time = tick + skew_by
        if skew is not None:
            faults = (*faults, Fault.CLOCK_SKEW)
        accepted_time = skew_by <= timedelta(seconds=MAX_ACCEPTED_SKEW_AHEAD_S)
        # The shared model is the only way to a valid payload; a rejected
        # clock is built valid at the true time, then its timestamp is moved.
        model = MODEL_FOR_FAMILY[family]
        reading = model.model_validate(
            {"date_observed": device_time if accepted_time else tick, **fields},
            context=_sent_at(tick),
        )
        wire = reading.wire()
        if not accepted_time:
            wire["dateObserved"] = device_time.isoformat()
        if self._wants(Fault.OUT_OF_RANGE, tick):
            wire = _out_of_range(wire, family, self.fault_rng)
            faults, accepted_time = (*faults, Fault.OUT_OF_RANGE), False
        key: StoredKey = (self.pole.pole_id, family, connector_id, device_time.astimezone(UTC))
        item = ExpectedItem(
            family, accepted_time, stored_key=key if accepted_time else None, faults=faults
        )
        return _Pending(topic, family, wire, item, faults)

    def _forced_message_fault(self, fault: Fault, tick: datetime) -> bool:
        forced_from = self.window.start + self.window.duration * FORCED_FAULT_AT
        if fault in self.plan.forced and fault not in self.forced_done and tick >= forced_from:
            self.forced_done.add(fault)
            return True
        return False

    # --- sending ------------------------------------------------------------

    def _send_live(self, tick: datetime, reading: _Pending) -> Iterator[Outgoing]:
        faults = reading.faults
        payload = orjson.dumps(reading.wire)
        item = reading.item
        if item.valid and self._wants(Fault.MALFORMED, tick):
            payload = _malformed(reading.wire, self.fault_rng)
            faults = (*faults, Fault.MALFORMED)
            item = ExpectedItem(reading.family, False)
        if not item.valid:
            item = ExpectedItem(
                reading.family, False, quarantine_key=quarantine_key(reading.topic, payload, None)
            )
        item = replace(item, faults=faults)
        message = Outgoing(
            tick, self.pole.pole_id, Action.PUBLISH, reading.topic, payload, False,
            reading.family, faults, (item,),
        )  # fmt: skip
        yield message
        if self._wants(Fault.DUPLICATE, tick):
            # A pole that missed the PUBACK sends the very same bytes again.
            again = (*faults, Fault.DUPLICATE)
            yield replace(message, faults=again, items=(replace(item, faults=again),))

    def _wants(self, fault: Fault, tick: datetime) -> bool:
        if fault not in self.active_faults:
            return False
        if self._forced_message_fault(fault, tick):
            return True
        return self.fault_rng.random() < self.plan.rate(fault)

    def _flush_backlog(self, at: datetime) -> Iterator[Outgoing]:
        """Everything held during an outage, as arrays with the original times."""
        if not self.backlog:
            return
        by_topic: dict[str, list[_Pending]] = {}
        for reading in self.backlog:
            by_topic.setdefault(reading.topic, []).append(reading)
        self.backlog = []
        for topic, readings in by_topic.items():
            for chunk in _chunks(readings):
                elements = [orjson.dumps(r.wire) for r in chunk]
                payload = b"[" + b",".join(elements) + b"]"
                items = tuple(
                    replace(
                        r.item,
                        faults=(*r.faults, Fault.OUTAGE),
                        quarantine_key=None if r.item.valid else quarantine_key(topic, raw, i),
                    )
                    for i, (r, raw) in enumerate(zip(chunk, elements, strict=True))
                )
                faults = tuple(sorted({Fault.OUTAGE, *(f for r in chunk for f in r.faults)}))
                yield Outgoing(
                    at, self.pole.pole_id, Action.PUBLISH, topic, payload, False,
                    chunk[0].family, faults, items,
                )  # fmt: skip

    def _status(
        self,
        action: Action,
        at: datetime,
        status: Literal["online", "offline"],
        faults: tuple[Fault, ...],
    ) -> Outgoing:
        reading = PoleStatus.model_validate(
            {"date_observed": at, "status": status, "firmware_version": self.pole.firmware_version},
            context=_sent_at(at),
        )
        key: StoredKey = (self.pole.pole_id, Family.STATUS, None, at.astimezone(UTC))
        return Outgoing(
            at, self.pole.pole_id, action, self.status_topic, orjson.dumps(reading.wire()), True,
            Family.STATUS, faults, (ExpectedItem(Family.STATUS, True, key, faults=faults),),
        )  # fmt: skip

    def _last_will(self, at: datetime) -> Outgoing:
        will = PoleStatus(status=PoleConnection.OFFLINE)
        will_item = ExpectedItem(Family.STATUS, True, last_will=True, faults=(Fault.OFFLINE,))
        return Outgoing(
            at, self.pole.pole_id, Action.DROP, self.status_topic, orjson.dumps(will.wire()), True,
            Family.STATUS, (Fault.OFFLINE,), (will_item,),
        )  # fmt: skip


def _sent_at(tick: datetime) -> dict[str, Any]:
    """Validation context: judged as ingest will judge it when the message
    arrives, which is never before its simulated time (see the README)."""
    return {
        "received_at": tick,
        "max_future_skew": timedelta(seconds=MAX_ACCEPTED_SKEW_AHEAD_S),
    }


def last_will_payload() -> bytes:
    """What every simulated pole leaves with the broker as its last-will."""
    return orjson.dumps(PoleStatus(status=PoleConnection.OFFLINE).wire())


def _chunks(readings: Sequence[_Pending]) -> Iterator[list[_Pending]]:
    chunk: list[_Pending] = []
    size = 2
    for reading in readings:
        length = len(orjson.dumps(reading.wire)) + 1
        if chunk and size + length > MAX_BACKLOG_PAYLOAD_BYTES:
            yield chunk
            chunk, size = [], 2
        chunk.append(reading)
        size += length
    if chunk:
        yield chunk


def _impossible_values(family: Family) -> tuple[tuple[str, float], ...]:
    """Values just outside each metric's physical range in the catalogue (PM10 above
    its maximum, a negative meter...), each refused by the shared models."""
    values: list[tuple[str, float]] = []
    for metric in FAMILIES[family].metrics:
        integral = metric.pg_type in ("int4", "int8")
        if metric.maximum is not None and metric.maximum < 1e9:
            beyond = metric.maximum * 2 + 1
            values.append((metric.wire, int(beyond) if integral else float(beyond)))
        if metric.minimum is not None:
            below = metric.minimum - max(1.0, abs(metric.minimum))
            values.append((metric.wire, int(below) if integral else float(below)))
    return tuple(values)


_OUT_OF_RANGE = {family: _impossible_values(family) for family in METRIC_FAMILIES}


def _out_of_range(wire: dict[str, Any], family: Family, rng: random.Random) -> dict[str, Any]:
    name, value = rng.choice(_OUT_OF_RANGE[family])
    return {**wire, name: value}


def _malformed(wire: dict[str, Any], rng: random.Random) -> bytes:
    """Bytes a buggy firmware sends: cut off, NaN, or a number as a string."""
    variant = rng.choice(("truncated", "nan", "string_number"))
    if variant == "truncated":
        whole = orjson.dumps(wire)
        return whole[: len(whole) // 2]
    number_field = next(
        (k for k, v in wire.items() if isinstance(v, int | float) and not isinstance(v, bool)),
        None,
    )
    if number_field is None:  # nothing numeric to spoil: cut it off instead
        whole = orjson.dumps(wire)
        return whole[: len(whole) // 2]
    if variant == "nan":
        marker = "__not_a_number__"
        return orjson.dumps({**wire, number_field: marker}).replace(f'"{marker}"'.encode(), b"NaN")
    return orjson.dumps({**wire, number_field: str(wire[number_field])})


def fleet_events(
    poles: Sequence[PoleSpec],
    *,
    window: Window,
    plan: FaultPlan,
    seed: int,
    timezone: ZoneInfo,
) -> Iterator[Outgoing]:
    """Every pole's timeline, merged in time order (ties: fleet order)."""
    weather = CityWeather(seed)
    timelines = [
        PoleSimulator(pole, window, plan, seed, weather, timezone).events() for pole in poles
    ]
    return heapq.merge(*timelines, key=lambda outgoing: outgoing.at)
