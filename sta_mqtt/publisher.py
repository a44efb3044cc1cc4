"""The SensorThings MQTT publisher: follows the post-commit change feed and
publishes every committed raw Observation at QoS 1 to
`v1.1/Datastreams(<id>)/Observations`.

Guarantees:
- never before the commit: it reads only the change feed, whose entries exist
  once their batch committed (storage/change_feed.py);
- never lost: its position (table `sta_mqtt_position`) moves past a feed entry
  only after the broker acknowledged (PUBACK) every publish of that entry and
  of every entry before it. A crash, a SIGKILL or a refused publish at any
  moment resumes from the stored position and sends again what was not known
  to be acknowledged: at least once, so subscribers deduplicate by @iot.id.
- retained: a publish is retained when its reading is the newest of its stream
  (the latest-reading table's, read in the same statement), so the broker keeps
  the newest Observation per Datastream, also across restarts and replays.

Bounded: at most SMARTPOLE_STA_MQTT_MAX_INFLIGHT publishes are unacknowledged;
beyond that (a slow or absent broker) it waits, and the change feed keeps the
rest. The broker connection reconnects with backoff (paho resends what was
unacknowledged), the database connection too. SIGTERM/SIGINT: stop reading
the feed, wait for the outstanding acknowledgements, store the position, leave.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from brokerauth import client as mqtt_setup
from config import ConfigError
from config.services import StaPublisherSettings
from models.sensorthings.observation import dumps, observation_document, observation_properties
from models.topics import datastream_observations_topic
from storage.change_feed import Change, FeedPosition, read_changes
from storage.connection import connect_with_retry
from storage.migrate import SchemaNotCurrent, pending_migrations
from storage.sta_publication import ObservationRow, load_position, observation_rows, save_position

log = logging.getLogger(__name__)

DB_STARTUP_TIMEOUT_S = 60.0
FEED_READ_LIMIT = 500  # change feed entries per read
SAVE_EVERY_S = 0.5
DRAIN_TIMEOUT_S = 30.0
REFUSED_BACKOFF_MAX_S = 60.0


def observation_payload(base: str, row: ObservationRow) -> bytes:
    """The message: the Observation exactly as the facade renders it."""
    properties = observation_properties(
        slot=row.slot,
        phenomenon_time=row.observed_at,
        result_time=row.observed_at,
        result=row.result,
        parameters=row.parameters,
    )
    return dumps(observation_document(base, row.observation_id, properties))


@dataclass(slots=True)
class _Entry:
    """One change feed entry: how many of its publishes await their PUBACK."""

    position: FeedPosition
    remaining: int
    failed: bool = False


class _Window:
    """Publishes in flight, in feed order; the network thread acknowledges them."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.pending: deque[_Entry] = deque()
        self.by_mid: dict[int, _Entry] = {}
        self.early: dict[int, bool] = {}  # PUBACKs that came before their mid was registered
        self.outstanding = 0
        self.acked: FeedPosition | None = None  # every entry up to here is acknowledged
        self.refused = 0
        self.acks = 0

    def add_entry(self, entry: _Entry) -> None:
        with self.cond:
            self.pending.append(entry)
            self._advance()

    def register(self, mid: int, entry: _Entry) -> None:
        with self.cond:
            self.outstanding += 1
            if mid in self.early:
                self._settle(entry, self.early.pop(mid))
            else:
                self.by_mid[mid] = entry

    def acknowledge(self, mid: int, ok: bool) -> None:
        with self.cond:
            entry = self.by_mid.pop(mid, None)
            if entry is None:
                self.early[mid] = ok
                return
            self._settle(entry, ok)

    def _settle(self, entry: _Entry, ok: bool) -> None:
        self.outstanding -= 1
        if ok:
            self.acks += 1
            entry.remaining -= 1
        else:
            self.refused += 1
            entry.failed = True
        self._advance()
        self.cond.notify_all()

    def _advance(self) -> None:
        while self.pending and self.pending[0].remaining == 0 and not self.pending[0].failed:
            self.acked = self.pending.popleft().position

    @property
    def failed(self) -> bool:
        return any(e.failed for e in self.pending)

    def wait_below(self, limit: int, timeout: float, *, until_refused: bool = False) -> bool:
        """Wait until fewer than `limit` publishes are outstanding (False: timed out,
        or, with `until_refused`, a publish was refused)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.outstanding >= limit:
                if until_refused and self.failed:
                    return False
                if time.monotonic() >= deadline:
                    return False
                self.cond.wait(0.2)
            return True

    def reset(self) -> None:
        with self.cond:
            self.pending.clear()
            self.by_mid.clear()
            self.early.clear()
            self.outstanding = 0


class BrokerLink:
    """The publisher's MQTT v5 connection (the platform-publisher identity)."""

    def __init__(self, settings: StaPublisherSettings, window: _Window) -> None:
        self.endpoint = settings.mqtt
        self.window = window
        self.connected = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"smartpole-sta-{settings.sta_mqtt_name}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        mqtt_setup.configure(self.client, self.endpoint)
        # The window (_Window) bounds what is in flight, so paho need not: with a
        # limit of its own, paho scans every unacknowledged message on each PUBACK.
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def start(self) -> None:
        self.client.connect_async(self.endpoint.host, self.endpoint.port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, *, retain: bool) -> int:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return info.mid

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason_code: ReasonCode, properties: Properties | None) -> None:  # fmt: skip
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        log.info("connected to %s", self.endpoint.redacted())
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags,
                       reason_code: ReasonCode, properties: Properties | None) -> None:  # fmt: skip
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int,
                    reason_code: ReasonCode, properties: Properties) -> None:  # fmt: skip
        # MQTT v5 PUBACK: "No matching subscribers" (0x10) is a success.
        ok = not reason_code.is_failure
        if not ok:
            log.error("broker refused publish %d: %s", mid, reason_code)
        self.window.acknowledge(mid, ok)


