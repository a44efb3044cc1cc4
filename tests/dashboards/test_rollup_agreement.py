"""The rollup-backed panel queries give the numbers the raw rows give.

Every panel that reads a rollup beyond a short range (or from the district and city
totals) is run, expanded as Grafana expands it, on the seeded databases, and compared
bucket by bucket with the raw rows: either the panel's own raw branch (forced by
replacing its branch guard with true or false: the guards are the constants of
`dashboards.queries.common`) or a reference written here over the raw table.

Measures between consecutive readings (meters, burn time, sessions) are compared on
a whole local day with an hour of readings on either side in the range: the raw branch
only sees predecessors inside the range, the rollup every stored one, so the range's
first and last buckets legitimately differ.
"""

# S608: test SQL assembled from constant fragments, no values.
# ruff: noqa: S608

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from dashboards.boards.common import DEFAULT_TIMEZONE
from dashboards.domain import OCCUPIED_CONNECTOR_STATES
from dashboards.queries import common, environment, ev, lighting, overview, pole_detail, wifi
from dashboards.sql import PanelSql
from models.catalogue.families import ENV
from storage.readmodels.rebuild import recorded_zone
from tests.dashboards.grafana_macros import QueryContext, Variable, expand
from tests.dashboards.seed import DISTRICTS, POLES

TZ = ZoneInfo(DEFAULT_TIMEZONE)
REL = 1e-9

# Which guard picks which source: forcing a branch replaces its guard with a constant.
RAW_BRANCH = {common.RAW_RANGE: "true", common.ROLLUP_RANGE: "false"}
ROLLUP_BRANCH = {common.RAW_RANGE: "false", common.ROLLUP_RANGE: "true"}
RAW_DAYS = {common.NOT_IN_ROLLUP_ZONE: "true", common.IN_ROLLUP_ZONE: "false"}
POLE_ROWS = {common.ALL_POLES_PICKED: "false"}


def _force(sql: str, guards: dict[str, str]) -> str:
    # longest first: a guard may contain another (NOT_IN_ROLLUP_ZONE holds IN_ROLLUP_ZONE)
    for guard in sorted(guards, key=len, reverse=True):
        assert guard in sql, guard
        sql = sql.replace(guard, guards[guard])
    return sql


def _context(
    start: datetime,
    end: datetime,
    interval: timedelta,
    timescaledb: bool,
    poles: tuple[str, ...] = POLES,
    **extra: Variable,
) -> QueryContext:
    districts = (*DISTRICTS, common.UNASSIGNED)
    return QueryContext(
        start,
        end,
        interval,
        {
            "tz": Variable((DEFAULT_TIMEZONE,)),
            "district": Variable(districts, multi=True, include_all=True),
            "pole": Variable(poles, multi=True, include_all=True),
            **extra,
        },
        timescaledb,
    )


def _run(conn: psycopg.Connection[Any], sql: str, ctx: QueryContext) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(expand(sql, ctx).encode())
        return cur.fetchall()


