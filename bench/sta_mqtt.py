"""What the SensorThings MQTT publisher costs ingest: the drain rate of one
backlog with the publisher off and on, in the same run.

Each phase: a fresh migrated database, a backlog of env readings (nine
Observations each) queued for an ingest worker's persistent session while it
is stopped (bench/ingest.py's publishers), then the worker started and timed
until every reading is committed. In the "on" phase `smartpole sta-publish`
runs alongside from the start (and a consumer subscribed to v1.1/# counts what
the broker delivers), and the run also times until the publisher has had every
Observation acknowledged: the publish rate. CPU seconds per part as in
bench/ingest.py. Prints one JSON line; never fails on a timing.

    python -m bench.sta_mqtt [--readings 20000] [--rounds 2] [--workers 1] [--no-consumer]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from bench.ingest import count_rows, process_tree_cpu_seconds, publish_worker
from smartpole.local_services import LOCAL_CONSUMER
from storage.migrate import migrate
from tests.support.ingest_process import IngestProcess
from tests.support.services import (
    MosquittoServer,
    PostgresServer,
    create_database,
    credentials_for_port,
    running_mosquitto,
    running_postgres,
    wait_until,
)
from tests.support.sta_publisher import PublisherProcess

METRICS_PER_READING = 9  # bench.ingest.reading sets every env metric


class Counter:
    """A consumer subscribed to v1.1/#, counting live deliveries."""

    def __init__(self, broker: MosquittoServer) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="bench-sta-consumer",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.username_pw_set(LOCAL_CONSUMER, broker.password(LOCAL_CONSUMER))
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe("v1.1/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.retain:  # kept from an earlier round, not published in this one
            return
        with self.lock:
            self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def published_to_end(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce((SELECT (p.xid, p.seq) >= (f.xid::text::bigint, f.seq) "
            "FROM sta_mqtt_position p WHERE p.publisher = 'default'), false) "
            "FROM (SELECT xid, seq FROM change_feed ORDER BY xid DESC, seq DESC LIMIT 1) f"
        ).fetchone()
        return bool(row and row[0])


def phase(
    name: str,
    pg: PostgresServer,
    broker: MosquittoServer,
    work: Path,
    args: argparse.Namespace,
    *,
    publish: bool,
) -> dict[str, Any]:
    url = create_database(pg, f"bench_{name}")
    with psycopg.connect(url) as conn:
        migrate(conn, "off")
    workers = [
        IngestProcess(
            url, broker.url, work / f"ingest-{name}-{n}.log",
            mqtt_client_id=f"bench-{name}-{n}", mqtt_share_group=f"bench-{name}",
            ingest_batch_size=args.batch_size, ingest_batch_max_age_ms=200,
            ingest_stats_interval_s=5,
        )
        for n in range(args.workers)
    ]  # fmt: skip
    for worker in workers:  # the persistent session and its subscription
        worker.start()
    for worker in workers:
        wait_until(lambda w=worker: "subscribed to" in w.log_text(), 30, "subscription")  # type: ignore[misc]
        worker.stop()
    procs = [
        multiprocessing.Process(
            target=publish_worker,
            args=((broker.port, credentials_for_port(broker.port)), w, args.publishers,
                  args.readings, 1),
        )
        for w in range(args.publishers)
    ]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs):
        raise SystemExit("a publisher failed: the backlog is incomplete")

    postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    groups = {"postgres": [postmaster], "mosquitto": [broker.process.pid]}
    cpu_before = {k: process_tree_cpu_seconds(v) for k, v in groups.items()}
    counter = Counter(broker) if publish and args.consumer else None
    sta = (
        PublisherProcess(url, broker, "http://127.0.0.1:8000/sta/v1.1",
                         work / f"sta-{name}.log").start()
        if publish
        else None
    )  # fmt: skip
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    groups["ingest"] = [w.process.pid for w in workers if w.process is not None]
    if sta is not None and sta.process is not None:
        groups["sta_publish"] = [sta.process.pid]
    wait_until(lambda: count_rows(url) >= args.readings, 900, "backlog drained", interval=0.02)
    drain_s = time.perf_counter() - started
    out: dict[str, Any] = {
        "drain_seconds": round(drain_s, 2),
        "drain_readings_per_s": round(args.readings / drain_s),
    }
    if sta is not None:
        wait_until(lambda: published_to_end(url), 900, "everything published", interval=0.05)
        publish_s = time.perf_counter() - started
        observations = args.readings * METRICS_PER_READING
        out |= {
            "observations_published": observations,
            "all_acknowledged_seconds": round(publish_s, 2),
            "publish_observations_per_s": round(observations / publish_s),
        }
        if counter is not None:
            wait_until(lambda: counter.count >= observations, 120, "everything delivered")
            out["consumer_received"] = counter.count
    cpu = {k: process_tree_cpu_seconds(v) - cpu_before.get(k, 0.0) for k, v in groups.items()}
    out["cpu_us_per_reading"] = {k: round(s / args.readings * 1e6, 1) for k, s in cpu.items()}
    for worker in workers:
        worker.stop()
    if sta is not None:
        sta.stop()
    if counter is not None:
        counter.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs, alternating")
    parser.add_argument(
        "--no-consumer", dest="consumer", action="store_false",
        help="no subscriber to v1.1/# (the broker drops what nobody reads)",
    )  # fmt: skip
    args = parser.parse_args()
    offs: list[dict[str, Any]] = []
    ons: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="smartpole-bench-sta-") as tmp:
        work = Path(tmp)
        with running_postgres(work / "pg") as pg, running_mosquitto(work / "mqtt") as broker:
            # Alternating, so that a busy moment of the shared machine does not
            # fall on one side only.
            for n in range(args.rounds):
                offs.append(phase(f"off{n}", pg, broker, work, args, publish=False))
                print(f"publisher off: {offs[-1]}", file=sys.stderr)
                ons.append(phase(f"on{n}", pg, broker, work, args, publish=True))
                print(f"publisher on: {ons[-1]}", file=sys.stderr)
    off_rate = statistics.median(r["drain_readings_per_s"] for r in offs)
    on_rate = statistics.median(r["drain_readings_per_s"] for r in ons)
    print(
        orjson.dumps(
            {
                "benchmark": "sta_mqtt_publisher_cost",
                "readings": args.readings,
                "family": "env",
                "observations_per_reading": METRICS_PER_READING,
                "ingest_workers": args.workers,
                "consumer_subscribed": args.consumer,
                "rounds": args.rounds,
                "publisher_off": offs,
                "publisher_on": ons,
                "median_drain_readings_per_s_off": round(off_rate),
                "median_drain_readings_per_s_on": round(on_rate),
                "drain_rate_ratio_on_to_off": round(on_rate / off_rate, 3),
                "median_publish_observations_per_s": round(
                    statistics.median(r["publish_observations_per_s"] for r in ons)
                ),
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
