"""The generated dashboards and alert rules against the domain catalogue.

Every check reads the generated artefact (the dashboard JSON, the provisioning YAML, the
SQL in them) and compares it with `models.catalogue`, never with a second list written
here, so a limit value, a unit, a column, a status value or a health threshold restated
in `dashboards/` fails a test.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import yaml

from dashboards.build import all_dashboards, built_dashboards, dashboard_json
from dashboards.provisioning import generated_files
from dashboards.queries import overview, wifi
from models.catalogue.air_quality import (
    EU_STANDARDS,
    AirQualityStandard,
    Indicator,
    Objective,
    RuleSet,
    standard,
)
from models.catalogue.families import ENV, FAMILIES
from models.catalogue.health import DEFAULT_HEALTH
from models.vocabulary import (
    Capability,
    Connectivity,
    LampStatus,
    OcppErrorCode,
    OcppStatus,
    PowerState,
    WifiStatus,
)
from storage.health_view import VIEW
from storage.queries.aq_official import STATISTICS_COLUMNS
from storage.readmodels.spec import ALL_ROLLUPS, LATEST_TABLES, SETTINGS_TABLE, energy_sum_column
from storage.tables import ENV_HOURLY_TABLE, READING_TABLES

POLLUTANTS = {s.pollutant for s in EU_STANDARDS}
# Drawn on a concentration axis: every standard but AOT40 (a sum in µg/m³·h).
CONCENTRATION_STANDARDS = [s for s in EU_STANDARDS if s.indicator is not Indicator.AOT40]
SHORT_TERM = (Indicator.HOURLY_MEAN, Indicator.DAILY_MEAN, Indicator.MAX_DAILY_8H_MEAN)


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(generated_files()["provisioning/alerting/smartpole.yaml"])
    return [rule for group in document["groups"] for rule in group["rules"]]


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, panel) for name, board in all_dashboards().items() for panel in board["panels"]]


def _all_sql() -> list[tuple[str, str]]:
    """(label, SQL) of every panel target, template variable and alert query."""
    found = []
    for name, board in all_dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                if "rawSql" in target:  # the Operations board's PromQL is checked elsewhere
                    found.append((f"{name}/{panel['title']}", target["rawSql"]))
        for variable in board["templating"].get("list", []):
            if variable.get("query"):
                found.append((f"{name}/${variable['name']}", variable["query"]))
    for rule in _alert_rules():
        found.append((f"alert/{rule['uid']}", rule["data"][0]["model"]["rawSql"]))
    return found


def _steps(panel: dict[str, Any]) -> list[float]:
    thresholds = panel["fieldConfig"]["defaults"].get("thresholds") or {"steps": []}
    return [step["value"] for step in thresholds["steps"] if step["value"] is not None]


def _aliases(sql: str) -> set[str]:
    return set(re.findall(r"\bAS (\w+)", sql))


# --- EU standards ---------------------------------------------------------------------------
def test_every_air_quality_alert_threshold_is_its_catalogue_standard() -> None:
    rules = [r for r in _alert_rules() if r["uid"] in _air_quality_uids()]
    assert rules
    checked = set()
    for rule in rules:
        labels = rule["labels"]
        # the labels name the standard; the catalogue gives its value
        expected = standard(
            labels["pollutant"],
            Indicator(labels["indicator"]),
            RuleSet(labels["rule_set"]),
            Objective(labels["objective"]),
        )
        [condition] = rule["data"][2]["model"]["conditions"]
        assert condition["evaluator"] == {"params": [expected.threshold], "type": "gt"}, rule["uid"]
        sql = rule["data"][0]["model"]["rawSql"]
        assert f" AS {expected.pollutant}\n" in sql, "the rule reads the pollutant it names"
        assert not re.search(rf"\b{expected.threshold:g}\b", sql), "the rule compares, not the SQL"
        # the averaging period of the indicator
        lookback = rule["data"][0]["relativeTimeRange"]["from"]
        assert {
            Indicator.HOURLY_MEAN: lookback >= 3600,
            Indicator.DAILY_MEAN: lookback == 86400,
            Indicator.MAX_DAILY_8H_MEAN: lookback == 8 * 3600,
        }[expected.indicator], rule["uid"]
        checked.add(expected)
    # every short-term standard of the set in force has its rule
    assert checked == {
        s
        for s in EU_STANDARDS
        if s.rule_set is RuleSet.EU_2008
        and s.allowed_exceedances is not None
        and s.indicator in SHORT_TERM
    }


def _air_quality_uids() -> set[str]:
    document = yaml.safe_load(generated_files()["provisioning/alerting/smartpole.yaml"])
    [group] = [g for g in document["groups"] if g["name"] == "air-quality"]
    return {rule["uid"] for rule in group["rules"]}


def test_pollutant_panels_draw_the_catalogue_values() -> None:
    checked = 0
    for name, panel in _panels():
        if panel["type"] != "timeseries":
            continue
        sql = " ".join(t.get("rawSql", "") for t in panel["targets"])
        shown = _aliases(sql) & POLLUTANTS
        steps = _steps(panel)
        if not shown:
            assert steps == [], f"{name}/{panel['title']}: thresholds on a panel of no pollutant"
            continue
        values = {s.threshold for s in CONCENTRATION_STANDARDS if s.pollutant in shown}
        assert set(steps) <= values, f"{name}/{panel['title']}: {steps} not all catalogue values"
        assert steps == sorted(steps)
        if len(shown) == 1:
            # a one-pollutant panel draws every concentration standard of it, and says so
            assert steps == sorted(values), f"{name}/{panel['title']}"
            for value in values:
                assert f"{value:g} µg/m³" in panel["description"], panel["title"]
        checked += 1
    # the Environment dashboard's two panels per pollutant, and the pole's air quality
    assert checked == 2 * len(POLLUTANTS) + 1


def _column_standard(column: str) -> AirQualityStandard:
    """The standard an exceedance column counts, from its name alone."""
    match = re.fullmatch(r"(\w+?)_(hours|days)_over_(limit|target)(?:_(\d{4}))?", column)
    assert match, f"{column} does not name a standard"
    pollutant, counted, objective, year = match.groups()
    rule_set = RuleSet.EU_2030 if year == "2030" else RuleSet.EU_2008
    indicators = (
        (Indicator.HOURLY_MEAN,)
        if counted == "hours"
        else (Indicator.DAILY_MEAN, Indicator.MAX_DAILY_8H_MEAN)
    )
    [found] = [
        s
        for s in EU_STANDARDS
        if s.pollutant == pollutant
        and s.rule_set is rule_set
        and s.objective.value.startswith(objective)
        and s.indicator in indicators
        and s.allowed_exceedances is not None
    ]
    return found


def test_exceedance_table_counts_every_short_term_standard_at_its_catalogue_value() -> None:
    [panel] = [
        p for _, p in _panels() if p["title"] == "EU limit exceedances this year"
    ]  # one table
    sql = panel["targets"][0]["rawSql"]
    overrides = {
        o["matcher"]["options"]: o["properties"] for o in panel["fieldConfig"]["overrides"]
    }
    counted = {}
    for column, properties in overrides.items():
        found = _column_standard(column)
        counted[found] = column
        red = properties[0]["value"]["steps"][1]["value"]
        assert red == found.allowed_exceedances + 1, column  # type: ignore[operator]
        thresholds = re.findall(rf"{found.pollutant} > ([\d.]+)\) AS {column}\b", sql)
        assert [float(t) for t in thresholds] == [found.threshold], column
    assert set(counted) == {
        s for s in EU_STANDARDS if s.allowed_exceedances is not None and s.indicator in SHORT_TERM
    }


# --- units, columns, vocabulary ---------------------------------------------------------------
def _metric_units() -> dict[str, str]:
    units: dict[str, str] = {}
    for spec in FAMILIES.values():
        for field in spec.metrics:
            assert field.unit is not None
            assert units.setdefault(field.column, field.unit.grafana) == field.unit.grafana
    return units


def _shown_metrics(sql: str, units: dict[str, str]) -> dict[str, str]:
    """Output column -> the catalogue metric it shows: the column itself when it is named
    after one (`... AS pm10`), else the field right before `AS` (`avg(e.charging_power)
    AS power`)."""
    shown = {}
    for source, alias in re.findall(r"(?:\w\.)?(\w+)\)*\s+AS\s+(\w+)", sql):
        if alias in units:
            shown[alias] = alias
        elif source in units:
            shown[alias] = source
    return shown


def test_every_metric_a_panel_shows_carries_its_catalogue_unit() -> None:
    units = _metric_units()
    checked = set()
    for built in built_dashboards():
        board = dashboard_json(built.board)
        # the panel's output columns (test_queries checks them against real results)
        for panel, (_, sql) in zip(board["panels"], built.layout.panels, strict=True):
            if sql is None:
                continue
            config = panel.get("fieldConfig", {"defaults": {}, "overrides": []})
            overrides = {
                o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
                for o in config["overrides"]
            }
            shown = _shown_metrics(panel["targets"][0]["rawSql"], units)
            for column in sql.columns:
                if column.name not in shown:
                    continue
                metric = shown[column.name]
                unit = overrides.get(column.name, {}).get("unit", config["defaults"].get("unit"))
                assert unit == units[metric], f"{panel['title']}: {column.name} ({metric})"
                checked.add(metric)
    # every env metric, and the power, energy, dimming and client fields somewhere
    assert checked >= {f.column for f in ENV.metrics} | {
        "charging_power",
        "illuminance_level",
        "connected_clients",
        "active_power",
    }


_TABLE_ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+([a-z_]+)\s+(?:AS\s+)?([a-z])\b")
_CTE = re.compile(r"(?:\bWITH|,)\s+(\w+) AS (?:MATERIALIZED )?\(")


def _readable_columns() -> dict[str, set[str]]:
    """What a query may read of each table: the catalogue's fields and the key columns."""
    readable = {
        READING_TABLES[family]: {"received_at", *spec.key_columns, *spec.value_columns}
        for family, spec in FAMILIES.items()
    }
    rollup = {"pole_id", "bucket", "readings"}
    for field in ENV.metrics:
        rollup |= {f"{field.column}_{part}" for part in ("count", "sum", "min", "max")}
        if field.energetic:
            rollup.add(energy_sum_column(field.column))
    readable[ENV_HOURLY_TABLE] = rollup
    # The writer's read models: every column their spec declares, the latest tables'
    # those of their raw table, and the zone the daily rollups were built in.
    for read_model in ALL_ROLLUPS:
        readable[read_model.table] = {column for column, _ in read_model.columns()}
    for family, latest in LATEST_TABLES.items():
        readable[latest] = readable[READING_TABLES[family]]
    readable[SETTINGS_TABLE] = {"name", "value"}
    # The official statistics the refresh job stores (storage.queries.aq_official).
    readable["aq_statistics"] = {*STATISTICS_COLUMNS, "computed_at"}
    return readable


