"""Ingest under sustained load: publish-to-queryable latency at fixed rates, CPU per
reading of each part, and, in the same run, the two baselines.

1. A throwaway PostgreSQL and Mosquitto, migrated; WORKERS ingest workers running.
2. For each rate in --rates (readings/s, one reading per message, 1,000 poles):
   publisher processes send at that rate for --duration seconds, each reading
   stamped with the wall-clock time of its publish as its device time. This
   process follows the change feed (storage.change_feed.read_changes, every
   20 ms): a reading is queryable once its entry is readable, since the entry
   commits with the rows and the read models. Latency = when it was first seen
   minus when it was published (p50/p99), plus the CPU each part (ingest,
   PostgreSQL, Mosquitto) spent per reading.
3. Drain: a backlog queued while ingest is stopped, drained (readings/s).
4. Naive bridge: a paho subscriber doing one INSERT and commit per message, as
   tutorials do; its drain rate of a backlog is its maximum sustained rate.
5. Database-only ceiling: the same readings decoded beforehand from a file,
   written with the ingest writer (COPY into staging, merge, rollups, latest,
   change feed) in batches of the same size: what the database side can do
   alone; and again without the change feed, whose difference is its cost.

Prints one JSON line. A program, not a test: it never fails on a timing.

    python -m bench.ingest_live [--rates 5000,20000] [--duration 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.ingest import POLES, process_tree_cpu_seconds, publish_worker, reading
from models.readings import EnvReading
from models.topics import Family, PoleTopic
from storage.change_feed import read_changes
from storage.migrate import migrate
from storage.writer import ReadingWriter, ReceivedReading
from tests.support.ingest_process import IngestProcess
from tests.support.services import create_database, running_mosquitto, running_postgres, wait_until

PUBLISHERS = 2


def live_publisher(port: int, worker: int, rate: float, duration_s: float) -> None:
    """Publish `rate` readings/s (this process's share) for `duration_s`."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"live-publisher-{worker}-{time.time_ns()}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.max_inflight_messages_set(5000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    sent = 0
    poles = list(range(worker, POLES, PUBLISHERS))
    while (now := time.perf_counter()) - started < duration_s:
        due = int((now - started) * rate) - sent
        for _ in range(min(due, 2000)):
            pole = poles[sent % len(poles)]
            payload = {**reading(sent), "dateObserved": datetime.now(UTC).isoformat()}
            client.publish(f"smartpole/v1/poles/B-{pole:04d}/env", orjson.dumps(payload), qos=1)
            sent += 1
        time.sleep(0.002)
    time.sleep(1)
    client.disconnect()
    client.loop_stop()


def naive_bridge(port: int, url: str, expected: int, ready: Any) -> None:
    """One INSERT and commit per message."""
    conn = psycopg.connect(url)
    done = 0

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal done
        data = json.loads(message.payload)
        pole = message.topic.split("/")[3]
        conn.execute(
            "INSERT INTO env_readings (pole_id, observed_at, received_at, pm10, no2) "
            "VALUES (%s, %s, now(), %s, %s) ON CONFLICT DO NOTHING",
            (pole, data["dateObserved"], data.get("pm10"), data.get("no2")),
        )
        conn.commit()
        done += 1

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="naive-bridge",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.on_message = on_message
    client.connect("127.0.0.1", port, clean_start=False,
                   properties=_session_expiry())  # fmt: skip
    client.subscribe("smartpole/v1/poles/+/env", qos=1)
    client.loop_start()
    ready.set()
    while done < expected:
        time.sleep(0.05)
    client.loop_stop()


def _session_expiry() -> Any:
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    return props


def run_live(
    url: str, broker: Any, pg_pid: int, workers: list[IngestProcess], *, rate: float,
    duration_s: float,
) -> dict[str, Any]:  # fmt: skip
    with psycopg.connect(url, autocommit=True) as reader:
        _, position = read_changes(reader, None, limit=1_000_000)
        groups = {"postgres": [pg_pid], "mosquitto": [broker.process.pid],
                  "ingest": [w.process.pid for w in workers if w.process]}  # fmt: skip
        cpu_before = {n: process_tree_cpu_seconds(p) for n, p in groups.items()}
        procs = [
            multiprocessing.Process(target=live_publisher,
                                    args=(broker.port, w, rate / PUBLISHERS, duration_s))
            for w in range(PUBLISHERS)
        ]  # fmt: skip
        for p in procs:
            p.start()
        latencies: list[float] = []
        deadline = time.time() + duration_s + 15
        while time.time() < deadline:
            changes, position = read_changes(reader, position, limit=100_000)
            seen = datetime.now(UTC)
            for change in changes:
                if change.kind == Family.ENV.value:
                    latencies += [
                        (seen - at).total_seconds() * 1000 for _, _, at in change.reading_keys()
                    ]
            if not changes and all(not p.is_alive() for p in procs):
                break
            time.sleep(0.02)
        for p in procs:
            p.join()
        cpu = {n: process_tree_cpu_seconds(p) - cpu_before[n] for n, p in groups.items()}
    latencies.sort()
    n = len(latencies)
    return {
        "target_readings_per_s": rate,
        "readings": n,
        "achieved_readings_per_s": round(n / duration_s),
        "latency_p50_ms": round(latencies[n // 2], 1) if n else None,
        "latency_p99_ms": round(latencies[min(n - 1, int(n * 0.99))], 1) if n else None,
        "latency_max_ms": round(latencies[-1], 1) if n else None,
        "cpu_us_per_reading": {k: round(v / max(n, 1) * 1e6, 2) for k, v in cpu.items()},
    }


def drain(url: str, broker: Any, workers: list[IngestProcess], readings: int) -> float:
    for w in workers:
        w.stop()
    procs = [multiprocessing.Process(target=publish_worker, args=(broker.port, w, 4, readings, 1))
             for w in range(4)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    with psycopg.connect(url) as c:
        before = c.execute("SELECT count(*) FROM env_readings").fetchone()[0]  # type: ignore[index]
    started = time.perf_counter()
    for w in workers:
        w.start()

    def drained() -> bool:
        with psycopg.connect(url) as c:
            n = c.execute("SELECT count(*) FROM env_readings").fetchone()[0]  # type: ignore[index]
        return int(n) - int(before) >= readings

    wait_until(drained, 600, "backlog drained", interval=0.05)
    return readings / (time.perf_counter() - started)


def naive_rate(pg: Any, broker: Any, readings: int) -> float:
    url = create_database(pg, "naive")
    with psycopg.connect(url) as conn:
        migrate(conn, "off")
    ready = multiprocessing.Event()
    first = multiprocessing.Process(target=naive_bridge, args=(broker.port, url, 0, ready))
    first.start()  # creates the persistent session, then leaves
    ready.wait(30)
    first.join(30)
    procs = [multiprocessing.Process(target=publish_worker, args=(broker.port, w, 4, readings, 1))
             for w in range(4)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    ready = multiprocessing.Event()
    started = time.perf_counter()
    bridge = multiprocessing.Process(target=naive_bridge, args=(broker.port, url, readings, ready))
    bridge.start()
    bridge.join(900)
    return readings / (time.perf_counter() - started)


def db_ceiling(pg: Any, readings: int, batch_size: int, feed: bool, tmp: Path) -> float:
    url = create_database(pg, f"ceiling_{int(feed)}")
    with psycopg.connect(url) as conn:
        migrate(conn, "off")
    path = tmp / "readings.jsonl"
    start = datetime.now(UTC) - timedelta(days=1)
    with path.open("wb") as out:
        for i in range(readings):
            r = {**reading(i), "dateObserved": (start + timedelta(seconds=i // POLES)).isoformat()}
            out.write(orjson.dumps({"pole": f"B-{i % POLES:04d}", "reading": r}) + b"\n")
    items = []
    now = datetime.now(UTC)
    for line in path.open("rb"):
        record = orjson.loads(line)
        topic = PoleTopic(record["pole"], Family.ENV)
        items.append(ReceivedReading(topic, EnvReading.model_validate(record["reading"]), now))
    with psycopg.connect(url) as conn:
        writer = ReadingWriter(conn, change_feed=feed)
        started = time.perf_counter()
        for i in range(0, readings, batch_size):
            writer.write_batch(items[i : i + batch_size], [])
        return readings / (time.perf_counter() - started)


def _subscribed(worker: IngestProcess) -> Callable[[], bool]:
    return lambda: "subscribed to" in worker.log_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5000,20000")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--batch-max-age-ms", type=int, default=200)
    parser.add_argument("--drain-readings", type=int, default=200_000)
    parser.add_argument("--naive-readings", type=int, default=20_000)
    args = parser.parse_args()
    out: dict[str, Any] = {"benchmark": "ingest_live", "ingest_workers": args.workers,
                           "batch_size": args.batch_size,
                           "batch_max_age_ms": args.batch_max_age_ms}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="smartpole-live-") as tmp:
        work = Path(tmp)
        with running_postgres(work / "pg") as pg, running_mosquitto(work / "mqtt") as broker:
            url = create_database(pg, "bench")
            with psycopg.connect(url) as conn:
                migrate(conn, "off")
            workers = [
                IngestProcess(url, broker.url, work / f"ingest-{n}.log",
                              mqtt_client_id=f"live-ingest-{n}",
                              ingest_batch_size=args.batch_size,
                              ingest_batch_max_age_ms=args.batch_max_age_ms,
                              ingest_stats_interval_s=5)
                for n in range(args.workers)
            ]  # fmt: skip
            for w in workers:
                w.start()
            for w in workers:
                wait_until(_subscribed(w), 30, "subscription")
            pg_pid = int((pg.datadir / "postmaster.pid").read_text().split()[0])
            out["live"] = []
            for rate in (float(r) for r in args.rates.split(",")):
                result = run_live(url, broker, pg_pid, workers, rate=rate, duration_s=args.duration)
                print(result, file=sys.stderr, flush=True)
                out["live"].append(result)
            out["drain_readings_per_s"] = round(drain(url, broker, workers, args.drain_readings))
            for w in workers:
                w.stop()
            out["naive_bridge_readings_per_s"] = round(naive_rate(pg, broker, args.naive_readings))
            with_feed = db_ceiling(pg, args.drain_readings, args.batch_size, True, work)
            without = db_ceiling(pg, args.drain_readings, args.batch_size, False, work)
    out["db_only_ceiling_readings_per_s"] = round(with_feed)
    out["db_only_ceiling_without_feed_readings_per_s"] = round(without)
    out["change_feed_cost_us_per_reading"] = round((1 / with_feed - 1 / without) * 1e6, 3)
    out["drain_ratio_to_db_ceiling"] = round(out["drain_readings_per_s"] / with_feed, 3)
    out["drain_ratio_to_naive_bridge"] = round(
        out["drain_readings_per_s"] / out["naive_bridge_readings_per_s"], 1
    )
    out["targets"] = {"latency_p99_ms_at_20k": 1000, "drain_readings_per_s": 73_000,
                      "drain_ratio_to_db_ceiling": 0.4}  # fmt: skip
    print(orjson.dumps(out).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
