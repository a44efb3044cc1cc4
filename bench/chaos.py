"""Fault bench: a sustained QoS 1 load through every fault the pipe must survive.

1. Start a throwaway PostgreSQL and Mosquitto (the test harness's: the
   shipped mosquitto.conf, persistence and dynamic security on), migrate.
2. Start two ingest workers in the shared subscription; their link to the
   broker goes through a TCP proxy that can be cut (tests/support/proxy.py).
3. A simulated fleet publishes at a steady pace for `--seconds`, every pole
   over its own session with its own identity, QoS 1, resending what the
   broker answers with 0x10 (the pole contract, README: Delivery guarantees).
4. Meanwhile, in order: SIGKILL of ingest worker 0 (restarted 2 s later), an
   immediate PostgreSQL stop and start, a broker restart, a 5 s network cut
   between ingest and the broker, SIGKILL of ingest worker 1.
5. When the fleet is done: wait until the platform holds what the simulator
   says it delivered, then compare every natural key sent with every key
   stored (missing, unexpected), the table counts, and the read models the
   writer keeps (hourly/daily rollups: readings per bucket; latest-per-pole
   tables: newest device time) with the raw rows.

The baseline is the simulator's own account of the same run (what it sent,
what the broker never took): the figures are ratios to it, 1.0 meaning
nothing lost and nothing extra. Prints one JSON line; a program, not a test.

    python -m bench.chaos [--seconds 120] [--poles 40] [--speed 120]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
from psycopg import sql

from brokerauth import commissioning
from config.endpoints import MqttEndpoint
from models.catalogue.families import FAMILIES
from models.topics import Family
from simulators.city import City, layout_fleet
from simulators.faults import FaultPlan
from simulators.generator import Outgoing, StoredKey, Window, fleet_events
from simulators.publisher import FleetPublisher, Pacing
from simulators.summary import RunSummary
from storage.migrate import migrate
from tests.support.ingest_process import IngestProcess
from tests.support.proxy import CuttableProxy, cuttable_proxy
from tests.support.services import (
    MosquittoServer,
    PostgresServer,
    create_database,
    restart_postgres,
    running_mosquitto,
    running_postgres,
    wait_until,
)

CITY = City.named("Castrop-Rauxel", 51.55, 7.31)
TIMEZONE = ZoneInfo("Europe/Berlin")
INTERVAL_S = 60.0
SEED = 14
# Rollups and read models the writer keeps, checked against the raw rows:
# (read model, raw table, bucket width or None for a sum over all buckets).
HOURLY = (("env_hourly", "env_readings"), ("wifi_hourly", "wifi_readings"))
DAILY = (("env_daily", "env_readings"), ("light_daily", "light_readings"),
         ("ev_daily", "ev_readings"))  # fmt: skip
LATEST = (("env_latest", "env_readings", ("pole_id",)),
          ("light_latest", "light_readings", ("pole_id",)),
          ("wifi_latest", "wifi_readings", ("pole_id",)),
          ("ev_latest", "ev_readings", ("pole_id", "connector_id")))  # fmt: skip


class Chaos:
    """The faults, each run at its moment and timed."""

    def __init__(
        self,
        pg: PostgresServer,
        broker: MosquittoServer,
        network: CuttableProxy,
        workers: list[IngestProcess],
    ) -> None:
        self.pg, self.broker, self.network, self.workers = pg, broker, network, workers
        self.started = time.monotonic()
        self.log: list[dict[str, Any]] = []

    def _timed(self, name: str, fault: Callable[[], None]) -> None:
        at = time.monotonic() - self.started
        begun = time.monotonic()
        fault()
        self.log.append(
            {"fault": name, "at_s": round(at, 1), "took_s": round(time.monotonic() - begun, 1)}
        )
        print(f"chaos: {name} at {at:.0f} s", file=sys.stderr)

    def kill_worker(self, n: int) -> None:
        def fault() -> None:
            self.workers[n].kill()
            time.sleep(2)
            self.workers[n].start()

        self._timed(f"SIGKILL ingest worker {n}, restarted 2 s later", fault)

    def restart_postgres(self) -> None:
        self._timed(
            "PostgreSQL immediate stop, start 2 s later",
            lambda: restart_postgres(self.pg, down_s=2),
        )

    def restart_broker(self) -> None:
        self._timed("broker restart (SIGTERM, start 1 s later)", lambda: self.broker.restart(1))

    def cut_network(self) -> None:
        def fault() -> None:
            self.network.cut()
            time.sleep(5)
            self.network.restore()

        self._timed("network cut ingest <-> broker for 5 s", fault)

    def run(self, seconds: float, done: threading.Event) -> None:
        plan = [
            (0.15, lambda: self.kill_worker(0)),
            (0.30, self.restart_postgres),
            (0.45, self.restart_broker),
            (0.60, self.cut_network),
            (0.75, lambda: self.kill_worker(1)),
        ]
        for fraction, fault in plan:
            delay = self.started + fraction * seconds - time.monotonic()
            if done.wait(max(delay, 0)):
                break  # the load ended early (failed): no more faults
            fault()


def recording(
    events: Iterator[Outgoing], keys: dict[str, set[tuple[Any, ...]]]
) -> Iterator[Outgoing]:
    """Pass the events on, noting the natural key of every valid reading."""
    for outgoing in events:
        for item in outgoing.items:
            if item.valid and not item.last_will and item.stored_key is not None:
                keys[FAMILIES[item.family].table].add(row_key(item.stored_key))
        yield outgoing


def row_key(key: StoredKey) -> tuple[Any, ...]:
    pole_id, family, connector_id, observed_at = key
    if family is Family.EV:
        return (pole_id, connector_id, observed_at)
    return (pole_id, observed_at)


def stored_keys(conn: psycopg.Connection[Any], table: str) -> set[tuple[Any, ...]]:
    columns = ["pole_id", "connector_id", "observed_at"] if table == "ev_readings" else [
        "pole_id", "observed_at"]  # fmt: skip
    # Status events timed by their arrival are wills, not keys a pole sent.
    where = "observed_at <> received_at" if table == "status_events" else "true"
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table), sql.SQL(where)
    )
    return {tuple(row) for row in conn.execute(query)}


def count(conn: psycopg.Connection[Any], query: sql.Composable | str, *names: str) -> int:
    """`query` with {} placeholders filled by the identifiers `names`."""
    composed = (
        sql.SQL(query).format(*map(sql.Identifier, names)) if isinstance(query, str) else query
    )
    row = conn.execute(composed).fetchone()
    return int(row[0]) if row else 0


def read_model_mismatches(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Buckets (or poles) whose read model disagrees with the raw rows."""
    out = {}
    for model, raw in HOURLY:
        out[f"{model}_buckets_wrong"] = count(
            conn,
            "SELECT count(*) FROM (SELECT pole_id, date_trunc('hour', observed_at) AS bucket,"
            " count(*) AS n FROM {} GROUP BY 1, 2) r FULL JOIN {} m USING (pole_id, bucket)"
            " WHERE m.readings IS DISTINCT FROM r.n",
            raw,
            model,
        )
    for model, raw in DAILY:
        out[f"{model}_readings_minus_raw"] = count(
            conn,
            "SELECT (SELECT coalesce(sum(readings), 0) FROM {}) - (SELECT count(*) FROM {})",
            model,
            raw,
        )
    for model, raw, key in LATEST:
        keys = sql.SQL(", ").join(map(sql.Identifier, key))
        query = sql.SQL(
            "SELECT count(*) FROM (SELECT {keys}, max(observed_at) AS newest FROM {raw}"
            " GROUP BY {keys}) r FULL JOIN {model} m USING ({keys})"
            " WHERE m.observed_at IS DISTINCT FROM r.newest"
        ).format(keys=keys, raw=sql.Identifier(raw), model=sql.Identifier(model))
        out[f"{model}_rows_wrong"] = count(conn, query)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the load (wall)")
    parser.add_argument("--poles", type=int, default=40)
    parser.add_argument(
        "--speed", type=float, default=120.0, help="simulated seconds per second of the load"
    )
    parser.add_argument("--workers", type=int, default=2, help="ingest workers (at least 2)")
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="PostgreSQL's synchronous_commit; off shows what an immediate stop then loses",
    )
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers: at least 2 (two of them are killed)")

    poles = layout_fleet(CITY, args.poles, random.Random(f"{SEED}:fleet"), INTERVAL_S)
    summary = RunSummary(key_memory=None)
    sent_keys: dict[str, set[tuple[Any, ...]]] = {spec.table: set() for spec in FAMILIES.values()}
    with tempfile.TemporaryDirectory(prefix="smartpole-chaos-") as tmp:
        work = Path(tmp)
        with (
            # synchronous_commit on, as in production: the harness's default
            # (off) lets an immediate stop lose commits already acknowledged.
            running_postgres(
                work / "pg", extra_options=f"-c synchronous_commit={args.synchronous_commit}"
            ) as pg,
            running_mosquitto(work / "mqtt") as broker,
            cuttable_proxy(broker.port) as network,
        ):
            url = create_database(pg, "chaos")
            with psycopg.connect(url) as conn:
                migrate(conn, "off")
            workers = [
                IngestProcess(url, broker.url_at(network.port), work / f"ingest-{n}.log",
                              mqtt_client_id=f"chaos-ingest-{n}", ingest_stats_interval_s=5)
                for n in range(args.workers)
            ]  # fmt: skip
            identities = commissioning.load(broker.issue_poles(p.pole_id for p in poles))
            try:
                for worker in workers:
                    worker.start()
                for worker in workers:
                    wait_until(lambda w=worker: "subscribed to" in w.log_text(), 60, "subscription")  # type: ignore[misc]
                report = run_load(
                    args, poles=poles, identities=identities, broker=broker, summary=summary,
                    sent_keys=sent_keys, pg=pg, network=network, workers=workers,
                )  # fmt: skip
                result = compare(url, summary, sent_keys, report)
            finally:
                for worker in workers:
                    if worker.running:
                        worker.stop()
    header = {"benchmark": "chaos", "poles": args.poles, "seconds": args.seconds,
              "synchronous_commit": args.synchronous_commit}  # fmt: skip
    print(orjson.dumps({**header, **result}).decode())