def _time(value: Any) -> datetime:
    """A "time" value as Grafana reads it: timestamptz, or epoch seconds."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


def _keyed(rows: list[dict[str, Any]], *labels: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    out = {}
    for row in rows:
        key = tuple(_time(row[k]) if k == "time" else row[k] for k in labels)
        assert key not in out, f"two rows for {key}"
        out[key] = row
    return out


def _assert_same(
    rolled: dict[tuple[Any, ...], dict[str, Any]],
    raw: dict[tuple[Any, ...], dict[str, Any]],
    columns: tuple[str, ...],
    keys: set[tuple[Any, ...]] | None = None,
) -> int:
    compared = set(raw) if keys is None else keys
    assert compared, "nothing to compare"
    assert compared <= set(rolled), f"rollup lacks {sorted(compared - set(rolled))[:3]}"
    assert compared <= set(raw), f"raw lacks {sorted(compared - set(raw))[:3]}"
    for key in compared:
        for column in columns:
            a, b = rolled[key][column], raw[key][column]
            assert a is not None and b is not None, (key, column)
            assert math.isclose(float(a), float(b), rel_tol=REL, abs_tol=1e-9), (
                key,
                column,
                a,
                b,
            )
    return len(compared)


def _whole_day() -> tuple[datetime, datetime]:
    """The newest local day whose readings, and an hour of readings before and after
    it, the seed holds (its readings run from now - 3 days to now)."""
    now = datetime.now(UTC)
    day = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    while True:
        start, end = day.astimezone(UTC), (day + timedelta(days=1)).replace(tzinfo=TZ)
        end = end.astimezone(UTC)
        if end + timedelta(hours=1) <= now and start - timedelta(hours=1) >= now - timedelta(
            days=3, minutes=-30
        ):
            return start, end
        day = (day - timedelta(days=1)).replace(tzinfo=TZ)


@pytest.fixture(params=["postgresql", pytest.param("timescaledb", marks=pytest.mark.timescale)])
def seeded(request: pytest.FixtureRequest) -> tuple[psycopg.Connection[Any], bool]:
    fixture = "seeded_postgres" if request.param == "postgresql" else "seeded_timescale"
    conn = request.getfixturevalue(fixture)
    # the rollups' local days are the dashboards' $tz: the rollup branches are the live ones
    assert recorded_zone(conn) == DEFAULT_TIMEZONE
    return conn, request.param == "timescaledb"


# --- district and city totals --------------------------------------------------------------


def _raw_env_by_district(field_sql: str) -> str:
    return f"""SELECT date_trunc('hour', e.observed_at) AS time, {common.DISTRICT} AS metric,
       {field_sql} AS value
FROM env_readings e JOIN poles p ON p.pole_id = e.pole_id
WHERE $__timeFilter(e.observed_at) AND {common.IN_POLES}
GROUP BY 1, 2"""


@pytest.mark.parametrize("measure", ["pm10", "laeq"])
def test_district_panel_from_the_district_rollup_equals_raw_rows(
    seeded: tuple[psycopg.Connection[Any], bool], measure: str
) -> None:
    conn, timescaledb = seeded
    field = ENV.field(measure)
    panel = environment.env_by(field, "district")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(seconds=1)
    ctx = _context(end - timedelta(days=3, hours=-1), end, timedelta(hours=1), timescaledb)
    rolled = _keyed(_run(conn, panel.sql, ctx), "time", "metric")
    raw = _keyed(
        _run(conn, _raw_env_by_district(common.raw_aggregate(field)), ctx), "time", "metric"
    )
    raw = {k: {measure: v["value"]} for k, v in raw.items()}
    assert {m for _, m in raw} == {*DISTRICTS}
    assert _assert_same(rolled, raw, (measure,)) > 3 * 24

    # some poles unpicked: the picked poles' hourly rows, still equal to their raw rows
    picked = ("CR-0001", "CR-0003", "CR-0004")
    subset = _context(ctx.start, ctx.end, ctx.interval, timescaledb, picked)
    rolled = _keyed(_run(conn, panel.sql, subset), "time", "metric")
    raw = _keyed(
        _run(conn, _raw_env_by_district(common.raw_aggregate(field)), subset), "time", "metric"
    )
    raw = {k: {measure: v["value"]} for k, v in raw.items()}
    assert _assert_same(rolled, raw, (measure,)) > 0
    # and that branch is the per-pole one: with every pole it gives the totals too
    everyone = _keyed(_run(conn, _force(panel.sql, POLE_ROWS), ctx), "time", "metric")
    totals = _keyed(_run(conn, panel.sql, ctx), "time", "metric")
    assert _assert_same(totals, everyone, (measure,), set(everyone)) > 0


def test_city_readings_from_the_city_rollup_equal_raw_rows(
    seeded: tuple[psycopg.Connection[Any], bool],
) -> None:
    conn, timescaledb = seeded
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(seconds=1)
    ctx = _context(end - timedelta(days=30), end, timedelta(hours=1), timescaledb)
    rolled = _keyed(_run(conn, overview.OVERVIEW_ENV_READINGS.sql, ctx), "time")
    raw = _keyed(
        _run(
            conn,
            """SELECT date_trunc('hour', e.observed_at) AS time, count(*) AS env_readings
