"""Ingest drain benchmark: how fast does a worker empty a backlog?

1. Start a throwaway PostgreSQL and Mosquitto (the test harness's), migrate.
2. Run the ingest worker once so its persistent session and shared
   subscription exist, then stop it.
3. Queue a backlog for that session while ingest is stopped (several paho
   publisher processes, QoS 1).
4. Start ingest and time until every reading is committed: the drain rate,
   and the CPU seconds each part (ingest workers, Mosquitto, PostgreSQL)
   spent on it, i.e. where a reading's cost goes on this machine.
5. Baseline in the same run: COPY the same rows straight into an identical,
   empty table in batches of the same size (the raw PostgreSQL ceiling).
6. Memory: each worker's peak resident set (VmHWM) over the drain, and,
   as its baseline, the same worker's peak when idle (started, subscribed,
   nothing queued). Bounded ingest shows the same peak whatever the backlog
   (compare --readings 200000 with --readings 1000000).

Prints one JSON line. A program, not a test: it never fails on a timing.

    python -m bench.ingest [--readings 200000] [--per-message 1] [--batch-size 5000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from storage.migrate import migrate
from tests.support.ingest_process import IngestProcess
from tests.support.services import (
    create_database,
    credentials_for_port,
    running_mosquitto,
    running_postgres,
    wait_until,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
POLES = 1000
PUBLISH_WINDOW = 50_000


def reading(index: int) -> dict[str, Any]:
    """Reading number `index`: pole index % POLES, one per minute per pole."""
    return {
        "dateObserved": (START + timedelta(minutes=index // POLES)).isoformat(),
        "pm25": 8.0 + index % 13,
        "pm10": 15.0 + index % 17,
        "no2": 30.0 + index % 23,
        "o3": 50.0 + index % 11,
        "temperature": 7.5,
        "relativeHumidity": 80.0,
        "atmosphericPressure": 1013.0,
        "LAeq": 55.0,
        "LAmax": 70.0,
    }


def messages_for(
    worker: int, workers: int, readings: int, per_message: int
) -> list[tuple[str, bytes]]:
    out = []
    # Walk pole by pole so an array message holds one pole's consecutive readings.
    for pole in range(worker, POLES, workers):
        indexes = list(range(pole, readings, POLES))
        topic = f"smartpole/v1/poles/B-{pole:04d}/env"
        for start in range(0, len(indexes), per_message):
            chunk = [reading(i) for i in indexes[start : start + per_message]]
            out.append((topic, orjson.dumps(chunk[0] if per_message == 1 else chunk)))
    return out


def publish_worker(
    broker: tuple[int, tuple[str, str]],
    worker: int,
    workers: int,
    readings: int,
    per_message: int,
) -> None:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-publisher-{worker}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    port, credentials = broker
    # The test broker's publisher identity: may publish for any pole id.
    client.username_pw_set(*credentials)
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    messages = messages_for(worker, workers, readings, per_message)
    # paho holds at most 65,535 unacknowledged messages (the packet id space):
    # publish in windows below that, each acknowledged before the next.
    for start in range(0, len(messages), PUBLISH_WINDOW):
        infos = [client.publish(t, p, qos=1) for t, p in messages[start : start + PUBLISH_WINDOW]]
        for info in infos:
            info.wait_for_publish(120)
            if not info.is_published():
                raise SystemExit(f"publisher {worker}: the broker did not acknowledge a message")
    client.disconnect()
    client.loop_stop()


def copy_ceiling(url: str, readings: int, batch_size: int) -> float:
    """Rows/s of COPY of the same rows into an empty table shaped like env_readings."""
    columns = (
        "pole_id, observed_at, received_at, pm25, pm10, no2, o3, temperature,"
        " relative_humidity, atmospheric_pressure, laeq, lamax"
    )
    now = datetime.now(UTC)
    rows = []
    for i in range(readings):
        r = reading(i)
        rows.append(
            (f"B-{i % POLES:04d}", START + timedelta(minutes=i // POLES), now, r["pm25"],
             r["pm10"], r["no2"], r["o3"], r["temperature"], r["relativeHumidity"],
             r["atmosphericPressure"], r["LAeq"], r["LAmax"])
        )  # fmt: skip
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE copy_ceiling (LIKE env_readings INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        for start in range(0, readings, batch_size):
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY copy_ceiling ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                # The best COPY psycopg can do (binary), as the ingest writer uses.
                copy.set_types(["text", "timestamptz", "timestamptz", *["float4"] * 9])
                for row in rows[start : start + batch_size]:
                    copy.write_row(row)
            conn.commit()
        return readings / (time.perf_counter() - started)


def process_tree_cpu_seconds(roots: list[int]) -> float:
    """User + system CPU seconds of `roots` and all their living descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the ")" that ends the command name: state, ppid, ...
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # exited meanwhile
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += (int(stats[pid][11]) + int(stats[pid][12])) / ticks  # utime, stime
        todo.extend(children.get(pid, []))
    return total


def wait_for_drain(url: str, readings: int, workers: list[IngestProcess]) -> list[float]:
    """Wait until `readings` rows are stored; returns [time of the first commit]."""
    first_commit: list[float] = []

    def drained() -> bool:
        n = count_rows(url)
        if n and not first_commit:
            first_commit.append(time.perf_counter())
        return n >= readings

    try:
        wait_until(drained, 600, "backlog drained", interval=0.02)
    except TimeoutError:
        for worker in workers:  # their broker and database go away with us
            worker.kill()
        raise
    return first_commit