class StaPublisher:
    def __init__(self, settings: StaPublisherSettings) -> None:
        self.base = settings.sta_mqtt_base_url.strip().rstrip("/")
        if not self.base.startswith(("http://", "https://")):
            raise ConfigError(
                "SMARTPOLE_STA_MQTT_BASE_URL must be the facade's absolute URL, e.g. "
                "https://data.example.org/sta/v1.1 (the start of every @iot.selfLink)"
            )
        self.settings = settings
        self.name = settings.sta_mqtt_name
        self.families = settings.published_families
        self.dsn = settings.require_database_url()
        self.stopping = threading.Event()
        self.window = _Window()
        self.link = BrokerLink(settings, self.window)
        self._conn: psycopg.Connection[Any] | None = None
        self.read_position: FeedPosition | None = None  # published up to here
        self.saved: FeedPosition | None = None  # stored in the database
        self.published = 0
        self.refusal_backoff_s = 1.0

    def install_signal_handlers(self) -> None:
        def request_stop(signum: int, frame: FrameType | None) -> None:
            log.info("received %s: draining and stopping", signal.Signals(signum).name)
            self.stopping.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    # -- database ---------------------------------------------------------------------
    def _connect(self, give_up_after_s: float | None) -> psycopg.Connection[Any] | None:
        if self._conn is not None:
            self._conn.close()
        self._conn = connect_with_retry(
            self.dsn,
            give_up_after_s=give_up_after_s,
            should_stop=self.stopping.is_set,
            autocommit=True,
        )
        return self._conn

    def _db(self) -> psycopg.Connection[Any]:
        """The connection, reconnected (retrying forever) when it was lost."""
        while self._conn is None or self._conn.closed:
            if self.stopping.is_set() or self._connect(None) is None:
                raise _StopRequestedError
        return self._conn

    # -- main loop ----------------------------------------------------------------------
    def run(self) -> None:
        conn = self._connect(DB_STARTUP_TIMEOUT_S)
        if conn is None:
            return
        pending = pending_migrations(conn)
        if pending:
            raise SchemaNotCurrent(
                f"database schema is not up to date (pending: {', '.join(pending)}); "
                "run `smartpole db migrate` first"
            )
        self.saved = self.read_position = load_position(conn, self.name)
        log.info(
            "SensorThings MQTT publisher running",
            extra={"families": sorted(f.value for f in self.families),
                   "position": str(self.saved) if self.saved else "start of the feed",
                   "max_inflight": self.settings.sta_mqtt_max_inflight},
        )  # fmt: skip
        self.link.start()
        next_save = next_stats = time.monotonic()
        try:
            while not self.stopping.is_set():
                try:
                    found = self._round()
                    if self.window.failed:
                        self._recover_from_refusal()
                        continue
                    now = time.monotonic()
                    if now >= next_save or not found:
                        self._save()
                        next_save = now + SAVE_EVERY_S
                    if now >= next_stats:
                        self.log_stats()
                        next_stats = now + self.settings.sta_mqtt_stats_interval_s
                    if not found:
                        self.stopping.wait(self.settings.sta_mqtt_poll_interval_ms / 1000)
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    log.warning("database error (%s); reconnecting", exc)
                    if self._conn is not None:
                        self._conn.close()
        except _StopRequestedError:
            pass
        finally:
            self._drain()
            self.link.close()
            if self._conn is not None:
                self._conn.close()
            self.log_stats()

    def _round(self) -> bool:
        """Publish what the feed has after the read position; False: nothing new."""
        conn = self._db()
        changes, _ = read_changes(conn, self.read_position, FEED_READ_LIMIT)
        for change in changes:
            if self.stopping.is_set() or self.window.failed:
                break
            self._publish_change(conn, change)
            self.read_position = change.position
        return bool(changes)

    def _publish_change(self, conn: psycopg.Connection[Any], change: Change) -> None:
        family = change.family
        published = family is not None and family in self.families
        rows = observation_rows(conn, change) if published else []
        entry = _Entry(change.position, len(rows))
        self.window.add_entry(entry)
        limit = self.settings.sta_mqtt_max_inflight
        for row in rows:
            while not self.window.wait_below(limit, 1.0, until_refused=True):
                # The rest of this entry stays unpublished, so the position
                # stays before it: sent by the next run.
                if self.window.failed or self.stopping.is_set():
                    return
            mid = self.link.publish(
                datastream_observations_topic(row.datastream_id),
                observation_payload(self.base, row),
                retain=row.newest,
            )
            self.window.register(mid, entry)
            self.published += 1

    def _save(self) -> None:
        acked = self.window.acked
        if acked is not None and (self.saved is None or acked > self.saved):
            save_position(self._db(), self.name, acked)
            self.saved = acked

    def _recover_from_refusal(self) -> None:
        """A publish was refused (e.g. the identity may not publish there): keep
        the position before it, wait, and send everything after it again."""
        self.window.wait_below(1, DRAIN_TIMEOUT_S)
        self._save()
        log.error(
            "the broker refused a publish; retrying from %s in %.0f s",
            self.window.acked or self.saved or "the start of the feed",
            self.refusal_backoff_s,
        )
        self.window.reset()
        self.read_position = self.window.acked or self.saved
        self.stopping.wait(self.refusal_backoff_s)
        self.refusal_backoff_s = min(self.refusal_backoff_s * 2, REFUSED_BACKOFF_MAX_S)

    def _drain(self) -> None:
        """On shutdown: wait for the outstanding acknowledgements, store the position."""
        if not self.window.wait_below(1, DRAIN_TIMEOUT_S):
            log.warning(
                "%d publishes unacknowledged at shutdown: sent again on the next start",
                self.window.outstanding,
            )
        try:
            if self._conn is not None and not self._conn.closed:
                self._save()
        except psycopg.Error as exc:
            log.warning("position not stored at shutdown (%s): resent on the next start", exc)

    def log_stats(self) -> None:
        log.info(
            "sta-publish counters",
            extra={"published": self.published, "acknowledged": self.window.acks,
                   "refused": self.window.refused, "in_flight": self.window.outstanding,
                   "position": str(self.saved) if self.saved else None},
        )  # fmt: skip


class _StopRequestedError(Exception):
    """Stop requested while waiting for the database."""
