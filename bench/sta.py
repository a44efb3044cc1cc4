"""SensorThings facade benchmark: latency at a fixed arrival rate, CPU and rows
read per request, each scenario against its nearest /v1 request in the same run.

1. The dataset of bench/datasets.py (default 1,000 poles x 30 days, `city30`);
   --poles/--days make a smaller one of the same shape in its own database.
2. One `smartpole api` (the real CLI, 2 uvicorn workers, response cache off).
3. Per scenario, for the STA request and then its /v1 counterpart: a warm-up,
   then requests at a fixed rate (--rate, 20/s) for --duration seconds
   (latency from each request's scheduled time), CPU milliseconds of the API
   and PostgreSQL process trees and rows read per request.

   - expand: Things?$top=20&$expand=Locations,Datastreams($expand=Observations(
     $top=1;$orderby=phenomenonTime desc)); /v1: /v1/latest?family=env&limit=20
     (env only, no locations: the nearest single /v1 request);
   - day: one Datastream's Observations of one day ($filter on phenomenonTime);
     /v1: /v1/poles/{id}/series/env/pm10?interval=raw of the same day;
   - deep_page: an Observations nextLink more than 10,000 pages (of 100) deep;
     /v1: a series page (cursor) deep in one pole's minutes;
   - count: Datastreams(id)/Observations?$count=true&$top=1; /v1:
     /v1/poles/{id}/series/env/pm10?interval=day&agg=count over the whole range.

Prints one JSON line. A program, not a test: it never fails on a timing.

    python -m bench.sta [--poles 1000 --days 30] [--rate 20] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from api.cursors import encode_cursor
from bench.api import CPUS, Meter, open_loop, running_api, sequential
from bench.datasets import DATASETS, DEFAULT_DATA_DIR, END, Dataset, cluster, prepare
from models.sensorthings.ids import METRIC_STRIDE
from storage.queries.sta import encode_token

TARGET_P99_MS = {"expand": 200, "day": 100, "deep_page": 100, "count": 100}
EXPAND = "Locations,Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))"


def _url(path: str, **params: Any) -> str:
    return str(httpx.URL(path, params=params))


def scenarios(url: str, dataset: Dataset, requests: int, rng: random.Random) -> dict[str, Any]:
    """(STA paths, /v1 paths) per scenario, from the dataset's own ids."""
    with psycopg.connect(url) as conn:
        streams = conn.execute(
            "SELECT s.pole_id, (s.stream_id * 4) * %s + 2 FROM sta_streams s "
            "WHERE s.family = 'env' ORDER BY s.pole_id",
            (METRIC_STRIDE,),
        ).fetchall()  # slot 2: pm10
        bounds = conn.execute(
            "SELECT min(reading_id), max(reading_id) FROM env_readings"
        ).fetchone()
    assert bounds is not None and streams
    low, high = bounds
    day_end = END - timedelta(days=1)
    day = {"from": (day_end - timedelta(days=1)).isoformat(), "to": day_end.isoformat()}
    picks = [rng.choice(streams) for _ in range(requests)]
    things = max(dataset.poles // 20, 1)
    out: dict[str, Any] = {
        "expand": (
            [
                _url(
                    "/sta/v1.1/Things",
                    **{"$top": 20, "$skip": 20 * (i % things), "$expand": EXPAND},
                )
                for i in range(requests)
            ],
            [_url("/v1/latest", family="env", limit=20) for _ in range(requests)],
        ),
        "day": (
            [
                _url(
                    f"/sta/v1.1/Datastreams({ds})/Observations",
                    **{
                        "$top": 1440,
                        "$filter": f"phenomenonTime ge {day['from'].replace('+00:00', 'Z')} "
                        f"and phenomenonTime lt {day['to'].replace('+00:00', 'Z')}",
                    },
                )
                for _, ds in picks
            ],
            [
                _url(f"/v1/poles/{pole}/series/env/pm10", interval="raw", limit=1440, **day)
                for pole, _ in picks
            ],
        ),
        "count": (
            [
                _url(f"/sta/v1.1/Datastreams({ds})/Observations", **{"$count": "true", "$top": 1})
                for _, ds in picks
            ],
            [
                _url(
                    f"/v1/poles/{pole}/series/env/pm10",
                    interval="day",
                    agg="count",
                    **{"from": dataset.start.isoformat(), "to": END.isoformat()},
                )
                for pole, _ in picks
            ],
        ),
    }
    deep: list[str] = []
    v1_deep: list[str] = []
    depth_readings = 10_000 * 100 // 9 + 1  # 9 env metrics a reading: past page 10,000
    for pole, _ in picks:
        reading = rng.randint(low + depth_readings, max(high - 1000, low + depth_readings + 1))
        token = encode_token([reading * METRIC_STRIDE + 9])
        deep.append(
            _url("/sta/v1.1/Observations", **{"$top": 100, "$skip": 1_000_000, "$skiptoken": token})
        )
        # The same depth in a pole's minute series: 10,000 pages of 100 is 1M minutes (~694
        # days); a pole has fewer, so the cursor sits as deep as the dataset allows.
        minutes = int((END - dataset.start).total_seconds() // 60)
        offset = rng.randint(minutes // 2, max(minutes - 200, minutes // 2 + 1))
        after = dataset.start + timedelta(minutes=offset)
        v1_deep.append(
            _url(
                f"/v1/poles/{pole}/series/env/pm10",
                interval="raw",
                limit=100,
                cursor=encode_cursor("series", [after]),
                **{"from": dataset.start.isoformat(), "to": END.isoformat()},
            )
        )
    out["deep_page"] = (deep, v1_deep)
    return out


def measure(
    base: str, paths: list[str], meter: Meter, rate: float, duration: float
) -> dict[str, Any]:
    sequential(base, paths, 30, 10)  # warm-up (buffer cache included)
    before = meter.read()
    loop = asyncio.run(open_loop(base, paths, rate, duration))
    cost = meter.per_request(before, loop["requests"] + loop["errors"])
    return {"open_loop": loop, "per_request": cost}


def _ratio(new: float | None, old: float | None) -> float | None:
    return round(new / old, 3) if new is not None and old else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poles", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--rate", type=float, default=20, help="open-loop requests per second")
    parser.add_argument("--duration", type=float, default=10, help="seconds per open-loop run")
    parser.add_argument("--requests", type=int, default=200, help="distinct URLs per scenario")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--only", help="comma-separated scenario names")
    args = parser.parse_args()
    known = {(d.poles, d.days): d for d in DATASETS.values()}
    dataset = known.get((args.poles, args.days)) or Dataset(
        f"sta_{args.poles}x{args.days}", args.poles, args.days
    )
    with cluster(args.data_dir) as server:
        url, figures = prepare(server, dataset)
        postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
        paths = scenarios(url, dataset, args.requests, random.Random(7))
        if args.only:
            paths = {k: v for k, v in paths.items() if k in args.only.split(",")}
        results: dict[str, Any] = {}
        with running_api(url, args.workers, 0) as (base, pid):
            meter = Meter(url, pid, postmaster)
            for name, (sta, v1) in paths.items():
                ours = measure(base, sta, meter, args.rate, args.duration)
                theirs = measure(base, v1, meter, args.rate, args.duration)
                results[name] = {
                    "sta": ours,
                    "v1": theirs,
                    "ratio_to_v1": {
                        "p50": _ratio(ours["open_loop"]["p50_ms"], theirs["open_loop"]["p50_ms"]),
                        "p99": _ratio(ours["open_loop"]["p99_ms"], theirs["open_loop"]["p99_ms"]),
                        "cpu": _ratio(
                            ours["per_request"]["cpu_ms"], theirs["per_request"]["cpu_ms"]
                        ),
                        "rows_read": _ratio(
                            ours["per_request"]["rows_read"], theirs["per_request"]["rows_read"]
                        ),
                    },
                    "target_p99_ms": TARGET_P99_MS[name],
                }
                print(name, results[name], file=sys.stderr, flush=True)
    print(
        orjson.dumps(
            {
                "bench": "sta",
                "dataset": dataset.name,
                "poles": dataset.poles,
                "days": dataset.days,
                **figures,
                "cache": "off",
                "api_workers": args.workers,
                "cpus": CPUS,
                "scenarios": results,
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
