"""The committed dashboards and provisioning files are exactly what the code generates,
and they are internally consistent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from config.services import DashboardSettings
from dashboards import alerts
from dashboards.build import all_dashboards
from dashboards.cli import run_build
from dashboards.panels import FOLDER_TITLE, FOLDER_UID, GRID_COLUMNS
from dashboards.promql import PROMETHEUS_DATASOURCE_UID, PROMETHEUS_PLUGIN_ID
from dashboards.provisioning import PACKAGE_DIR, generated_files
from dashboards.sql import DATASOURCE_UID, POSTGRES_PLUGIN_ID
from smartpole.cli import build_parser
from tests.dashboards.grafana_macros import (
    MacroError,
    QueryContext,
    Variable,
    expand,
    format_interval,
    rfc3339_nano,
)

PANELS_WITHOUT_QUERIES = {"alertlist"}


def test_committed_files_equal_generated() -> None:
    generated = generated_files()
    for relative, content in generated.items():
        committed = PACKAGE_DIR / relative
        assert committed.is_file(), f"{relative} missing: run `smartpole dashboards build`"
        assert committed.read_text(encoding="utf-8") == content, (
            f"{relative} is stale: run `smartpole dashboards build`"
        )
    committed_json = {f"json/{p.name}" for p in (PACKAGE_DIR / "json").glob("*.json")}
    assert committed_json == {r for r in generated if r.startswith("json/")}


def test_build_check_command_agrees() -> None:
    args = build_parser().parse_args(["dashboards", "build", "--check"])
    assert run_build(args, DashboardSettings(timezone="Europe/Berlin")) == 0


def test_generation_is_deterministic() -> None:
    assert generated_files() == generated_files()


@pytest.mark.parametrize("name", sorted(all_dashboards()))
def test_panels_use_the_provisioned_datasource_and_sane_grid(name: str) -> None:
    board = all_dashboards()[name]
    panels: list[dict[str, Any]] = board["panels"]
    assert panels
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, int) and i > 0 for i in ids)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["y"] >= 0
        assert pos["x"] + pos["w"] <= GRID_COLUMNS, panel["title"]
        area = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area
        if panel["type"] in PANELS_WITHOUT_QUERIES:
            assert "targets" not in panel
            continue
        assert panel["targets"], panel["title"]
        if name == "operations.json":  # the one board on Prometheus
            assert panel["datasource"] == {
                "type": PROMETHEUS_PLUGIN_ID,
                "uid": PROMETHEUS_DATASOURCE_UID,
            }
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"]
                assert target["expr"].strip() and "rawSql" not in target
            continue
        assert panel["datasource"] == {"type": POSTGRES_PLUGIN_ID, "uid": DATASOURCE_UID}
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            assert target["rawSql"].strip()
    for variable in board["templating"].get("list", []):
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE_UID
    assert board["uid"].startswith("smartpole-")


def test_provisioning_references_agree() -> None:
    files = generated_files()
    datasource = yaml.safe_load(files["provisioning/datasources/smartpole.yaml"])
    source, prometheus = datasource["datasources"]
    assert prometheus["uid"] == PROMETHEUS_DATASOURCE_UID
    assert prometheus["type"] == PROMETHEUS_PLUGIN_ID
    assert prometheus["url"] == "${SMARTPOLE_GRAFANA_PROMETHEUS_URL}"
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == POSTGRES_PLUGIN_ID
    assert source["jsonData"]["timescaledb"] is True
    # the secret comes from Grafana's environment, never from the repository
    assert source["secureJsonData"]["password"] == "${SMARTPOLE_GRAFANA_DB_PASSWORD}"
    provider = yaml.safe_load(files["provisioning/dashboards/smartpole.yaml"])
    assert provider["providers"][0]["folderUid"] == FOLDER_UID
    rules = yaml.safe_load(files["provisioning/alerting/smartpole.yaml"])
    uids = []
    for group in rules["groups"]:
        assert group["folder"] == FOLDER_TITLE
        for rule in group["rules"]:
            uids.append(rule["uid"])
            refs = [d["refId"] for d in rule["data"]]
            assert rule["condition"] in refs
            query = rule["data"][0]
            assert query["datasourceUid"] == DATASOURCE_UID
            assert query["model"]["format"] == "table"
            assert query["relativeTimeRange"]["from"] > 0
            # alert queries run without a dashboard: no template variables
            assert "$district" not in query["model"]["rawSql"]
            assert "'$tz'" not in query["model"]["rawSql"]
    assert len(set(uids)) == len(uids) == len(alerts.RULES)
    # uids are the rules' identities in Grafana: they must survive a rebuild
    assert set(uids) >= {
        "smartpole-pole-offline",
        "smartpole-sensor-stale",
        "smartpole-pm10-over-limit",
        "smartpole-no2-over-limit",
        "smartpole-o3-over-target",
        "smartpole-charger-faulted",
        "smartpole-lamp-defective",
        "smartpole-lamp-day-burning",
    }


def test_dashboards_round_trip_through_json() -> None:
    for board in all_dashboards().values():
        assert json.loads(json.dumps(board)) == board


# --- the macro expander itself, against Grafana's documented expansions -----------------
CTX = QueryContext(
    datetime(2017, 4, 21, 5, 1, 17, tzinfo=UTC),
    datetime(2017, 4, 21, 5, 6, 17, 500000, tzinfo=UTC),
    timedelta(minutes=5),
    {
        "one": Variable(("a'b",)),
        "many": Variable(("x", "y'z"), multi=True, include_all=True),
    },
    timescaledb=False,
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("$__timeFilter(t)", "t BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17.5Z'"),
        ("$__timeFrom()", "'2017-04-21T05:01:17Z'"),
        ("$__timeGroup(t, '5m')", "floor(extract(epoch from t)/300)*300"),
        ("$__timeGroup(t,5m), v", 'floor(extract(epoch from t)/300)*300 AS "time", v'),
        ("$__timeGroupAlias(t, $__interval)", 'floor(extract(epoch from t)/300)*300 AS "time"'),
        ("$__timeGroupAlias(t, 1h, 0)", 'floor(extract(epoch from t)/3600)*3600 AS "time"'),
        ("$__interval_ms $__interval", "300000 5m"),
        ("'$one'", "'a''b'"),
        ("IN ($many)", "IN ('x','y''z')"),
        ("${many:csv}", "x,y'z"),
        ("${many:sqlstring}", "'x','y''z'"),
        ("[[one]]", "a''b"),
        ("$__unixEpochFilter(e)", "e >= 1492750877 AND e <= 1492751177"),
    ],
)
def test_expander_matches_grafana(sql: str, expected: str) -> None:
    assert expand(sql, CTX) == expected


@pytest.mark.parametrize(
    "sql", ["$__timeGroup(t)", "$__timeGroup(t, 5 parsecs)", "$__nope(x)", "$undefined_var"]
)
def test_expander_rejects_what_grafana_rejects(sql: str) -> None:
    with pytest.raises(MacroError):
        expand(sql, CTX)


def test_interval_and_time_formats() -> None:
    assert format_interval(timedelta(hours=1)) == "1h"
    assert format_interval(timedelta(days=2)) == "2d"
    assert format_interval(timedelta(milliseconds=250)) == "250ms"
    assert rfc3339_nano(datetime(2026, 1, 1, 1, tzinfo=UTC)) == "2026-01-01T01:00:00Z"
