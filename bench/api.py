"""Open-data API benchmark, response cache off: latency at a fixed arrival rate,
CPU and rows read per request against today's implementation, and the
closed-loop figures.

1. The dataset: `city30` (1,000 poles x 30 days, 43M env rows) or `year100`
   (100 poles x 365 days, 53M env rows), generated once and kept under
   --data-dir (bench/datasets.py: raw rows server-side, read models by the
   storage layer's rebuild, checked against the ingest writer on a sample); or
   --quick, 100 poles x 7 days in a throwaway cluster.
2. Two `smartpole api` servers (the real CLI, 2 uvicorn workers each, cache
   off) on the same database: this tree, and the baseline, the code at
   --baseline-rev (default: the commit before the read models) unpacked with
   `git archive`.
3. Per scenario:
   (a) open loop: requests at a fixed rate (--rate, 100/s) for --duration
       seconds, latency measured from each request's scheduled time, so a
       slow server is not hidden by a load generator that waits for it;
   (b) CPU milliseconds per request of the API processes and of PostgreSQL
       (from /proc), and rows read per request (pg_stat_user_tables: rows
       read by sequential and index scans), for this tree at the fixed rate
       and for the baseline one request at a time (it cannot keep up);
   (c) closed loop: wrk, 50 connections, this tree.
4. Export: CSV rows per second.

Prints one JSON line. A program, not a test: it never fails on a timing.

    python -m bench.api --dataset city30|year100 [--rate 100] [--duration 10]
    python -m bench.api --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from bench.datasets import DATASETS, DEFAULT_DATA_DIR, END, Dataset, cluster, prepare
from bench.ingest import process_tree_cpu_seconds
from config.services import ApiSettings
from tests.support.services import free_port, wait_until

DISTRICTS = 12
EXPORT_POLES = 11
WARM_UP_S = 2.0
CPUS = os.cpu_count() or 1
WRK_SCRIPT = Path(__file__).with_name("wrk_paths.lua")
DEFAULT_CACHE_SECONDS: float = ApiSettings.model_fields["api_cache_ttl_s"].default
# The last commit before the read models: "today's implementation".
BASELINE_REV = "fe434fa"
# Backends flush their table statistics at most every second, and when idle
# only after 10 s: wait that long before reading them.
STATS_FLUSH_S = 11.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(base_url: str, paths: list[str], concurrency: int) -> dict[str, float]:
    """The httpx fallback: send `paths` with `concurrency` clients; latency in ms."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                path = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    await response.aread()
                except httpx.TransportError:  # a dropped connection is a failed request
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200

        cpu = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "requests": len(latencies),
        "errors": errors,
        "generator_cpu_share": round(cpu / (elapsed * CPUS), 2),
    }


def wrk_measure(
    wrk: str, base_url: str, paths: list[str], *, concurrency: int, duration_s: float, tmp: Path
) -> dict[str, float]:
    """Run wrk (one thread, `concurrency` connections) for `duration_s`, cycling
    through `paths`; its done() hook prints the figures as JSON."""
    path_file = tmp / "wrk-paths.txt"
    path_file.write_text("\n".join(dict.fromkeys(paths)) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [wrk, "--latency", "-t", "1", "-c", str(concurrency), "-d", f"{duration_s:g}s"]
    command += ["--timeout", "60s", "-s", str(WRK_SCRIPT), base_url, "--", str(path_file)]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in run.stdout.splitlines() if x.startswith("WRK_JSON "))
    stats = orjson.loads(line.removeprefix("WRK_JSON "))
    seconds = stats["duration_us"] / 1e6
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "p50_ms": round(stats["p50_us"] / 1000, 2),
        "p99_ms": round(stats["p99_us"] / 1000, 2),
        "requests_per_s": round(stats["requests"] / seconds, 1),
        "requests": stats["requests"],
        "errors": sum(stats["errors"].values()),
        "generator_cpu_share": round(cpu / (seconds * CPUS), 2),
    }