def count_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM env_readings").fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--per-message", type=int, default=1, help="readings per MQTT message")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument(
        "--workers", type=int, default=2, help="ingest processes in the shared subscription"
    )
    parser.add_argument("--profile", help="write a py-spy profile (raw stacks) of the drain here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="smartpole-bench-") as tmp:
        work = Path(tmp)
        with running_postgres(work / "pg") as pg, running_mosquitto(work / "mqtt") as broker:
            url = create_database(pg, "bench")
            with psycopg.connect(url) as conn:
                migrate(conn, "off")
            workers = [
                IngestProcess(
                    url, broker.url, work / f"ingest-{n}.log",
                    mqtt_client_id=f"bench-ingest-{n}",
                    ingest_batch_size=args.batch_size, ingest_batch_max_age_ms=200,
                    ingest_stats_interval_s=1,
                )
                for n in range(args.workers)
            ]  # fmt: skip
            for worker in workers:  # creates each persistent session and its subscription
                worker.start()
            for worker in workers:
                wait_until(lambda w=worker: "subscribed to" in w.log_text(), 30, "subscription")  # type: ignore[misc]
            time.sleep(2)  # idle, subscribed: the baseline of the memory figures
            idle_peaks = [peak_rss_mib(w) for w in workers]
            for worker in workers:
                worker.stop()

            published_at = time.perf_counter()
            procs = [
                multiprocessing.Process(
                    target=publish_worker,
                    args=(
                        (broker.port, credentials_for_port(broker.port)),
                        w,
                        args.publishers,
                        args.readings,
                        args.per_message,
                    ),
                )
                for w in range(args.publishers)
            ]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            if any(p.exitcode for p in procs):
                raise SystemExit("a publisher failed: the backlog is incomplete")
            publish_s = time.perf_counter() - published_at
            print(
                f"backlog of {args.readings} readings queued in {publish_s:.1f} s", file=sys.stderr
            )

            if args.profile:
                workers[0].wrapper = [
                    "py-spy", "record", "-r", "200", "-o", args.profile, "--format", "raw", "--"
                ]  # fmt: skip
            postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
            groups = {"postgres": [postmaster], "mosquitto": [broker.process.pid]}
            cpu_before = {name: process_tree_cpu_seconds(pids) for name, pids in groups.items()}
            started = time.perf_counter()
            for worker in workers:
                worker.start()
            groups["ingest"] = [w.process.pid for w in workers if w.process is not None]
            first_commit = wait_for_drain(url, args.readings, workers)
            drain_s = time.perf_counter() - started
            cpu_s = {
                name: process_tree_cpu_seconds(pids) - cpu_before.get(name, 0.0)
                for name, pids in groups.items()
            }
            peaks = [peak_rss_mib(w) for w in workers]
            inbox_peaks = [largest_inbox(w) for w in workers]
            connects = [w.log_text().count("connected to") for w in workers]
            for worker in workers:
                worker.stop(signal.SIGINT)  # py-spy writes its profile on SIGINT
            stored = count_rows(url)
            ceiling = copy_ceiling(url, args.readings, args.batch_size)

    drain_rate = args.readings / drain_s
    print(
        orjson.dumps(
            {
                "benchmark": "ingest_drain",
                "readings": args.readings,
                "readings_per_message": args.per_message,
                "batch_size": args.batch_size,
                "ingest_workers": args.workers,
                "stored": stored,
                "drain_seconds": round(drain_s, 2),
                "drain_readings_per_s": round(drain_rate),
                "drain_readings_per_s_after_first_commit": round(
                    args.readings / (time_after(first_commit, started, drain_s))
                ),
                "copy_ceiling_rows_per_s": round(ceiling),
                # VmHWM of each worker: over the drain, and idle (the baseline)
                "peak_rss_mib_per_worker": peaks,
                "idle_peak_rss_mib_per_worker": idle_peaks,
                "peak_rss_ratio_to_idle": round(max(peaks) / max(idle_peaks), 2),
                # the most messages a worker held in memory (its logged counters)
                "largest_inbox_per_worker": inbox_peaks,
                "broker_connects_per_worker": connects,
                "ratio_to_copy_ceiling": round(drain_rate / ceiling, 3),
                # CPU spent during the drain, per part, in µs per reading
                "cpu_us_per_reading": {
                    name: round(seconds / args.readings * 1e6, 2) for name, seconds in cpu_s.items()
                },
            }
        ).decode()
    )


def peak_rss_mib(worker: IngestProcess) -> float:
    """The worker's high-water mark of resident memory so far (VmHWM)."""
    assert worker.process is not None
    status = Path(f"/proc/{worker.process.pid}/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(kib / 1024, 1)


def largest_inbox(worker: IngestProcess) -> int:
    sizes = [int(m) for m in re.findall(r" inbox=(\d+)", worker.log_text())]
    return max(sizes, default=0)


def time_after(first_commit: list[float], started: float, drain_s: float) -> float:
    return drain_s - (first_commit[0] - started) if first_commit else drain_s


if __name__ == "__main__":
    main()
