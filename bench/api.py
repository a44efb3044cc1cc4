"""Open-data API benchmark: latency under 50 concurrent clients, cached and cold,
and CSV export rate.

1. Start a throwaway PostgreSQL (the test harness's), migrate, and generate a
   dataset server-side: POLES poles in 12 districts, DAYS days of 1-minute env
   readings (the default 1,000 x 30 days is ~43M rows), the hourly rollup the
   writer keeps, light every 15 min, Wi-Fi every 5 min, two EV connectors every
   5 min.
2. Start `smartpole api` (the real CLI, WORKERS uvicorn worker processes, 2 by
   default) on a free port, with the response cache on (CACHE_SECONDS).
3. For each scenario, after a warm-up, CONCURRENCY clients keep requesting for
   DURATION seconds: latest env for all poles; a 7-day hourly series of one
   pole (cycling through a list of random poles); 30 days of daily
   per-district averages. p50/p99 latency, requests per second and errors.
4. Export: stream raw CSV series of several poles, rows per second.
5. Restart the API with the cache off (SMARTPOLE_API_CACHE_SECONDS=0) and run
   the same scenarios again: the "cold" figures, what every request costs when
   the cache does not have the answer.

The load generator is wrk (C; `apt-get install wrk`, for this bench only) with
bench/wrk_paths.lua; without wrk, an httpx client in this process sends
REQUESTS requests per scenario instead, which itself needs much of a core at a
few thousand requests per second. The JSON says which one ran, and how much of
the machine's CPU it took.

Prints one JSON line. A program, not a test: it never fails on a timing.

    python -m bench.api --quick             # 100 poles x 7 days
    python -m bench.api [--poles 1000] [--days 30] [--duration 10] [--concurrency 50]
                        [--workers 2] [--cache-seconds S] [--generator auto|wrk|httpx]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from config.services import ApiSettings
from storage.migrate import migrate
from tests.support.services import create_database, free_port, running_postgres, wait_until

END = datetime(2026, 11, 1, tzinfo=UTC)
DISTRICTS = 12
EXPORT_POLES = 21
WARM_UP_S = 2.0
CPUS = os.cpu_count() or 1
WRK_SCRIPT = Path(__file__).with_name("wrk_paths.lua")
DEFAULT_CACHE_SECONDS: float = ApiSettings.model_fields["api_cache_ttl_s"].default

DATASET_SQL = [
    """
    INSERT INTO poles (pole_id, district, latitude, longitude, capabilities, first_seen,
                       last_seen, last_observed_at, status)
    SELECT 'P' || lpad(n::text, 5, '0'), 'District ' || (n %% {districts}),
           52.4 + (n %% 100) * 0.002, 13.3 + (n / 100) * 0.002, '{{env,light,wifi,ev}}',
           %(start)s, %(end)s, %(end)s, 'online'
    FROM generate_series(1, %(poles)s) AS n
    """,
    """
    INSERT INTO env_readings (pole_id, observed_at, received_at, pm25, pm10, no2, o3,
                              temperature, relative_humidity, atmospheric_pressure, laeq, lamax)
    SELECT p.pole_id, t, t, 8 + random() * 10, 15 + random() * 30, 20 + random() * 40,
           40 + random() * 40, 10, 70, 1013, 55, 70
    FROM poles p, generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                  - interval '1 minute', interval '1 minute') AS t
    """,
    """
    INSERT INTO env_hourly
    SELECT pole_id, date_trunc('hour', observed_at, 'UTC'), count(*),
           count(pm25), sum(pm25), min(pm25), max(pm25), count(pm10), sum(pm10), min(pm10),
           max(pm10), count(no2), sum(no2), min(no2), max(no2), count(o3), sum(o3), min(o3),
           max(o3), count(temperature), sum(temperature), min(temperature), max(temperature),
           count(relative_humidity), sum(relative_humidity), min(relative_humidity),
           max(relative_humidity), count(atmospheric_pressure), sum(atmospheric_pressure),
           min(atmospheric_pressure), max(atmospheric_pressure), count(laeq), sum(laeq),
           min(laeq), max(laeq), count(lamax), sum(lamax), min(lamax), max(lamax),
           sum(power(10, laeq / 10.0))
    FROM env_readings GROUP BY 1, 2
    """,
    """
    INSERT INTO light_readings (pole_id, observed_at, received_at, power_state, active_power,
                                lamp_status)
    SELECT p.pole_id, t, t, 'on', 30, 'ok'
    FROM poles p, generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                  - interval '15 minutes', interval '15 minutes') AS t
    """,
    """
    INSERT INTO wifi_readings (pole_id, observed_at, received_at, status, connected_clients)
    SELECT p.pole_id, t, t, 'up', (random() * 20)::int
    FROM poles p, generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                  - interval '5 minutes', interval '5 minutes') AS t
    """,
    """
    INSERT INTO ev_readings (pole_id, connector_id, observed_at, received_at, status, error_code,
                             charging_power, total_active_energy_import)
    SELECT p.pole_id, c, t, t, (ARRAY['Available', 'Charging'])[1 + (random() * 1)::int],
           'NoError', 11, extract(epoch FROM t - %(start)s::timestamptz) / 3600
    FROM poles p, generate_series(1, 2) AS c,
         generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '5 minutes',
                         interval '5 minutes') AS t
    """,
    "ANALYZE",
]


def load_dataset(url: str, poles: int, days: int) -> dict[str, Any]:
    start = END - timedelta(days=days)
    params = {"poles": poles, "start": start, "end": END}
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in DATASET_SQL:
            conn.execute(statement.format(districts=DISTRICTS).encode(), params)
        row = conn.execute("SELECT count(*) FROM env_readings").fetchone()
    assert row is not None
    return {"env_rows": row[0], "load_s": round(time.perf_counter() - started, 1)}


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


def export_rate(base_url: str, pole_ids: list[str], days: int) -> dict[str, float]:
    """Raw pm10 of each pole over the whole dataset, one export after another
    (after one untimed export, so cold caches do not count)."""
    window = {"from": (END - timedelta(days=days)).isoformat(), "to": END.isoformat()}
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
def running_api(url: str, workers: int, cache_seconds: float) -> Iterator[str]:
    """`smartpole api` (the real CLI) on a free port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "SMARTPOLE_DATABASE_URL": url,
        "SMARTPOLE_API_PORT": str(port),
        "SMARTPOLE_API_POOL_SIZE": "10",
        "SMARTPOLE_API_WORKERS": str(workers),
        "SMARTPOLE_API_PAGE_SIZE": "10000",
        "SMARTPOLE_API_CACHE_SECONDS": f"{cache_seconds:g}",
        # One load generator is one client: limits it never reaches, so the
        # figures include what the rate limiter costs per request, not its 429s.
        "SMARTPOLE_API_RATE_LIMIT_PER_S": "1000000000",
        "SMARTPOLE_API_RATE_LIMIT_BURST": "1000000000",
        "SMARTPOLE_LOG_LEVEL": "WARNING",
    }
    api = subprocess.Popen([sys.executable, "-m", "smartpole.cli", "api"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(base), 60, "the API to start")
        yield base
    finally:
        api.terminate()
        api.wait(15)


def pole_ids(poles: int) -> list[str]:
    return [f"P{n:05d}" for n in range(1, poles + 1)]


def scenarios(poles: int, requests: int, rng: random.Random) -> dict[str, list[str]]:
    ids = pole_ids(poles)
    week = {"from": (END - timedelta(days=7)).isoformat(), "to": END.isoformat()}
    month = {"from": (END - timedelta(days=30)).isoformat(), "to": END.isoformat()}
    return {
        "latest_all_poles": [f"/v1/latest?family=env&limit={poles}"] * requests,
        "series_7d_hourly": [
            str(httpx.URL(f"/v1/poles/{rng.choice(ids)}/series/env/pm10",
                          params={**week, "interval": "hour"}))
            for _ in range(requests)
        ],
        "district_daily_30d": [
            str(httpx.URL("/v1/aggregates/env/pm10",
                          params={**month, "group": "district", "interval": "day"}))
        ] * requests,
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
    parser.add_argument("--poles", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="100 poles x 7 days")
    parser.add_argument("--duration", type=float, default=10, help="seconds per scenario (wrk)")
    parser.add_argument(
        "--requests", type=int, default=2000, help="per scenario (httpx fallback; also the "
        "number of random poles the series scenario cycles through)"
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--cache-seconds", type=float, default=DEFAULT_CACHE_SECONDS,
        help="response cache TTL of the cached run (the cold run has none)",
    )  # fmt: skip
    parser.add_argument("--generator", choices=["auto", "wrk", "httpx"], default="auto")
    args = parser.parse_args()
    if args.quick:
        args.poles, args.days = 100, 7
        args.requests = min(args.requests, 1000)
    wrk = shutil.which("wrk") if args.generator != "httpx" else None
    if args.generator == "wrk" and wrk is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    paths = scenarios(args.poles, args.requests, random.Random(7))
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        running_postgres(Path(tmp) / "pg") as server,
    ):
        url = create_database(server, "bench")
        with psycopg.connect(url) as conn:
            migrate(conn, "off")
        dataset = load_dataset(url, args.poles, args.days)
        with running_api(url, args.workers, args.cache_seconds) as base:
            cached = run_scenarios(base, paths, args, wrk, Path(tmp))
            export = export_rate(base, pole_ids(args.poles)[:EXPORT_POLES], args.days)
        with running_api(url, args.workers, 0) as base:
            cold = run_scenarios(base, paths, args, wrk, Path(tmp))
    load = (
        {"generator": _wrk_version(wrk), "duration_s_per_scenario": args.duration}
        if wrk is not None
        else {"generator": "httpx", "requests_per_scenario": args.requests}
    )
    print(
        orjson.dumps(
            {
                "bench": "api",
                "poles": args.poles,
                "days": args.days,
                **dataset,
                "concurrency": args.concurrency,
                "api_workers": args.workers,
                "cpus": CPUS,
                **load,
                "cache_seconds": args.cache_seconds,
                "cached": cached,
                "cold": cold,
                "export_csv": export,
                "targets": {"p50_ms": 10, "p99_ms": 50, "export_rows_per_s": 200_000},
            }
        ).decode()
    )
    return 0


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