async def open_loop(
    base_url: str, paths: list[str], rate: float, duration_s: float
) -> dict[str, Any]:
    """Requests at a fixed rate, each on a free keep-alive connection (a new one
    when all are busy): latency from its scheduled time to the last byte."""
    host, port = base_url.removeprefix("http://").split(":")
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors = 0
    total = int(rate * duration_s)

    async def one(path: str, due: float) -> None:
        nonlocal errors
        # A kept-alive connection the server closed meanwhile (idle timeout) is
        # the client's problem, not a failed request: retry once on a new one.
        for attempt in (1, 2):
            reused = bool(idle) and attempt == 1
            reader, writer = (
                idle.pop() if reused else await asyncio.open_connection(host, int(port))
            )
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
                writer.close()
                if reused:
                    continue
                errors += 1
                return
            latencies.append((time.perf_counter() - due) * 1000)
            errors += status != 200
            idle.append((reader, writer))
            return

    cpu = time.process_time()
    started = time.perf_counter()
    tasks = []
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(paths[i % len(paths)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    for _, writer in idle:
        writer.close()
    return {
        "rate_per_s": rate,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
        "requests": len(latencies),
        "errors": errors,
        "achieved_per_s": round(len(latencies) / elapsed, 1),
        "generator_cpu_share": round((time.process_time() - cpu) / (elapsed * CPUS), 3),
    }


def sequential(base_url: str, paths: list[str], max_requests: int, max_s: float) -> tuple[int, int]:
    """One request at a time until `max_requests` or `max_s`; returns how many,
    and how many failed (e.g. 503: the API cancelled a query after 30 s)."""
    done = failed = 0
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=600) as client:
        while done < max_requests and time.perf_counter() - started < max_s:
            failed += client.get(paths[done % len(paths)]).status_code != 200
            done += 1
    return done, failed


def rows_read(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)"
            " FROM pg_stat_user_tables"
        ).fetchone()
    return int(row[0]) if row else 0


class Meter:
    """CPU seconds of the API and PostgreSQL process trees, and rows read."""

    def __init__(self, url: str, api_pid: int, postmaster: int) -> None:
        self.url, self.api_pid, self.postmaster = url, api_pid, postmaster

    def read(self) -> tuple[float, float, int]:
        return (
            process_tree_cpu_seconds([self.api_pid]),
            process_tree_cpu_seconds([self.postmaster]),
            rows_read(self.url),
        )

    def per_request(self, before: tuple[float, float, int], requests: int) -> dict[str, float]:
        time.sleep(STATS_FLUSH_S)
        api, pg, rows = self.read()
        n = max(requests, 1)
        return {
            "api_cpu_ms": round((api - before[0]) / n * 1000, 3),
            "pg_cpu_ms": round((pg - before[1]) / n * 1000, 3),
            "cpu_ms": round((api - before[0] + pg - before[1]) / n * 1000, 3),
            "rows_read": round((rows - before[2]) / n, 1),
        }


def export_rate(
    base_url: str, pole_ids: list[str], start: datetime, end: datetime
) -> dict[str, float]:
    """Raw pm10 of each pole over the whole dataset, one export after another
    (after one untimed export, so cold caches do not count)."""
    window = {"from": start.isoformat(), "to": end.isoformat()}
    with httpx.Client(base_url=base_url, timeout=600) as client:
        warm_up = f"/v1/poles/{pole_ids[-1]}/series/env/pm10/export.csv"
        client.get(warm_up, params={**window, "interval": "raw"}).raise_for_status()
        rows = 0
        started = time.perf_counter()
        for pole in pole_ids[:-1]:
            path = f"/v1/poles/{pole}/series/env/pm10/export.csv"
            with client.stream("GET", path, params={**window, "interval": "raw"}) as response:
                for chunk in response.iter_bytes():
                    rows += chunk.count(b"\n")
            rows -= 1  # the header line
    elapsed = time.perf_counter() - started
    return {"rows": rows, "rows_per_s": round(rows / elapsed)}


