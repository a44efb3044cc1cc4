"""Open-data API benchmark: latency under 50 concurrent clients, and CSV export rate.

1. Start a throwaway PostgreSQL (the test harness's), migrate, and generate a
   dataset server-side: POLES poles in 12 districts, DAYS days of 1-minute env
   readings (the default 1,000 x 30 days is ~43M rows), the hourly rollup the
   writer keeps, light every 15 min, Wi-Fi every 5 min, two EV connectors every
   5 min.
2. Start `smartpole api` (the real CLI, one uvicorn process) on a free port.
3. For each scenario, CONCURRENCY clients send REQUESTS requests in total and
   the latencies give p50/p99: latest env for all poles; a 7-day hourly series
   of one (random) pole; 30 days of daily per-district averages.
4. Export: stream raw CSV series of several poles, rows per second.

Prints one JSON line. A program, not a test: it never fails on a timing.

    python -m bench.api --quick             # 100 poles x 7 days
    python -m bench.api [--poles 1000] [--days 30] [--requests 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from storage.migrate import migrate
from tests.support.services import create_database, free_port, running_postgres, wait_until

END = datetime(2026, 11, 1, tzinfo=UTC)
DISTRICTS = 12
EXPORT_POLES = 21

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
    """Send `paths` with `concurrency` clients; latency percentiles in ms."""
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

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "errors": errors,
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poles", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="100 poles x 7 days")
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    if args.quick:
        args.poles, args.days = 100, 7
        args.requests = min(args.requests, 1000)
    rng = random.Random(7)
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        running_postgres(Path(tmp) / "pg") as server,
    ):
        url = create_database(server, "bench")
        with psycopg.connect(url) as conn:
            migrate(conn, "off")
        dataset = load_dataset(url, args.poles, args.days)
        port = free_port()
        env = {
            **os.environ,
            "SMARTPOLE_DATABASE_URL": url,
            "SMARTPOLE_API_PORT": str(port),
            "SMARTPOLE_API_POOL_SIZE": "10",
            "SMARTPOLE_API_WORKERS": str(args.workers),
            "SMARTPOLE_API_PAGE_SIZE": "10000",
            "SMARTPOLE_LOG_LEVEL": "WARNING",
        }
        api = subprocess.Popen([sys.executable, "-m", "smartpole.cli", "api"], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _up(base), 60, "the API to start")
            poles = [f"P{n:05d}" for n in range(1, args.poles + 1)]
            week = {"from": (END - timedelta(days=7)).isoformat(), "to": END.isoformat()}
            month = {"from": (END - timedelta(days=30)).isoformat(), "to": END.isoformat()}
            scenarios = {
                "latest_all_poles": [f"/v1/latest?family=env&limit={args.poles}"] * args.requests,
                "series_7d_hourly": [
                    str(httpx.URL(f"/v1/poles/{rng.choice(poles)}/series/env/pm10",
                                  params={**week, "interval": "hour"}))
                    for _ in range(args.requests)
                ],
                "district_daily_30d": [
                    str(httpx.URL("/v1/aggregates/env/pm10",
                                  params={**month, "group": "district", "interval": "day"}))
                ] * args.requests,
            }  # fmt: skip
            results: dict[str, Any] = {}
            for name, paths in scenarios.items():
                asyncio.run(measure(base, paths[: args.concurrency], args.concurrency))  # warm-up
                results[name] = asyncio.run(measure(base, paths, args.concurrency))
            results["export_csv"] = export_rate(base, poles[:EXPORT_POLES], args.days)
        finally:
            api.terminate()
            api.wait(15)
    print(
        orjson.dumps(
            {
                "bench": "api",
                "poles": args.poles,
                "days": args.days,
                **dataset,
                "concurrency": args.concurrency,
                "api_workers": args.workers,
                "requests_per_scenario": args.requests,
                **results,
                "targets": {"p50_ms": 10, "p99_ms": 50, "export_rows_per_s": 200_000},
            }
        ).decode()
    )
    return 0


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
