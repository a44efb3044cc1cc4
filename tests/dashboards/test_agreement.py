"""The API and Grafana judge the same pole the same way.

One database, one set of poles covering every health state, and two judges: the live
API (`/v1/health/poles` on a real uvicorn) and the generated SQL of the City overview
and the fleet alerts, expanded as Grafana expands it. Offline, never heard from, stale
sensors and faults must agree per pole, under the default thresholds and under tuned
ones that `smartpole db migrate` would write (a panel or alert that restated a threshold
instead of reading the view disagrees in the tuned run).
"""

# S608: test SQL assembled from constant fragments, no values.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from config.services import ApiSettings
from dashboards import alerts
from dashboards.boards.common import DEFAULT_TIMEZONE
from dashboards.queries import overview
from dashboards.sql import ColumnKind, PanelSql
from models.catalogue.health import DEFAULT_HEALTH, HealthThresholds
from storage.health_view import write_thresholds
from storage.readmodels.rebuild import rebuild_latest
from tests.api.conftest import run_api
from tests.dashboards.grafana_macros import QueryContext, Variable, expand

# (pole, capabilities, status, last seen minutes ago or None): positions near the town hall
POLES = (
    ("OK", "{env,light,wifi,ev}", "online", 0.5),
    ("WILL", "{env,light}", "offline", 1),  # last-will a minute ago
    ("SILENT10", "{env}", "online", 10),  # offline only with the tuned 5-minute threshold
    ("SILENT120", "{env,light}", "online", 120),  # offline under any threshold
    ("NEW", "{env,light}", "unknown", None),  # registered, never heard from
    ("STALE", "{env,light,wifi}", "online", 0.5),  # env quiet 1 h, lamp and Wi-Fi faults
    ("STALE20", "{env,light}", "online", 0.5),  # light quiet 20 min: stale only when tuned
    ("EV", "{ev,status}", "online", 0.5),  # one Faulted, one error code, one fine, one gone
    ("DOWN", "{light}", "offline", 3),  # offline with a defective lamp: no "faulted"
    ("TWICE", "{env,env}", "online", 0.5),  # a capability listed twice
)
SETUP = (
    f"""INSERT INTO poles (pole_id, district, latitude, longitude, capabilities, status,
                       first_seen, last_seen, last_observed_at)
SELECT pole_id, 'Mitte', 52.5 + n / 1000.0, 13.4, caps::text[], status,
       now() - interval '30 days',
       now() - make_interval(secs => ago * 60), now() - make_interval(secs => ago * 60)
FROM (VALUES {
        ", ".join(
            f"({i}, '{p}', '{c}', '{s}', {'NULL' if a is None else a})"
            for i, (p, c, s, a) in enumerate(POLES)
        )
    })
     AS v(n, pole_id, caps, status, ago)""",
    # env every 5 minutes for 2 hours, except where a pole went quiet
    """INSERT INTO env_readings (pole_id, observed_at, received_at, pm10)
SELECT pole_id, t, t, 20
FROM unnest(ARRAY['OK', 'WILL', 'SILENT10', 'SILENT120', 'STALE', 'STALE20', 'TWICE'])
     AS pole_id
CROSS JOIN generate_series(now() - interval '2 hours', now(), interval '5 minutes') AS t
WHERE NOT (pole_id = 'STALE' AND t > now() - interval '1 hour')
  AND NOT (pole_id = 'SILENT10' AND t > now() - interval '10 minutes')
  AND NOT (pole_id = 'SILENT120')""",
    """INSERT INTO light_readings (pole_id, observed_at, received_at, power_state, lamp_status)
VALUES ('OK', now() - interval '1 minute', now(), 'off', 'ok'),
       ('WILL', now() - interval '2 minutes', now(), 'off', 'ok'),
       ('STALE', now() - interval '1 minute', now(), 'on', 'defectiveLamp'),
       ('STALE20', now() - interval '20 minutes', now(), 'off', 'ok'),
       ('DOWN', now() - interval '5 minutes', now(), 'on', 'brokenLantern')""",
    """INSERT INTO wifi_readings (pole_id, observed_at, received_at, status, connected_clients)
VALUES ('OK', now() - interval '1 minute', now(), 'up', 3),
       ('STALE', now() - interval '1 minute', now(), 'down', 0)""",
    """INSERT INTO ev_readings (pole_id, connector_id, observed_at, received_at, status,
                             error_code)
VALUES ('OK', 1, now() - interval '1 minute', now(), 'Available', 'NoError'),
       ('EV', 1, now() - interval '1 minute', now(), 'Faulted', 'NoError'),
       ('EV', 2, now() - interval '1 minute', now(), 'Available', 'HighTemperature'),
       ('EV', 3, now() - interval '1 minute', now(), 'Charging', 'NoError'),
       ('EV', 4, now() - interval '8 days', now() - interval '8 days', 'Faulted',
        'GroundFailure')""",
)
TUNED = HealthThresholds(
    offline_after=timedelta(minutes=5), stale_sensor_after=timedelta(minutes=10)
)