@contextmanager
def running_api(
    url: str, workers: int, cache_seconds: float, tree: Path | None = None
) -> Iterator[tuple[str, int]]:
    """`smartpole api` (the real CLI) on a free port, from this tree or `tree`;
    yields its base URL and pid."""
    port = free_port()
    env = {
        **os.environ,
        "SMARTPOLE_DATABASE_URL": url,
        "SMARTPOLE_API_PORT": str(port),
        "SMARTPOLE_API_POOL_SIZE": "10",
        "SMARTPOLE_API_WORKERS": str(workers),
        "SMARTPOLE_API_PAGE_SIZE": "10000",
        "SMARTPOLE_API_CACHE_SECONDS": f"{cache_seconds:g}",
        "SMARTPOLE_API_CACHE_TTL_S": f"{cache_seconds:g}",
        # One load generator is one client: limits it never reaches, so the
        # figures include what the rate limiter costs per request, not its 429s.
        "SMARTPOLE_API_RATE_LIMIT_PER_S": "1000000000",
        "SMARTPOLE_API_RATE_LIMIT_BURST": "1000000000",
        "SMARTPOLE_LOG_LEVEL": "WARNING",
    }
    api = subprocess.Popen(
        [sys.executable, "-m", "smartpole.cli", "api"], env=env, cwd=tree or Path.cwd()
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(base), 60, "the API to start")
        yield base, api.pid
    finally:
        api.terminate()
        api.wait(15)


def pole_ids(poles: int) -> list[str]:
    return [f"P{n:05d}" for n in range(1, poles + 1)]


def scenarios(dataset: Dataset, requests: int, rng: random.Random) -> dict[str, list[str]]:
    ids = pole_ids(dataset.poles)
    end = END

    def window(days: int) -> dict[str, str]:
        return {"from": (end - timedelta(days=days)).isoformat(), "to": end.isoformat()}

    def url(path: str, **params: Any) -> str:
        return str(httpx.URL(path, params=params))

    def per_pole(path: str, **params: Any) -> list[str]:
        return [url(path.format(pole=rng.choice(ids)), **params) for _ in range(requests)]

    env_pm10 = "/v1/poles/{pole}/series/env/pm10"
    return {
        "latest_all_poles": [f"/v1/latest?family=env&limit={dataset.poles}"],
        "pole_latest": per_pole("/v1/poles/{pole}/latest"),
        "health_all_poles": [f"/v1/health/poles?limit={dataset.poles}"],
        "connectors_now": [url("/v1/ev/connectors", status="Available", limit=10000)],
        "raw_series_1d": per_pole(env_pm10, **window(1), interval="raw"),
        "series_7d_hourly": per_pole(env_pm10, **window(7), interval="hour"),
        "pole_daily_year": per_pole(env_pm10, **window(365), interval="day"),
        "district_daily_30d": [
            url("/v1/aggregates/env/pm10", **window(30), group="district", interval="day")
        ],
        "city_daily_year": [
            url("/v1/aggregates/env/pm10", **window(365), group="city", interval="day")
        ],
        "ev_energy_district_daily_30d": [
            url("/v1/ev/energy", **window(30), group="district", interval="day")
        ],
        "exceedances_year": [url("/v1/air-quality/exceedances", year=2026, limit=1000)],
    }  # fmt: skip


