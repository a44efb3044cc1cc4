"""The benchmark datasets, generated once and kept on disk for reuse.

One PostgreSQL cluster under DATA_DIR (default /var/tmp/smartpole-bench, outside
any work tree) holds one database per dataset:

| dataset | poles | days | env rows |
|---|---|---|---|
| `city30` | 1,000 | 30 | 43.2M |
| `year100` | 100 | 365 | 52.6M |

Raw rows are generated server-side (`generate_series`, minutes of env readings,
light every 15 min, Wi-Fi every 5 min, two EV connectors every 5 min). The read
models are then built by the storage layer's own rebuild (`storage.readmodels.
rebuild`, the same SQL a change of `SMARTPOLE_TIMEZONE` runs), not by hours of
writer batches, and `check_against_writer` proves on a sample that the rebuild
equals what the ingest writer keeps incrementally: the sample poles' raw rows
are written again through `ReadingWriter` (shuffled, in batches, with
redeliveries) into a scratch database and every read-model row compared.

    python -m bench.datasets [--dataset city30|year100|all] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from models.catalogue.families import FAMILIES
from models.readings import MODEL_FOR_FAMILY
from models.topics import Family, PoleTopic
from storage.migrate import migrate
from storage.readmodels.rebuild import FIRST_BUILD, rebuild, rebuild_latest
from storage.readmodels.spec import ALL_ROLLUPS, ENV_HOURLY
from storage.writer import ReadingWriter, ReceivedReading
from tests.storage.readmodel_oracle import mismatches
from tests.support.services import PostgresServer, create_database, running_postgres

END = datetime(2026, 11, 1, tzinfo=UTC)
DISTRICTS = 12
DEFAULT_DATA_DIR = Path("/var/tmp/smartpole-bench")
# Larger buffers than the test clusters: the datasets are tens of GB.
SERVER_OPTIONS = "-c shared_buffers=1GB -c maintenance_work_mem=512MB -c work_mem=64MB"


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    poles: int
    days: int

    @property
    def start(self) -> datetime:
        return END - timedelta(days=self.days)


DATASETS = {d.name: d for d in (Dataset("city30", 1000, 30), Dataset("year100", 100, 365))}

RAW_SQL = [
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
           40 + random() * 40, 10, 70, 1013, 50 + random() * 10, 70
    FROM poles p, generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                  - interval '1 minute', interval '1 minute') AS t
    """,
    """
    INSERT INTO light_readings (pole_id, observed_at, received_at, power_state,
                                illuminance_level, active_power, total_active_energy_import,
                                lamp_status)
    SELECT p.pole_id, t, t, s.state, s.level, 40 * s.level,
           extract(epoch FROM t - %(start)s::timestamptz) / 3600 * 0.02, 'ok'
    FROM poles p, generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                  - interval '15 minutes', interval '15 minutes') AS t,
         LATERAL (SELECT CASE WHEN extract(hour FROM t) BETWEEN 6 AND 15 THEN 'off'
                              ELSE 'on' END AS state,
                         CASE WHEN extract(hour FROM t) BETWEEN 6 AND 15 THEN 0.0
                              ELSE 0.8 END::real AS level) s
    """,
    """
    INSERT INTO wifi_readings (pole_id, observed_at, received_at, status, connected_clients,
                               bytes_in, bytes_out)
    SELECT p.pole_id, t, t, 'up', (random() * 20)::int,
           (extract(epoch FROM t - %(start)s::timestamptz) * 1000)::bigint,
           (extract(epoch FROM t - %(start)s::timestamptz) * 4000)::bigint
    FROM poles p, generate_series(%(start)s::timestamptz, %(end)s::timestamptz
                                  - interval '5 minutes', interval '5 minutes') AS t
    """,
    """
    INSERT INTO ev_readings (pole_id, connector_id, observed_at, received_at, status, error_code,
                             charging_power, total_active_energy_import, transaction_id)
    SELECT p.pole_id, c, t, t, s.status, 'NoError', 11,
           extract(epoch FROM t - %(start)s::timestamptz) / 3600,
           CASE WHEN s.status = 'Charging'
                THEN 'tx-' || p.pole_id || '-' || c || '-'
                     || floor(extract(epoch FROM t) / 7200)::text END
    FROM poles p, generate_series(1, 2) AS c,
         generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '5 minutes',
                         interval '5 minutes') AS t,
         LATERAL (SELECT (ARRAY['Available', 'Charging'])[1 + (floor(extract(epoch FROM t)
                          / 7200)::bigint + c + length(p.pole_id)) %% 2] AS status) s
    """,
    "ANALYZE",
]


@contextmanager
def cluster(data_dir: Path) -> Iterator[PostgresServer]:
    with running_postgres(data_dir / "pg", reuse=True, extra_options=SERVER_OPTIONS) as server:
        yield server


def database_url(server: PostgresServer, dataset: Dataset) -> str:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (dataset.name,)
        ).fetchone()
    return server.url(dataset.name) if exists else create_database(server, dataset.name)


def _done(conn: psycopg.Connection[Any], step: str) -> bool:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_dataset (step text PRIMARY KEY, seconds float8,"
        " done_at timestamptz DEFAULT now())"
    )
    return (
        conn.execute("SELECT 1 FROM bench_dataset WHERE step = %s", (step,)).fetchone() is not None
    )


def _record(conn: psycopg.Connection[Any], step: str, seconds: float) -> None:
    conn.execute("INSERT INTO bench_dataset (step, seconds) VALUES (%s, %s)", (step, seconds))