@pytest.mark.parametrize(("label", "sql"), _all_sql(), ids=[label for label, _ in _all_sql()])
def test_queries_read_only_catalogue_fields_of_known_tables(label: str, sql: str) -> None:
    readable = _readable_columns()
    scanned = re.sub(r"extract\(\w+ FROM", "extract(", sql)
    ctes = set(_CTE.findall(scanned))
    tables = set(re.findall(r"\b(?:FROM|JOIN)\s+(?!LATERAL\b)([a-z_]+)\b(?!\s*\()", scanned))
    assert tables - ctes <= {*readable, "poles", VIEW}, label
    aliases: dict[str, str] = {}
    for table, alias in _TABLE_ALIAS.findall(scanned):
        if table in readable:
            # one alias, one table per query: a reader (and this test) can tell them apart
            assert aliases.setdefault(alias, table) == table, f"{label}: alias {alias}"
    for alias, table in aliases.items():
        read = set(re.findall(rf"\b{alias}\.(\w+)", scanned))
        assert read, f"{label}: nothing read of {table}"
        assert read <= readable[table], f"{label}: {table} has no {read - readable[table]}"


# The vocabulary of each column that panels compare with a literal.
VOCABULARY = {
    "connection": {c.value for c in Connectivity},
    "lamp_status": {s.value for s in LampStatus},
    "power_state": {s.value for s in PowerState},
    "wifi_status": {s.value for s in WifiStatus},
    "error_code": {c.value for c in OcppErrorCode},
    "sensor": {c.value for c in Capability},
    # `status` is the column of three families (OCPP, Wi-Fi, the pole's connection)
    "status": {s.value for s in (*OcppStatus, *WifiStatus, *Connectivity)},
}
_COMPARED = re.compile(
    r"\b(?:\w+\.)?(\w+)\s*(?:=|<>|\bIN\s*\(|\bWHEN\b)\s*((?:'[^']*'(?:\s*,\s*)?)+)"
)