def run_scenarios(
    base: str, paths: dict[str, list[str]], args: argparse.Namespace, wrk: str | None, tmp: Path
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, scenario in paths.items():
        if wrk is not None:
            for duration_s in (WARM_UP_S, args.duration):  # the first is the warm-up
                results[name] = wrk_measure(
                    wrk,
                    base,
                    scenario,
                    concurrency=args.concurrency,
                    duration_s=duration_s,
                    tmp=tmp,
                )
        else:
            asyncio.run(measure(base, scenario[: args.concurrency], args.concurrency))  # warm-up
            results[name] = asyncio.run(measure(base, scenario, args.concurrency))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=list(DATASETS), default="city30")
    parser.add_argument("--quick", action="store_true", help="100 poles x 7 days, throwaway")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--rate", type=float, default=100, help="open-loop requests per second")
    parser.add_argument("--duration", type=float, default=10, help="seconds per open-loop run")
    parser.add_argument("--closed-duration", type=float, default=5, help="seconds per wrk run")
    parser.add_argument("--requests", type=int, default=500, help="distinct URLs per scenario")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="'' for no baseline")
    parser.add_argument("--baseline-requests", type=int, default=20)
    parser.add_argument("--baseline-seconds", type=float, default=10)
    parser.add_argument("--only", help="comma-separated scenario names")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        data_dir = Path(tmp) if args.quick else args.data_dir
        dataset = Dataset("quick", 100, 7) if args.quick else DATASETS[args.dataset]
        with cluster(data_dir) as server:
            url, figures = prepare(server, dataset)
            baseline = _baseline_tree(args.baseline_rev, Path(tmp)) if args.baseline_rev else None
            postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
            paths = scenarios(dataset, args.requests, random.Random(7))
            if args.only:
                paths = {k: v for k, v in paths.items() if k in args.only.split(",")}
            results: dict[str, Any] = {}
            with running_api(url, args.workers, 0) as (base, pid):
                ours = Meter(url, pid, postmaster)
                for name, scenario in paths.items():
                    sequential(base, scenario, 50, 10)  # warm-up (buffer cache included)
                    before = ours.read()
                    loop = asyncio.run(open_loop(base, scenario, args.rate, args.duration))
                    cost = ours.per_request(before, loop["requests"] + loop["errors"])
                    results[name] = {"open_loop": loop, "per_request": cost}
                    print(name, results[name], file=sys.stderr, flush=True)
                # After all the costs: a closed-loop run's table statistics arrive late
                # (a backend flushes them up to 10 s after) and would count in the next.
                for name, scenario in paths.items():
                    results[name]["closed_loop"] = (
                        wrk_measure(wrk, base, scenario, concurrency=args.concurrency,
                                    duration_s=args.closed_duration, tmp=Path(tmp))
                        if wrk else None
                    )  # fmt: skip
                export = export_rate(
                    base,
                    pole_ids(dataset.poles)[:EXPORT_POLES],
                    END - timedelta(days=min(dataset.days, 30)),
                    END,
                )
            if baseline is not None:
                with running_api(url, args.workers, 0, tree=baseline) as (old_base, old_pid):
                    theirs = Meter(url, old_pid, postmaster)
                    for name, scenario in paths.items():
                        sequential(old_base, scenario, 1, 120)  # warm-up
                        before = theirs.read()
                        n, failed = sequential(
                            old_base, scenario, args.baseline_requests, args.baseline_seconds
                        )
                        old = theirs.per_request(before, n)
                        new = results[name]["per_request"]
                        results[name]["baseline_per_request"] = {
                            **old,
                            "requests": n,
                            "errors": failed,
                        }
                        results[name]["ratio_to_baseline"] = {
                            "cpu": _ratio(new["cpu_ms"], old["cpu_ms"]),
                            "rows_read": _ratio(new["rows_read"], old["rows_read"]),
                        }
                        print(name, "baseline", old, file=sys.stderr, flush=True)
    print(
        orjson.dumps(
            {
                "bench": "api",
                "dataset": dataset.name,
                "poles": dataset.poles,
                "days": dataset.days,
                **figures,
                "cache": "off",
                "api_workers": args.workers,
                "cpus": CPUS,
                "baseline_rev": args.baseline_rev or None,
                "closed_loop": {"generator": _wrk_version(wrk) if wrk else None,
                                "connections": args.concurrency, "seconds": args.closed_duration},
                "scenarios": results,
                "export_csv": export,
                "targets": {"open_loop_p99_ms": 100, "export_rows_per_s": 200_000},
            }
        ).decode()
    )  # fmt: skip
    return 0


def _ratio(new: float, old: float) -> float | None:
    return round(new / old, 4) if old else None


def _baseline_tree(rev: str, tmp: Path) -> Path:
    """The code at `rev`, unpacked (git archive) where its API can run from."""
    tree = tmp / f"baseline-{rev}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _wrk_version(wrk: str) -> str:
    # `wrk --version` prints "wrk 4.1.0 [epoll] ..." and exits non-zero.
    run = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    words = (run.stdout or run.stderr).split()
    return " ".join(words[:2]) if words else "wrk"


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