def ensure_raw(url: str, dataset: Dataset) -> dict[str, Any]:
    """The raw rows of `dataset` (generated on the first call only)."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not _done(conn, "raw"):
            migrate(conn, "off")
            started = time.perf_counter()
            params = {"poles": dataset.poles, "start": dataset.start, "end": END}
            for statement in RAW_SQL:
                conn.execute(statement.format(districts=DISTRICTS).encode(), params)
            _record(conn, "raw", time.perf_counter() - started)
        row = conn.execute(
            "SELECT (SELECT count(*) FROM env_readings),"
            " (SELECT seconds FROM bench_dataset WHERE step = 'raw')"
        ).fetchone()
    assert row is not None
    return {"env_rows": row[0], "raw_load_s": round(row[1], 1)}


def ensure_read_models(url: str) -> dict[str, Any]:
    """The hourly env rollup from the raw rows (the rebuild's SQL), then `migrate`,
    which fills the latest tables and every other rollup from them."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not _done(conn, "env_hourly"):
            started = time.perf_counter()
            rebuild(conn, [ENV_HOURLY])
            _record(conn, "env_hourly", time.perf_counter() - started)
        if not _done(conn, "read_models"):
            started = time.perf_counter()
            migrate(conn, "off")
            empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM env_daily)").fetchone()
            if empty and empty[0]:  # a new database: migrate built them before the raw rows
                rebuild(conn, FIRST_BUILD)
                rebuild_latest(conn)
            conn.execute("ANALYZE")
            _record(conn, "read_models", time.perf_counter() - started)
        rows = conn.execute("SELECT step, seconds FROM bench_dataset").fetchall()
    return {f"{step}_s": round(seconds, 1) for step, seconds in rows}


def check_against_writer(server: PostgresServer, url: str, dataset: Dataset) -> dict[str, Any]:
    """Write three poles' raw rows of three days again through the ingest writer
    (shuffled batches, a redelivery) into a scratch database and compare every
    per-pole read-model row of the middle day with the bulk-built dataset."""
    rng = random.Random(3)
    poles = sorted(rng.sample([f"P{n:05d}" for n in range(1, dataset.poles + 1)], 3))
    first = END - timedelta(days=3)
    scratch = f"{dataset.name}_check"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')  # bench-only names
    scratch_url = create_database(server, scratch)
    items: list[ReceivedReading] = []
    with psycopg.connect(url) as source, psycopg.connect(scratch_url, autocommit=True) as target:
        migrate(target, "off")
        target.execute(
            "INSERT INTO poles (pole_id, district) SELECT unnest(%s::text[]), unnest(%s::text[])",
            (poles, [d for (d,) in source.execute(
                "SELECT district FROM poles WHERE pole_id = ANY(%s) ORDER BY pole_id", (poles,)
            )]),
        )  # fmt: skip
        for family, spec in FAMILIES.items():
            if family is Family.STATUS:
                continue
            with source.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    sql.SQL(
                        "SELECT * FROM {} WHERE pole_id = ANY(%s) AND observed_at >= %s"
                    ).format(sql.Identifier(spec.table)),
                    (poles, first),
                )
                for row in cur:
                    items.append(_received(family, row))
    rng.shuffle(items)
    with psycopg.connect(scratch_url) as conn:
        writer = ReadingWriter(conn)
        for start in range(0, len(items), 2000):
            writer.write_batch(items[start : start + 2000], [])
        writer.write_batch(items[:500], [])  # redelivered
    middle = (first + timedelta(days=1), END - timedelta(days=1))
    compared = 0
    problems: list[str] = []
    with psycopg.connect(url) as built, psycopg.connect(scratch_url) as written:
        for rollup in ALL_ROLLUPS:
            if rollup.scope != "pole":
                continue
            query = sql.SQL(
                "SELECT * FROM {} WHERE pole_id = ANY(%s) AND bucket >= %s AND bucket < %s"
            ).format(sql.Identifier(rollup.table))
            rows = {}
            for side, conn in (("built", built), ("written", written)):
                with conn.cursor(row_factory=dict_row) as cur:
                    rows[side] = {
                        tuple(r[k] for k in rollup.key_columns): r
                        for r in cur.execute(query, (poles, *middle))
                    }
            compared += len(rows["built"])
            problems += [f"{rollup.table} {p}" for p in mismatches(rows["built"], rows["written"])]
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{scratch}"')
    if problems:
        raise SystemExit(f"bulk-built read models differ from the writer's: {problems[:5]}")
    return {"sample_poles": poles, "rows_compared": compared, "equal": True}


def _received(family: Family, row: dict[str, Any]) -> ReceivedReading:
    spec = FAMILIES[family]
    values = {f.column: row[f.column] for f in spec.fields}
    reading = MODEL_FOR_FAMILY[family].model_construct(date_observed=row["observed_at"], **values)
    topic = PoleTopic(row["pole_id"], family, row.get("connector_id"))
    return ReceivedReading(topic, reading, row["received_at"])


def prepare(
    server: PostgresServer, dataset: Dataset, *, check: bool = True
) -> tuple[str, dict[str, Any]]:
    """The dataset's database with raw rows and read models; its figures."""
    url = database_url(server, dataset)
    figures = ensure_raw(url, dataset) | ensure_read_models(url)
    if check:
        with psycopg.connect(url, autocommit=True) as conn:
            if not _done(conn, "writer_check"):
                figures["writer_check"] = check_against_writer(server, url, dataset)
                _record(conn, "writer_check", 0.0)
    return url, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=[*DATASETS, "all"], default="all")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    chosen = list(DATASETS.values()) if args.dataset == "all" else [DATASETS[args.dataset]]
    with cluster(args.data_dir) as server:
        for dataset in chosen:
            _, figures = prepare(server, dataset)
            print(dataset.name, figures, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