@pytest.mark.parametrize(("label", "sql"), _all_sql(), ids=[label for label, _ in _all_sql()])
def test_status_literals_are_catalogue_vocabulary(label: str, sql: str) -> None:
    for column, values in _COMPARED.findall(sql):
        if column in VOCABULARY:
            for value in re.findall(r"'([^']*)'", values):
                assert value in VOCABULARY[column], f"{label}: {column} = {value!r}"
    # CASE <sensor> WHEN '<capability>' ...
    for values in re.findall(r"CASE s\.sensor((?: WHEN '\w+' THEN [\w.]+)+)", sql):
        assert set(re.findall(r"'(\w+)'", values)) == VOCABULARY["sensor"], label


def test_wifi_status_panel_lists_the_whole_vocabulary() -> None:
    assert sorted(wifi.STATUS_ORDER) == sorted(WifiStatus)


# --- health: the view's verdict, never a threshold of our own -----------------------------------
_INTERVAL_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _intervals(sql: str) -> list[timedelta]:
    return [
        timedelta(seconds=int(n) * _INTERVAL_UNITS[unit])
        for n, unit in re.findall(r"interval '(\d+) (second|minute|hour|day)s?'", sql)
    ]


@pytest.mark.parametrize(("label", "sql"), _all_sql(), ids=[label for label, _ in _all_sql()])
def test_no_health_threshold_is_written_into_the_sql(label: str, sql: str) -> None:
    thresholds = {DEFAULT_HEALTH.offline_after, DEFAULT_HEALTH.stale_sensor_after}
    assert not set(_intervals(sql)) & thresholds, label
    for threshold in thresholds:
        assert not re.search(rf"\b{int(threshold.total_seconds())}\b", sql), label
        assert "make_interval" not in sql, label


HEALTH_SQL = [
    ("overview/counts", overview.OVERVIEW_COUNTS.sql),
    ("overview/map", overview.OVERVIEW_MAP.sql),
    ("overview/problems", overview.OVERVIEW_PROBLEMS.sql),
    ("overview/freshness", overview.OVERVIEW_FRESHNESS.sql),
]


def test_health_panels_and_fleet_alerts_read_the_view_and_judge_nothing() -> None:
    judged = {
        "alert/smartpole-pole-offline",
        "alert/smartpole-sensor-stale",
        "alert/smartpole-lamp-defective",
    }
    queries = HEALTH_SQL + [(label, sql) for label, sql in _all_sql() if label in judged]
    assert len(queries) == len(HEALTH_SQL) + len(judged)
    for label, sql in queries:
        assert f"FROM {VIEW} p" in sql, label
        # no time arithmetic, no reading table: the view already decided
        assert "now()" not in sql and "interval" not in sql, label
        assert not set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", sql)) & set(READING_TABLES.values())
    # the charger rule takes the faulted connectors from the view as well
    [charger] = [sql for label, sql in _all_sql() if label == "alert/smartpole-charger-faulted"]
    assert "p.charger_faults @>" in charger and f"JOIN {VIEW} p" in charger