def run_load(
    args: argparse.Namespace,
    *,
    poles: list[Any],
    identities: Any,
    broker: MosquittoServer,
    summary: RunSummary,
    sent_keys: dict[str, set[tuple[Any, ...]]],
    pg: PostgresServer,
    network: CuttableProxy,
    workers: list[IngestProcess],
) -> dict[str, Any]:
    wall_start = time.time()
    end = datetime.fromtimestamp(wall_start + args.seconds, UTC).replace(microsecond=0)
    sim = timedelta(seconds=args.seconds * args.speed)
    window = Window(end - sim, end, timedelta(seconds=INTERVAL_S))
    pacing = Pacing(window.start, wall_start, args.speed)
    events = fleet_events(poles, window=window, plan=FaultPlan(), seed=SEED, timezone=TIMEZONE)
    chaos = Chaos(pg, broker, network, workers)
    done = threading.Event()
    faults = threading.Thread(target=chaos.run, args=(args.seconds, done), daemon=True)
    endpoint = MqttEndpoint("127.0.0.1", broker.port, None, None, tls=False)  # each pole: its own
    started = time.monotonic()
    faults.start()
    try:
        with FleetPublisher(endpoint, client_id_prefix="chaos", identities=identities) as fleet:
            fleet.run(recording(events, sent_keys), summary, pacing=pacing)
    finally:
        done.set()
        faults.join()
    return {
        "load_s": time.monotonic() - started,
        "faults": chaos.log,
        "window_start": window.start,
        "speed": args.speed,
    }


