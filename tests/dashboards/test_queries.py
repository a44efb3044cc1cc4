"""Run every panel's, variable's and alert's SQL, expanded as Grafana expands it, against
seeded plain PostgreSQL and TimescaleDB, and check the result has the declared shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from dashboards import alerts
from dashboards.boards.common import DEFAULT_TIMEZONE
from dashboards.build import built_dashboards
from dashboards.queries import common, overview, pole_detail, wifi
from dashboards.sql import ColumnKind, PanelSql, Shape
from tests.dashboards.grafana_macros import QueryContext, Variable, expand, panel_interval

TIMESTAMP_OIDS = {1082, 1114, 1184}  # date, timestamp, timestamptz
NUMBER_OIDS = {20, 21, 23, 700, 701, 1700}
TEXT_OIDS = {18, 19, 25, 1042, 1043}
BOOLEAN_OIDS = {16}
RANGES = {"6h": timedelta(hours=6), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class Case:
    label: str
    sql: PanelSql
    min_interval: str | None
    dashboard: bool  # alert queries get no template variables
    variable_mode: str  # "multi" | "single" | "none"


def _cases() -> list[Case]:
    cases = []
    for built in built_dashboards():
        board = built.board.build()
        variables = {v.name for v in (board.templating.list_val or [])}  # type: ignore[union-attr]
        mode = "single" if built.spec.uid == "smartpole-pole" else "multi"
        if "pole" not in variables and "district" not in variables:
            mode = "none"
        for panel, sql in built.layout.panels:
            if sql is None:
                continue
            model = panel.build()
            cases.append(
                Case(
                    f"{built.spec.uid}/{model.id_val}-{model.title}",
                    sql,
                    model.interval,
                    True,
                    mode,
                )
            )
    for rule in alerts.RULES:
        cases.append(Case(f"alert/{rule.uid}", rule.sql, None, False, "none"))
    return cases


CASES = _cases()


def _options(conn: psycopg.Connection[Any], sql: str, ctx: QueryContext) -> tuple[str, ...]:
    rows = conn.execute(expand(sql, ctx).encode()).fetchall()
    return tuple(str(row[0]) for row in rows)


def _context(
    conn: psycopg.Connection[Any], case: Case, span: timedelta, timescaledb: bool
) -> QueryContext:
    # the range ends a little after the newest seeded row (seed uses now())
    end = datetime.now(UTC) + timedelta(minutes=5)
    start = end - span
    base = QueryContext(
        start=start,
        end=end,
        interval=panel_interval(start, end, case.min_interval),
        variables={"tz": Variable((DEFAULT_TIMEZONE,))},
        timescaledb=timescaledb,
    )
    if case.variable_mode == "none":
        return base
    if case.variable_mode == "single":
        variables = {**base.variables, "pole": Variable(("CR-0001",))}
    else:
        # "All" in Grafana: every option the variable's own query returns
        districts = _options(conn, common.VAR_DISTRICTS, base)
        with_districts = QueryContext(
            start,
            end,
            base.interval,
            {**base.variables, "district": Variable(districts, multi=True, include_all=True)},
            timescaledb,
        )
        poles = _options(conn, common.VAR_POLES_IN_DISTRICTS, with_districts)
        variables = {
            **with_districts.variables,
            "pole": Variable(poles, multi=True, include_all=True),
        }
    return QueryContext(start, end, base.interval, variables, timescaledb)


def _kind_matches(kind: ColumnKind, oid: int, name: str) -> bool:
    if kind is ColumnKind.TIME:
        # Grafana converts epoch seconds in a column named "time" ($__timeGroup without
        # TimescaleDB) just like a timestamp
        return oid in TIMESTAMP_OIDS or (name == "time" and oid in NUMBER_OIDS)
    if kind is ColumnKind.NUMBER:
        return oid in NUMBER_OIDS
    if kind is ColumnKind.TEXT:
        return oid in TEXT_OIDS
    return oid in BOOLEAN_OIDS


def check_shape(sql: PanelSql, cursor: psycopg.Cursor[Any], rows: list[tuple[Any, ...]]) -> None:
    assert cursor.description is not None
    names = [col.name for col in cursor.description]
    assert names == [c.name for c in sql.columns]
    for column, described in zip(sql.columns, cursor.description, strict=True):
        assert _kind_matches(column.kind, described.type_code, column.name), (
            f"column {column.name}: type oid {described.type_code} is not {column.kind.value}"
        )
    if sql.shape in (Shape.TIME_SERIES, Shape.TIME_TABLE):
        times = [row[0] for row in rows]
        assert None not in times
        assert times == sorted(times), "Grafana needs time series sorted by time"
    if sql.shape is Shape.SINGLE_ROW:
        assert len(rows) == 1
    if sql.shape is Shape.ALERT:
        label_positions = [i for i, c in enumerate(sql.columns) if c.kind is not ColumnKind.NUMBER]
        labels = [tuple(row[i] for i in label_positions) for row in rows]
        assert len(set(labels)) == len(labels), "alert instances need unique label sets"
        assert all(None not in label for label in labels)


def run_case(conn: psycopg.Connection[Any], case: Case, timescaledb: bool) -> int:
    total = 0
    for span in RANGES.values():
        ctx = _context(conn, case, span, timescaledb)
        expanded = expand(case.sql.sql, ctx, dashboard=case.dashboard)
        with conn.cursor() as cursor:
            cursor.execute(expanded.encode())
            rows = cursor.fetchall()
            check_shape(case.sql, cursor, rows)
        total += len(rows)
    return total


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_query_on_postgresql(seeded_postgres: psycopg.Connection[Any], case: Case) -> None:
    assert run_case(seeded_postgres, case, timescaledb=False) > 0, "the seed covers every panel"


@pytest.mark.timescale
def test_every_query_on_timescaledb(seeded_timescale: psycopg.Connection[Any]) -> None:
    """One test (PGlite takes one connection, starting it per case would be slow)."""
    failures = []
    for case in CASES:
        try:
            assert run_case(seeded_timescale, case, timescaledb=True) > 0, "no rows"
        except (AssertionError, psycopg.Error) as exc:
            failures.append(f"{case.label}: {exc}")
    assert not failures, "\n".join(failures)


def test_timescaledb_expansion_uses_time_bucket() -> None:
    ctx = QueryContext(
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
        timedelta(hours=1),
        {"tz": Variable(("Europe/Berlin",))},
        timescaledb=True,
    )
    expanded = expand(overview.OVERVIEW_ENV_READINGS.sql, ctx)
    assert "time_bucket('3600.000s',g.bucket) AS \"time\"" in expanded
    assert "g.bucket BETWEEN '2026-03-01T00:00:00Z' AND '2026-03-02T00:00:00Z'" in expanded


def test_pole_detail_switches_to_the_rollup_for_long_ranges(
    seeded_postgres: psycopg.Connection[Any],
) -> None:
    case = next(c for c in CASES if c.sql is pole_detail.POLE_AIR)
    plans = {}
    for label, span in RANGES.items():
        ctx = _context(seeded_postgres, case, span, timescaledb=False)
        plan = seeded_postgres.execute(
            ("EXPLAIN (ANALYZE, COSTS OFF) " + expand(case.sql.sql, ctx)).encode()
        ).fetchall()
        plans[label] = "\n".join(str(row[0]) for row in plan)
    # the branch whose range test fails is planned away or never executed
    assert _scans(plans["6h"], "env_readings")
    assert not _scans(plans["6h"], "env_hourly")
    assert _scans(plans["30d"], "env_hourly")
    assert not _scans(plans["30d"], "env_readings")


def _scans(plan: str, table: str) -> bool:
    return any(
        f" on {table}" in line and "never executed" not in line for line in plan.splitlines()
    )


@pytest.mark.parametrize(
    "hostile",
    ["CR-0001' OR '1'='1", "x'; DROP TABLE poles; --", "\\'; SELECT 1; --", "O'Hara"],
)
def test_hostile_variable_values_stay_literals(
    seeded_postgres: psycopg.Connection[Any], hostile: str
) -> None:
    now = datetime.now(UTC)
    for variables in (
        {"pole": Variable((hostile,))},  # single-valued: quotes doubled, quoted by the SQL
        {"district": Variable((hostile,), multi=True), "pole": Variable((hostile,), multi=True)},
    ):
        ctx = QueryContext(
            now - timedelta(days=1),
            now,
            timedelta(hours=1),
            {"tz": Variable((DEFAULT_TIMEZONE,)), **variables},
            timescaledb=False,
        )
        sql = pole_detail.POLE_INFO.sql if "district" not in variables else wifi.WIFI_CLIENTS.sql
        rows = seeded_postgres.execute(expand(sql, ctx).encode()).fetchall()
        assert rows == []
    assert seeded_postgres.execute("SELECT count(*) FROM poles").fetchone() == (4,)