@dataclass(frozen=True)
class Verdicts:
    """Per pole: connection, stale sensors, lamp fault, hotspot fault, faulted connectors."""

    connection: dict[str, str]
    stale: set[tuple[str, str]]
    lamp: set[str]
    hotspot: set[str]
    chargers: set[tuple[str, int]]


@pytest.fixture
def database(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in SETUP:
            conn.execute(statement.encode())
        # The newest readings the writer would keep for these rows (SETUP writes the
        # raw tables directly), which the pole_health view reads.
        rebuild_latest(conn)
        yield conn


def _api(http: httpx.Client) -> Verdicts:
    items: list[dict[str, Any]] = []
    url: str | None = "/v1/health/poles?limit=3"  # small pages: the cursor is followed
    while url:
        page = http.get(url).raise_for_status().json()
        items += page["items"]
        url = page["next"]
    return Verdicts(
        connection={i["pole_id"]: i["connection"] for i in items},
        stale={(i["pole_id"], s) for i in items for s in i["stale_sensors"]},
        lamp={i["pole_id"] for i in items if i["lamp_fault"]},
        hotspot={i["pole_id"] for i in items if i["hotspot_fault"]},
        chargers={(i["pole_id"], c["connector_id"]) for i in items for c in i["charger_faults"]},
    )


def _rows(conn: psycopg.Connection[Any], sql: PanelSql, *, alert: bool) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    ctx = QueryContext(
        now - timedelta(hours=6),
        now + timedelta(minutes=1),
        timedelta(minutes=1),
        {} if alert else {"tz": Variable((DEFAULT_TIMEZONE,))},
        timescaledb=False,
    )
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(expand(sql.sql, ctx, dashboard=not alert).encode())
        return cur.fetchall()


def _firing(conn: psycopg.Connection[Any], uid: str) -> list[dict[str, Any]]:
    [rule] = [r for r in alerts.RULES if r.uid == uid]
    value = next(c.name for c in rule.sql.columns if c.kind is ColumnKind.NUMBER)
    return [row for row in _rows(conn, rule.sql, alert=True) if row[value] > rule.threshold]


def _grafana(conn: psycopg.Connection[Any]) -> Verdicts:
    """The same verdicts as the alert rules see them."""
    offline = {r["pole_id"] for r in _firing(conn, "smartpole-pole-offline")}
    health = {r["pole_id"]: r["health"] for r in _rows(conn, overview.OVERVIEW_MAP, alert=False)}
    connection = {
        pole: "offline" if pole in offline else "unknown" if state == "never heard from" else ""
        for pole, state in health.items()
    }
    return Verdicts(
        connection=connection,
        stale={(r["pole_id"], r["sensor"]) for r in _firing(conn, "smartpole-sensor-stale")},
        lamp={r["pole_id"] for r in _firing(conn, "smartpole-lamp-defective")},
        hotspot=set(),  # no hotspot alert: the map and problem list are checked below
        chargers={
            (r["pole_id"], int(r["connector"])) for r in _firing(conn, "smartpole-charger-faulted")
        },
    )


def _assert_agree(conn: psycopg.Connection[Any], api: Verdicts) -> None:
    grafana = _grafana(conn)
    assert set(grafana.connection) == set(api.connection), "every pole on the map"
    for pole, connection in api.connection.items():
        if connection in ("offline", "unknown"):
            assert grafana.connection[pole] == connection, pole
        else:
            assert grafana.connection[pole] == "", f"{pole}: Grafana says {grafana.connection}"
    assert grafana.stale == api.stale
    assert grafana.lamp == api.lamp
    assert grafana.chargers == api.chargers

    # the overview's map, counts and problem list say the same
    online = {p for p, c in api.connection.items() if c == "online"}
    faulted = online & (api.lamp | api.hotspot | {p for p, _ in api.chargers})
    stale = {p for p, _ in api.stale}
    health = {r["pole_id"]: r["health"] for r in _rows(conn, overview.OVERVIEW_MAP, alert=False)}
    for pole in api.connection:
        expected = (
            "offline"
            if api.connection[pole] == "offline"
            else "never heard from"
            if api.connection[pole] == "unknown"
            else "faulted"
            if pole in faulted
            else "sensor stale"
            if pole in stale
            else "ok"
        )
        assert health[pole] == expected, pole
    [counts] = _rows(conn, overview.OVERVIEW_COUNTS, alert=False)
    assert counts == {
        "online": len(online),
        "offline": sum(c == "offline" for c in api.connection.values()),
        "faulted": len(faulted),
        "sensor_stale": len(stale),
        "never_heard": sum(c == "unknown" for c in api.connection.values()),
    }
    problems = {
        (r["pole_id"], r["problem"]) for r in _rows(conn, overview.OVERVIEW_PROBLEMS, alert=False)
    }
    assert {p for p, problem in problems if problem == "pole offline"} == {
        p for p, c in api.connection.items() if c == "offline"
    }
    assert {(p, problem.split()[0]) for p, problem in problems if "sensor stale" in problem} == (
        api.stale
    )
    assert {p for p, problem in problems if problem.startswith("lamp ")} == api.lamp & online
    assert {p for p, problem in problems if problem.startswith("Wi-Fi ")} == api.hotspot & online
    assert {
        (p, int(problem.split()[1].rstrip(":")))
        for p, problem in problems
        if problem.startswith("connector ")
    } == {(p, c) for p, c in api.chargers if p in online}


def test_api_and_grafana_agree_on_every_pole(
    database: psycopg.Connection[Any], database_url: str
) -> None:
    settings = ApiSettings(database_url=database_url, api_cache_ttl_s=0)  # type: ignore[arg-type]
    with run_api(settings) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        default = _api(http)
        _assert_agree(database, default)
        # the seed shows every state under the default thresholds
        assert default.connection == {
            "OK": "online",
            "WILL": "offline",
            "SILENT10": "online",
            "SILENT120": "offline",
            "NEW": "unknown",
            "STALE": "online",
            "STALE20": "online",
            "EV": "online",
            "DOWN": "offline",
            "TWICE": "online",
        }
        assert default.stale == {("STALE", "env")}
        assert default.lamp == {"STALE", "DOWN"}
        assert default.hotspot == {"STALE"}
        assert default.chargers == {("EV", 1), ("EV", 2)}

        # an operator tunes the thresholds; migrate writes them where both sides read
        write_thresholds(database, TUNED)
        tuned = _api(http)
        assert tuned.connection["SILENT10"] == "offline"
        assert ("STALE20", "light") in tuned.stale
        _assert_agree(database, tuned)

        write_thresholds(database, DEFAULT_HEALTH)
        assert _api(http) == default