def compare(
    url: str,
    summary: RunSummary,
    sent_keys: dict[str, set[tuple[Any, ...]]],
    report: dict[str, Any],
) -> dict[str, Any]:
    expected = summary.expected_tables()
    for key in summary.undelivered_keys:  # the broker never took these: not expected
        sent_keys[FAMILIES[key[1]].table].discard(row_key(key))
    settle_started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [t for t in expected if t != "quarantine"]

        def settled() -> bool:
            return all(count(conn, "SELECT count(*) FROM {}", t) >= expected[t] for t in tables)

        try:
            wait_until(settled, 90, "the platform holds what was delivered", interval=1)
        except TimeoutError:
            print("chaos: not everything arrived within 90 s", file=sys.stderr)
        time.sleep(3)  # let the last batches commit (anything extra would show)
        settle_s = time.monotonic() - settle_started
        stored = {t: count(conn, "SELECT count(*) FROM {}", t) for t in expected}
        keys = {}
        missing_at: list[float] = []
        for table in tables:
            have = stored_keys(conn, table)
            missing_at += [
                round((key[-1] - report["window_start"]).total_seconds() / report["speed"], 1)
                for key in sent_keys[table] - have
            ]
            keys[table] = {
                "sent": len(sent_keys[table]),
                "stored": len(have),
                "missing": len(sent_keys[table] - have),
                "unexpected": len(have - sent_keys[table]),
            }
        wills = count(conn, "SELECT count(*) FROM status_events WHERE observed_at = received_at")
        read_models = read_model_mismatches(conn)
    sent_total = sum(len(k) for k in sent_keys.values())
    stored_total = sum(k["stored"] - k["unexpected"] for k in keys.values())
    missing = sum(k["missing"] for k in keys.values())
    unexpected = sum(k["unexpected"] for k in keys.values())
    return {
        "messages_sent": summary.messages,
        "load_seconds": round(report["load_s"], 1),
        "messages_per_s": round(summary.messages / report["load_s"]),
        "faults": report["faults"],
        "delivery": summary.as_dict()["delivery"],
        "expected_tables": expected,
        "stored_tables": stored,
        # Offline events the broker fired itself (wills at its shutdown), not sent by a pole.
        "broker_fired_wills": wills,
        "keys": keys,
        "keys_missing": missing,
        # When (seconds into the load) each missing reading was sent: which fault lost it.
        "missing_sent_at_s": sorted(missing_at)[:50],
        "keys_unexpected": unexpected,
        "stored_to_delivered_ratio": round(stored_total / sent_total, 6) if sent_total else None,
        "read_models_wrong": read_models,
        "read_models_ok": not any(read_models.values()),
        "settle_seconds": round(settle_s, 1),
        "nothing_lost_nothing_extra": missing == 0 and unexpected == 0,
    }


if __name__ == "__main__":
    main()
