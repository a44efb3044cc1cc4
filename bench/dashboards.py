"""Every panel and alert query of the generated dashboards, timed on a bench dataset.

Each query is expanded as Grafana expands it (`tests/dashboards/grafana_macros.py`)
for a 24-hour, a 7-day and a 90-day range ending at the dataset's end, with the
template variables on All (every district, every pole; Pole detail: the first
pole), and run `--runs` times after one warm-up run; the figure is the median
(p50) in milliseconds. Alert rules run with their own look-back (as Grafana
evaluates them), reported under `rule`. The baseline is the same panels' SQL as
committed at `--baseline` (default 5b38933, before the panels read the read
models), read with `git show` and timed in the same run on the same database,
each query right after its new version.

Prints one JSON line: per query the p50 of each range and the baseline's, the
slowest five, how many stay under the 200 ms target, and the ratios
(baseline / now) per range.

    python -m bench.dashboards [--dataset city30] [--poles N --days D] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml

from bench.datasets import DATASETS, DEFAULT_DATA_DIR, END, Dataset, cluster, prepare
from dashboards.build import all_dashboards
from dashboards.provisioning import generated_files
from tests.dashboards.grafana_macros import QueryContext, Variable, expand, panel_interval

REPO = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "5b38933"
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "90d": timedelta(days=90)}
TARGET_MS = 200.0
ALERTS_FILE = "provisioning/alerting/smartpole.yaml"
# A query slower than this on its warm-up run is timed once more only (the baseline's
# 90-day scans take tens of seconds each).
SLOW_S = 5.0


@dataclass(frozen=True, slots=True)
class Query:
    label: str  # "<dashboard file>/<panel title>[/<refId>]" or "alert/<uid>"
    sql: str
    min_interval: str | None
    variables: tuple[dict[str, Any], ...]  # the dashboard's templating list
    lookback_s: int | None  # alerts: their relative time range


def _queries(boards: dict[str, dict[str, Any]], alert_doc: dict[str, Any]) -> dict[str, Query]:
    out: dict[str, Query] = {}
    for name, board in boards.items():
        templating = tuple(board.get("templating", {}).get("list", []))
        for panel in board.get("panels", []):
            targets = panel.get("targets", [])
            for target in targets:
                label = f"{name.removesuffix('.json')}/{panel['title']}"
                if len(targets) > 1:
                    label += f"/{target['refId']}"
                out[label] = Query(label, target["rawSql"], panel.get("interval"), templating, None)
    for group in alert_doc.get("groups", []):
        for rule in group["rules"]:
            data = rule["data"][0]
            label = f"alert/{rule['uid']}"
            out[label] = Query(
                label, data["model"]["rawSql"], None, (), int(data["relativeTimeRange"]["from"])
            )
    return out


def current_queries() -> dict[str, Query]:
    return _queries(all_dashboards(), yaml.safe_load(generated_files()[ALERTS_FILE]))


def _git_show(commit: str, path: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:dashboards/{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def baseline_queries(commit: str, names: list[str]) -> dict[str, Query]:
    boards = {}
    for name in names:
        text = _git_show(commit, f"json/{name}")
        if text is not None:
            boards[name] = json.loads(text)
    alerts = _git_show(commit, ALERTS_FILE)
    return _queries(boards, yaml.safe_load(alerts) if alerts else {})


def _options(conn: psycopg.Connection[Any], sql: str, ctx: QueryContext) -> tuple[str, ...]:
    return tuple(str(r[0]) for r in conn.execute(expand(sql, ctx).encode()).fetchall())


def context(
    conn: psycopg.Connection[Any], query: Query, start: datetime, end: datetime
) -> QueryContext:
    """The range and the variables as a dashboard opened on All sends them."""
    variables: dict[str, Variable] = {}
    interval = panel_interval(start, end, query.min_interval)
    for variable in query.variables:
        ctx = QueryContext(start, end, interval, variables, timescaledb=False)
        if variable["type"] == "constant":
            variables[variable["name"]] = Variable((str(variable["query"]),))
            continue
        options = _options(conn, variable["query"], ctx)
        if variable.get("multi") or variable.get("includeAll"):
            variables[variable["name"]] = Variable(options, multi=True, include_all=True)
        else:
            variables[variable["name"]] = Variable(options[:1])
    return QueryContext(start, end, interval, variables, timescaledb=False)


def time_query(conn: psycopg.Connection[Any], sql: str, runs: int) -> dict[str, Any]:
    timings = []
    rows = 0
    for attempt in range(runs + 1):
        started = time.perf_counter()
        try:
            rows = len(conn.execute(sql.encode()).fetchall())
        except psycopg.errors.QueryCanceled as exc:
            if "statement timeout" not in str(exc):
                raise  # Ctrl-C: psycopg cancels the query and raises this
            return {"p50_ms": None, "timeout": True}
        except psycopg.Error as exc:
            return {"p50_ms": None, "error": str(exc).splitlines()[0]}
        elapsed = (time.perf_counter() - started) * 1000
        if attempt:  # the first run warms the cache
            timings.append(elapsed)
        elif elapsed > SLOW_S * 1000:
            runs = 1
        if attempt >= runs:
            break
    return {"p50_ms": round(statistics.median(timings), 1), "rows": rows}


def measure(
    conn: psycopg.Connection[Any], queries: dict[str, Query], runs: int
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for label, query in queries.items():
        results: dict[str, Any] = {}
        if query.lookback_s is not None:
            ctx = context(conn, query, END - timedelta(seconds=query.lookback_s), END)
            results["rule"] = time_query(conn, expand(query.sql, ctx, dashboard=False), runs)
        else:
            for name, span in RANGES.items():
                ctx = context(conn, query, END - span, END)
                results[name] = time_query(conn, expand(query.sql, ctx), runs)
        out[label] = results
        print(label, {k: v.get("p50_ms") for k, v in results.items()}, file=sys.stderr, flush=True)
    return out


def _worst(results: dict[str, Any]) -> float:
    values = [r["p50_ms"] for r in results.values()]
    return float("inf") if None in values else max(values)


def _ratios(now: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per range: sum of the baseline's p50 over the sum of today's, over the queries
    timed in both; and the geometric mean of the per-query ratios."""
    out: dict[str, Any] = {}
    for name in [*RANGES, "rule"]:
        pairs = [
            (before[label][name]["p50_ms"], now[label][name]["p50_ms"])
            for label in now
            if label in before
            and name in now[label]
            and name in before[label]
            and now[label][name]["p50_ms"]
            and before[label][name]["p50_ms"]
        ]
        if not pairs:
            continue
        out[name] = {
            "queries": len(pairs),
            "baseline_total_ms": round(sum(b for b, _ in pairs), 1),
            "total_ms": round(sum(n for _, n in pairs), 1),
            "total_ratio": round(sum(b for b, _ in pairs) / sum(n for _, n in pairs), 2),
            "geomean_ratio": round(statistics.geometric_mean([b / n for b, n in pairs]), 2),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=list(DATASETS), default="city30")
    parser.add_argument("--poles", type=int, help="a dataset of this many poles instead")
    parser.add_argument("--days", type=int, help="... and days (with --poles)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE_COMMIT)
    parser.add_argument("--timeout-s", type=int, default=120, help="statement_timeout per query")
    parser.add_argument("--only", help="time only the queries whose label contains this")
    args = parser.parse_args()
    if args.poles:
        dataset = Dataset(f"dash{args.poles}x{args.days}", args.poles, args.days)
    else:
        dataset = DATASETS[args.dataset]

    now_queries = current_queries()
    if args.only:
        now_queries = {k: v for k, v in now_queries.items() if args.only in k}
    boards = sorted({label.split("/")[0] + ".json" for label in now_queries} - {"alert.json"})
    before_queries = baseline_queries(args.baseline, boards)
    if args.only:
        before_queries = {k: v for k, v in before_queries.items() if args.only in k}
    with cluster(args.data_dir) as server:
        url, figures = prepare(server, dataset)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = '{int(args.timeout_s)}s'".encode())
            sizes = conn.execute(
                "SELECT (SELECT count(*) FROM env_readings), (SELECT count(*) FROM ev_readings),"
                " (SELECT count(*) FROM light_readings), (SELECT count(*) FROM wifi_readings)"
            ).fetchone()
            assert sizes is not None
            # query by query, this tree's SQL then the baseline's: a change of the
            # machine's load during the run hits both alike
            now: dict[str, dict[str, Any]] = {}
            before: dict[str, dict[str, Any]] = {}
            for label in now_queries:
                now |= measure(conn, {label: now_queries[label]}, args.runs)
                if label in before_queries:
                    before |= measure(conn, {label: before_queries[label]}, args.runs)
            rest = {k: v for k, v in before_queries.items() if k not in now_queries}
            before |= measure(conn, rest, args.runs)
    slowest = sorted(now, key=lambda label: _worst(now[label]), reverse=True)[:5]
    timed = [r["p50_ms"] for results in now.values() for r in results.values()]
    print(
        json.dumps(
            {
                "bench": "dashboards",
                "dataset": {
                    "name": dataset.name,
                    "poles": dataset.poles,
                    "days": dataset.days,
                    "end": END.isoformat(),
                    "env_rows": sizes[0],
                    "ev_rows": sizes[1],
                    "light_rows": sizes[2],
                    "wifi_rows": sizes[3],
                    "build": {k: v for k, v in figures.items() if k.endswith("_s")},
                },
                "runs": args.runs,
                "baseline": args.baseline,
                "target_ms": TARGET_MS,
                "queries": len(now),
                "timings": len(timed),
                "under_target": sum(1 for t in timed if t is not None and t < TARGET_MS),
                "slowest_five": [
                    {
                        "query": label,
                        "p50_ms": {k: v["p50_ms"] for k, v in now[label].items()},
                        "baseline_p50_ms": {
                            k: v["p50_ms"] for k, v in before.get(label, {}).items()
                        },
                    }
                    for label in slowest
                ],
                "ratio": _ratios(now, before),
                "p50_ms": {
                    label: {k: v["p50_ms"] for k, v in results.items()}
                    for label, results in now.items()
                },
                "baseline_p50_ms": {
                    label: {k: v["p50_ms"] for k, v in results.items()}
                    for label, results in before.items()
                },
                "errors": {
                    label: {k: v for k, v in results.items() if v["p50_ms"] is None}
                    for label, results in {
                        **now,
                        **{"baseline:" + k: v for k, v in before.items()},
                    }.items()
                    if any(v["p50_ms"] is None for v in results.values())
                },
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