FROM env_readings e WHERE $__timeFilter(e.observed_at) GROUP BY 1""",
            ctx,
        ),
        "time",
    )
    assert _assert_same(rolled, raw, ("env_readings",)) > 3 * 24
    assert set(rolled) == set(raw)


def test_pole_panel_beyond_two_days_is_daily_means_of_raw_rows(
    seeded: tuple[psycopg.Connection[Any], bool],
) -> None:
    conn, timescaledb = seeded
    field = ENV.field("laeq")
    end = datetime.now(UTC) + timedelta(minutes=5)
    ctx = _context(end - timedelta(days=30), end, timedelta(hours=3), timescaledb)
    rolled = _keyed(_run(conn, environment.env_by(field, "pole").sql, ctx), "time", "metric")
    raw = _keyed(
        _run(
            conn,
            f"""SELECT {common.local_day("e.observed_at")} AS time, e.pole_id AS metric,
       {common.raw_aggregate(field)} AS laeq
FROM env_readings e WHERE e.observed_at >= $__timeFrom()::timestamptz
GROUP BY 1, 2""",
            ctx,
        ),
        "time",
        "metric",
    )
    # one point per pole and local day (the 20-day-old hours included)
    assert _assert_same(rolled, raw, ("laeq",)) >= 4 * 3 + 1
    assert set(rolled) == set(raw)


# --- EV energy and sessions, lighting, Wi-Fi -----------------------------------------------


def _day_case(
    conn: psycopg.Connection[Any], timescaledb: bool, panel: PanelSql, *labels: str
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[tuple[Any, ...], dict[str, Any]], datetime]:
    start, end = _whole_day()
    ctx = _context(
        start - timedelta(hours=1), end + timedelta(hours=1), timedelta(hours=1), timescaledb
    )
    rolled = _keyed(_run(conn, panel.sql, ctx), "time", *labels)
    raw = _keyed(_run(conn, _force(panel.sql, RAW_DAYS), ctx), "time", *labels)
    return rolled, raw, start


def test_ev_energy_and_sessions_per_day_from_the_rollup_equal_raw_rows(
    seeded: tuple[psycopg.Connection[Any], bool],
) -> None:
    conn, timescaledb = seeded
    rolled, raw, day = _day_case(conn, timescaledb, ev.EV_DAILY)
    assert _assert_same(rolled, raw, ("sessions", "energy"), {(day,)}) == 1
    assert raw[(day,)]["sessions"] > 0 and raw[(day,)]["energy"] > 0


@pytest.mark.parametrize(
    ("panel", "column"),
    [(lighting.LIGHT_BURN_HOURS, "burn_hours"), (lighting.LIGHT_ENERGY, "energy")],
    ids=["burn_hours", "energy"],
)
def test_lighting_per_district_day_from_the_rollup_equals_raw_rows(
    seeded: tuple[psycopg.Connection[Any], bool], panel: PanelSql, column: str
) -> None:
    conn, timescaledb = seeded
    rolled, raw, day = _day_case(conn, timescaledb, panel, "metric")
    keys = {k for k in raw if k[0] == day}
    assert {m for _, m in keys} == {*DISTRICTS}
    assert _assert_same(rolled, raw, (column,), keys) == len(DISTRICTS)
    assert all(raw[k][column] > 0 for k in keys)


@pytest.mark.parametrize(
    ("panel", "labels", "columns"),
    [
        (wifi.WIFI_CLIENTS, ("time", "metric"), ("clients",)),
        (wifi.WIFI_TRAFFIC, ("time", "metric"), ("received", "sent")),
        (wifi.WIFI_HOUR_OF_DAY, ("hour",), ("clients",)),
        (pole_detail.POLE_WIFI, ("time",), ("clients",)),
    ],
    ids=["clients", "traffic", "hour_of_day", "pole_detail"],
)
def test_wifi_beyond_two_days_from_the_hourly_rollup_equals_raw_rows(
    seeded: tuple[psycopg.Connection[Any], bool],
    panel: PanelSql,
    labels: tuple[str, ...],
    columns: tuple[str, ...],
) -> None:
    conn, timescaledb = seeded
    start, end = _whole_day()
    # an hour either side: the raw branch sees each reading's predecessor
    ctx = _context(
        start - timedelta(hours=1),
        end + timedelta(hours=1) - timedelta(seconds=1),
        timedelta(hours=1),
        timescaledb,
        pole=Variable(("CR-0001",)),
    )
    if panel is not pole_detail.POLE_WIFI:
        ctx = _context(ctx.start, ctx.end, ctx.interval, timescaledb)
    if labels == ("hour",):
        # hours of the day: the range must be whole hours (no partial edge hours)
        ctx = _context(start, end - timedelta(seconds=1), ctx.interval, timescaledb)
    rolled = _keyed(_run(conn, _force(panel.sql, ROLLUP_BRANCH), ctx), *labels)
    raw = _keyed(_run(conn, _force(panel.sql, RAW_BRANCH), ctx), *labels)
    if labels[0] == "time":
        keys = {k for k in raw if start <= k[0] < end}
    else:
        keys = set(raw)
        assert len(keys) >= 23  # 23 or 25 hours on DST days
    assert _assert_same(rolled, raw, columns, keys) >= 23
    if panel is wifi.WIFI_HOUR_OF_DAY:
        # some hotspots unpicked: their hourly rows instead of the district totals
        some = _context(ctx.start, ctx.end, ctx.interval, timescaledb, ("CR-0001", "CR-0004"))
        rolled = _keyed(_run(conn, _force(panel.sql, ROLLUP_BRANCH), some), *labels)
        raw = _keyed(_run(conn, _force(panel.sql, RAW_BRANCH), some), *labels)
        assert _assert_same(rolled, raw, columns) >= 23


def test_ev_utilisation_beyond_two_days_from_the_connector_rollup_equals_raw_rows(
    seeded: tuple[psycopg.Connection[Any], bool],
) -> None:
    conn, timescaledb = seeded
    start, end = _whole_day()
    ctx = _context(
        start - timedelta(hours=1), end + timedelta(hours=1), timedelta(hours=1), timescaledb
    )
    rolled = _keyed(_run(conn, _force(ev.EV_UTILISATION.sql, ROLLUP_BRANCH), ctx), "time")
    # the raw branch's spans, per local day
    occupied = ", ".join(f"'{s.value}'" for s in OCCUPIED_CONNECTOR_STATES)
    raw = _keyed(
        _run(
            conn,
            f"""WITH spans AS (
  SELECT e.observed_at, e.status, extract(epoch FROM least(
           lead(e.observed_at) OVER (PARTITION BY e.pole_id, e.connector_id
                                     ORDER BY e.observed_at),
           $__timeTo()::timestamptz, now()) - e.observed_at) AS seconds
  FROM ev_readings e WHERE $__timeFilter(e.observed_at)
)
SELECT {common.local_day("observed_at")} AS time,
       100 * sum(seconds) FILTER (WHERE status IN ({occupied})) / sum(seconds) AS occupied
FROM spans GROUP BY 1""",
            ctx,
        ),
        "time",
    )
    assert _assert_same(rolled, raw, ("occupied",), {(start,)}) == 1
    assert 0 < raw[(start,)]["occupied"] < 100
